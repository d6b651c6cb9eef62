"""What the printed-command and flag tests run commands against: a started instance, a
scratch working folder holding the files the examples name, a `portcullis` on PATH that logs
each exit code (so a parse error inside a pipe or $(...) is still seen), and the table of
concrete values that stand in for the placeholders the documentation prints."""

import json
import os
import re
import shlex
import stat
import subprocess
import time
import tomllib

import harness
from cli_help import is_parse_error

# The device and files every example may name. laptop-7 has a valid certificate;
# lost-devices.txt names two devices that exist, so `revoke --devices-from` has work to do.
DEVICE = "laptop-7"
LOST_DEVICES = ("lost-1", "lost-2")

_WRAPPER = """#!/bin/sh
"$PORTCULLIS_REAL_BIN" "$@"
rc=$?
printf '%s\\t%s\\n' "$rc" "$*" >>"$PORTCULLIS_RC_LOG"
exit $rc
"""


class Outcome:
    def __init__(self, line, returncode, stdout, stderr, calls):
        self.line, self.returncode, self.stdout, self.stderr = line, returncode, stdout, stderr
        self.calls = calls              # [(exit code, "args")] of every portcullis run by the line

    def parse_errors(self):
        return [(rc, args) for rc, args in self.calls if is_parse_error(rc)]

    def describe(self):
        return (f"`{self.line}` exited {self.returncode}\n  portcullis calls: {self.calls}\n"
                f"  stdout: {self.stdout[-800:]}\n  stderr: {self.stderr[-800:]}")


class Workspace:
    def __init__(self, test):
        self.test = test
        self.inst = test.instance()
        self.binary = os.path.abspath(self.inst.bin) if os.sep in self.inst.bin else self.inst.bin
        self.cwd = os.path.join(test.workdir, "cwd")
        os.makedirs(self.cwd)
        self._fresh = 0
        self._make_wrapper()
        self._make_fixtures()

    # --- setup
    def _make_wrapper(self):
        self.bin_dir = os.path.join(self.test.workdir, "bin")
        os.makedirs(self.bin_dir)
        wrapper = os.path.join(self.bin_dir, "portcullis")
        with open(wrapper, "w") as f:
            f.write(_WRAPPER)
        os.chmod(wrapper, stat.S_IRWXU)
        self.rc_log = os.path.join(self.test.workdir, "portcullis-calls.log")
        open(self.rc_log, "w").close()

    def _make_fixtures(self):
        _, self.csr = harness.make_key_and_csr(self.cwd, DEVICE, f"{DEVICE}.corp.example")
        issued = json.loads(self.inst.cli("--json", "issue", "--csr", self.csr, "--device", DEVICE).stdout)
        self.serial = issued["serial"]
        for name in LOST_DEVICES:
            self.inst.cli("devices", "add", name)
        self.device_list = os.path.join(self.cwd, "lost-devices.txt")
        with open(self.device_list, "w") as f:
            f.write("\n".join(LOST_DEVICES) + "\n")
        # A CA certificate, its key and a chain: real PEM files where a command wants files.
        self.pem_cert = self.inst.ca("issuing.pem")
        self.pem_chain = self.inst.ca("root.pem")
        self.pem_key = os.path.join(self.cwd, "some.key")
        harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", self.pem_key])

    def fresh_dir(self, stem="data"):
        """A path that does not exist yet (init refuses an existing folder)."""
        self._fresh += 1
        return os.path.join(self.test.workdir, f"{stem}-{self._fresh}")

    def fresh_name(self):
        """A device name no device has yet."""
        self._fresh += 1
        return f"fresh-device-{self._fresh}"

    # --- placeholders
    def placeholders(self):
        """Concrete stand-ins for the words the documentation prints in capitals (or <name>):
        the device, serial and files the fixture made, a fresh folder for init."""
        return {
            "DEVICE": DEVICE, "D": DEVICE, "NAME": "newcomer-1", "SERIAL": self.serial, "HEX": self.serial,
            "ID": "1", "S": "corp-wifi", "SSID": "corp-wifi", "CN": f"{DEVICE}.corp.example", "P": "device",
            "PROFILE": "device", "R": "lost", "O": "ana", "G": "staff", "ADDR": "127.0.0.1",
            "DATE": "2030-01-01", "TIME": "2030-01-01T10:30", "T": "Wireless-802.11", "N": "18080",
            "CSR": self.csr, "C": self.pem_cert, "K": self.pem_key, "CH": self.pem_chain,
            "CERT": self.pem_cert, "KEY": self.pem_key, "CHAIN": self.pem_chain,
            "ISSUING.pem": self.pem_cert, "CHAIN.pem": self.pem_chain, "TOKEN": self.inst.token,
            "COMMAND": "devices",
        }

    # FILE means a different file after each option.
    def file_for(self, option):
        return {"--csr": self.csr, "--devices-from": self.device_list,
                "--out": os.path.join(self.test.workdir, "out.txt"), "--key": self.pem_key,
                "--issuing-key": self.pem_key, "--chain": self.pem_chain,
                "--issuing-chain": self.pem_chain}.get(option, self.pem_cert)

    def substitute(self, line, extra=None):
        """The line with each placeholder word replaced: a word in capitals from the table
        (also as the head of a path, DIR/portcullis.toml), or <word>; FILE by the option
        before it; DIR by a fresh folder, the same one throughout the line."""
        table = dict(self.placeholders(), **(extra or {}))
        if "DIR" not in table and re.search(r"(?<![\w.-])<?DIR>?(?![\w-])", line):
            table["DIR"] = self.fresh_dir()

        def replace(match):
            word = match.group(0)
            key = word[1:-1].upper() if word.startswith("<") else word
            if key == "FILE":
                before = re.findall(r"--[\w-]+", line[: match.start()])
                return self.file_for(before[-1] if before else "")
            return table.get(key, word)

        keys = sorted(set(table) | {"FILE"}, key=len, reverse=True)
        pattern = r"<[\w.-]+>|(?<![\w.$-])(?:" + "|".join(map(re.escape, keys)) + r")(?![\w-])"
        return self._files_in_scratch(re.sub(pattern, replace, line))

    # Options whose value must be an existing file (CLI11 ExistingFile), and those that
    # write one.
    _INPUT_FILES = ("--csr", "--cert", "--key", "--chain", "--issuing-cert", "--issuing-key", "--issuing-chain",
                    "--devices-from")

    def _files_in_scratch(self, line):
        """A file a recipe names that this scratch folder does not hold (`--csr server.csr`)
        becomes the fixture's file for that option, and a folder or output outside the
        test's folder (`--dir /var/lib/portcullis`) a fresh one inside it: the test never
        writes outside its folder."""
        def replace(match):
            option, value = match.group(1), match.group(2)
            path = value.strip("'\"")
            if option in self._INPUT_FILES and "$" not in path and not os.path.exists(os.path.join(self.cwd, path)):
                return f"{option} {self.file_for(option)}"
            if option in ("--dir", "--out") and os.path.isabs(path) and not path.startswith(self.test.workdir):
                fresh = self.fresh_dir() if option == "--dir" else os.path.join(self.test.workdir, "out.txt")
                return f"{option} {fresh}"
            return match.group(0)

        return re.sub(r"(--[\w-]+)[ =]('[^']*'|\"[^\"]*\"|[^\s;|&>]+)", replace, line)

    # --- running
    def env(self, **extra):
        env = dict(os.environ, PATH=self.bin_dir + os.pathsep + os.environ["PATH"],
                   PORTCULLIS_REAL_BIN=self.binary, PORTCULLIS_RC_LOG=self.rc_log,
                   PORTCULLIS_CONFIG=self.inst.config)
        env.update(extra)
        return env

    def run_line(self, line, timeout=60, env=None):
        """One command line through bash (pipes, $(...), redirections work as printed)."""
        start = os.path.getsize(self.rc_log)
        proc = subprocess.run(["bash", "-c", line], cwd=self.cwd, env=env or self.env(), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        with open(self.rc_log) as f:
            f.seek(start)
            calls = [(int(rc), args) for rc, args in (entry.split("\t", 1) for entry in f.read().splitlines())]
        return Outcome(line, proc.returncode, proc.stdout, proc.stderr, calls)

    def run_serve(self, line, timeout=20):
        """A `serve` line: start it, wait for its admin health check, stop it with SIGTERM.
        An Outcome whose returncode is serve's (0 after a clean stop)."""
        argv = shlex.split(line)
        argv[0] = self.binary
        health = _health_probe(_config_of(argv) or self.inst.config)
        proc = subprocess.Popen(argv, cwd=self.cwd, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        healthy = False
        try:
            deadline = time.time() + timeout
            while time.time() < deadline and proc.poll() is None and not healthy:
                healthy = subprocess.run(health, capture_output=True).returncode == 0
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.terminate()
            out, err = proc.communicate(timeout=30)
        code = proc.returncode
        if not healthy and code <= 0:  # stopped by us before it ever answered
            code = 1
        return Outcome(line, code, out, err + ("" if healthy else "\n(never answered its health check)"),
                       [(proc.returncode, line)])


def _config_of(argv):
    for i, word in enumerate(argv[:-1]):
        if word == "--config":
            return argv[i + 1]
    return None


def _health_probe(config_path):
    """curl for the admin API health check of the service `config_path` describes."""
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    admin = config.get("admin", {})
    scheme = "https" if admin.get("tls", False) else "http"
    ca_dir = os.path.join(os.path.dirname(config_path), config.get("ca", {}).get("dir", "ca"))
    return ["curl", "-fsS", "--cacert", os.path.join(ca_dir, "root.pem"),
            f"{scheme}://localhost:{admin.get('port', 8443)}/api/v1/health"]

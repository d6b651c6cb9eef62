"""Integration harness: starts the real `portcullis` binary on free loopback ports, drives
it with its own CLI and with real peers (openssl, curl), and prints the server log when a
test fails. Python standard library only."""

import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("PORTCULLIS_BIN", "portcullis")
SERVICE_DEVICE = "portcullis-service"
SERVICE_PROFILES = {"scep-ra", "eap-server", "admin-server"}


def _ephemeral_range():
    """The kernel's range for clients' source ports (Linux: 32768-60999 by default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(base, count):
    for p in range(base, base + count):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    return False
    return True


def free_port(count=1):
    """A port P such that P..P+count-1 are free on 127.0.0.1 for TCP and UDP (the
    freeradius package may hold 1812/1813/18120, and CI runs other things too).

    Drawn at random below the kernel's ephemeral range: a port the kernel hands out (bind
    to 0) can be taken, between this check and the server's bind, as the source port of
    any client connecting meanwhile (curl, eapol_test, another test's CLI), which made a
    `serve` fail with "Address already in use" now and then."""
    low, _ = _ephemeral_range()
    top = min(low, 65536) - count
    if top > 10000:
        rng = random.SystemRandom()
        for _ in range(200):
            base = rng.randrange(10000, top)
            if _bindable(base, count):
                return base
    for _ in range(200):   # no room below the range: the kernel's choice, checked
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count <= 65536 and _bindable(base, count):
            return base
    raise RuntimeError("no free port found")


def nas_secret(inst):
    """The shared secret of the first [[radius.clients]] entry `init` wrote."""
    with open(inst.config) as f:
        text = f.read()
    block = text[text.index("[[radius.clients]]"):]
    return re.search(r'^secret = "([^"]+)"', block, re.M).group(1)


def run(cmd, check=True, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def eventually(probe, done, timeout=5):
    """probe() until done(its result) or the timeout, and that last result: for rows that a
    writer thread stores just after the answer (RADIUS accounting, sessions, audit)."""
    deadline = time.time() + timeout
    while True:
        result = probe()
        if done(result) or time.time() > deadline:
            return result
        time.sleep(0.05)


def corporate_root(folder):
    """A corporate root made with openssl, as an enterprise PKI would have, and the
    extensions file for the sub CAs it signs (sign_sub_ca)."""
    d = os.path.join(folder, "corp")
    os.makedirs(d)
    key = os.path.join(d, "root.key")
    cert = os.path.join(d, "root.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", cert, "-subj", "/O=Example Corp/CN=Example Corp Root", "-days", "3650",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    ext = os.path.join(d, "sub.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,"
                "digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    return d, key, cert, ext


def sign_sub_ca(root_key, root_cert, ext, csr, out):
    run(["openssl", "x509", "-req", "-in", csr, "-CA", root_cert, "-CAkey", root_key, "-CAcreateserial",
         "-days", "1825", "-extfile", ext, "-out", out])


def make_key_and_csr(folder, name, cn, key="ec", extra_config=""):
    """An openssl-made key and CSR. key: 'ec' (P-256), 'rsa2048', 'rsa1024'."""
    key_path = os.path.join(folder, f"{name}.key")
    csr_path = os.path.join(folder, f"{name}.csr")
    if key == "ec":
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key_path])
    else:
        bits = key.removeprefix("rsa")
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", key_path])
    cmd = ["openssl", "req", "-new", "-key", key_path, "-subj", f"/CN={cn}", "-out", csr_path]
    if extra_config:
        cfg = os.path.join(folder, f"{name}.cnf")
        with open(cfg, "w") as f:
            f.write("[req]\ndistinguished_name=dn\nreq_extensions=ext\n[dn]\n[ext]\n" + extra_config)
        cmd += ["-config", cfg]
    run(cmd)
    return key_path, csr_path


def issue_through_cli(inst, folder, device, cn=None):
    """A key and a certificate for `device` from `portcullis issue` (faster than SCEP, for the
    tests where enrollment is not the point): (key path, certificate path)."""
    key, csr = make_key_and_csr(folder, device, cn or device)
    cert = os.path.join(folder, f"{device}.pem")
    with open(cert, "w") as f:
        f.write(inst.cli("issue", "--csr", csr, "--device", device).stdout)
    return key, cert


def serial_of(pem_path):
    """The certificate's serial as openssl prints it (uppercase hex)."""
    return run(["openssl", "x509", "-in", pem_path, "-noout", "-serial"]).stdout.strip().split("=")[1]


class Instance:
    """One Portcullis data folder and, while started, one `serve` process."""

    def __init__(self, workdir, init_args=(), binary=None):
        self.bin = binary or BIN  # benchmarks compare two builds; tests use BIN
        self.workdir = workdir
        self.dir = os.path.join(workdir, "data")
        self.http_port = free_port()
        self.admin_port = free_port()
        self.radius_port = free_port(2)
        self.log_path = os.path.join(workdir, "serve.log")
        self.proc = None
        self.log_file = None
        run([self.bin, "init", "--dir", self.dir, "--http-port", str(self.http_port),
             "--admin-port", str(self.admin_port), "--radius-port", str(self.radius_port),
             "--hostname", "localhost", *init_args])
        self.config = os.path.join(self.dir, "portcullis.toml")
        with open(os.path.join(self.dir, "admin.token")) as f:
            self.token = f.read().strip()

    # --- process
    def start(self, wait=True):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.bin, "--config", self.config, "serve"], stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"portcullis serve exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                status, _ = self.http("GET", "/api/v1/health", admin=True, auth=False)
                if status == 200:
                    return
            time.sleep(0.05)
        raise AssertionError("portcullis serve did not become ready")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("portcullis serve did not stop within %ds" % timeout)
        code = self.proc.returncode
        self.proc = None
        self.log_file.close()
        return code

    def log(self):
        with contextlib.suppress(OSError):
            with open(self.log_path, errors="replace") as f:
                return f.read()
        return ""

    # --- clients
    def cli(self, *args, check=True, env=None):
        return run([self.bin, "--config", self.config, *args], check=check, env=env)

    def http(self, method, path, body=None, headers=None, admin=False, auth=True, timeout=30):
        port = self.admin_port if admin else self.http_port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        h = dict(headers or {})
        if admin and auth:
            h.setdefault("Authorization", "Bearer " + self.token)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def api(self, method, path, body=None, expect=None, **kw):
        status, data = self.http(method, "/api/v1" + path, body=body, admin=True, **kw)
        parsed = json.loads(data) if data else None
        if expect is not None and status != expect:
            raise AssertionError(f"{method} {path}: expected {expect}, got {status}: {data[:500]!r}")
        return status, parsed

    def ledger(self):
        return sqlite3.connect(os.path.join(self.dir, "ledger.db"), timeout=10)

    # The service's own device and its RA, EAP server and admin certificates, issued at init
    # like any other certificate (ca/authority.hpp kServiceDevice).
    SERVICE_ROWS = {
        "devices": f"name = '{SERVICE_DEVICE}'",
        "certificates": f"device_id IN (SELECT id FROM devices WHERE name = '{SERVICE_DEVICE}')",
    }

    def count(self, table):
        """Rows of `table` the test made: the service's own device and certificates left out."""
        where = f" WHERE NOT ({self.SERVICE_ROWS[table]})" if table in self.SERVICE_ROWS else ""
        with contextlib.closing(self.ledger()) as db:
            return db.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]

    def ca(self, name):
        return os.path.join(self.dir, "ca", name)


class IntegrationTest(unittest.TestCase):
    """Gives each test a temp folder and prints every instance's log if the test failed."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="portcullis-it-")
        self.instances = []

    def instance(self, init_args=(), start=True):
        sub = os.path.join(self.workdir, f"i{len(self.instances)}")
        os.makedirs(sub)
        inst = Instance(sub, init_args)
        self.instances.append(inst)
        if start:
            inst.start()
        return inst

    def tearDown(self):
        failed = self._failed()
        for inst in self.instances:
            try:
                code = inst.stop()
                if code not in (None, 0) and not failed:
                    failed = True
                    print(f"\nportcullis serve exited with {code}", file=sys.stderr)
            except AssertionError as e:
                failed = True
                print(f"\n{e}", file=sys.stderr)
            if failed:
                print(f"\n===== server log ({inst.log_path}) =====\n{inst.log()}\n===== end of log =====",
                      file=sys.stderr)
        if not failed:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is not None:  # Python >= 3.11
            return any(t is self for t, _ in result.failures + result.errors)
        return any(err for _, err in getattr(outcome, "errors", []))


def main():
    unittest.main(verbosity=2)

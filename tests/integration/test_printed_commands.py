"""Every command line Portcullis prints for people runs as printed: what `init`
prints, what deploy/quickstart.sh prints when it is done, the Examples: of every --help, the
next steps of the no-argument overview, the `portcullis` lines of the sh/shell/console blocks
of README.md and docs/, and README's "Five-minute walk-through" block as a whole.

Each line runs through bash in a scratch folder, against a live instance (harness.py), with a
`portcullis` on PATH that logs every exit code, so a parse error inside a pipe or $(...) is
seen too. A CLI11 parse error (exit 100..127) fails the test, naming the line and where it was
printed. Lines that stand alone (init's, quickstart's, the --help examples, the overview's for
a running service) must also exit 0; README and docs lines may depend on the lines before
them, so for those only the parse is checked (the walk-through block runs whole and must
exit 0).

Placeholders are replaced by concrete values (cli_fixture.Workspace.placeholders: DEVICE,
FILE, SERIAL, DIR, <name>, ...), /etc/portcullis/portcullis.toml, the default config an
example may name, by the instance's config, and a file a recipe names that the scratch folder
does not hold by the fixture's (Workspace._files_in_scratch)."""

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile

from cli_fixture import Workspace
from cli_help import command_tree, is_parse_error
from harness import IntegrationTest, corporate_root, free_port, main, run, sign_sub_ca

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WALK_THROUGH = "Five-minute walk-through"
SHELL_FENCES = {"sh", "shell", "console", "bash"}


# --- where printed commands come from


def printed_in_output(text):
    """`portcullis ...` at the start of a line or after "label: " (init: "Start it with: ...")."""
    return [m.group(1).strip() for m in re.finditer(r"(?:^|:\s+)\s*(portcullis(?:\s.*)?)$", text, re.M)]


def quickstart_lines(path):
    """The `$bin ...` lines deploy/quickstart.sh prints (its `cat <<` heredocs and echo
    lines), with `portcullis` for `$bin`; the lines it runs itself are not printed."""
    with open(path) as f:
        lines = f.read().splitlines()
    printed, end, shown = [], None, False
    for line in lines:
        if end is not None:
            if line.strip() == end:
                end = None
            elif shown:
                printed.append(line)
            continue
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", line)
        if heredoc:
            # A heredoc fed to `cat` is printed; one fed to python3 is a program.
            end, shown = heredoc.group(1), line.lstrip().startswith("cat")
        elif re.match(r"\s*(echo|printf)\s", line):
            printed.append(line)
    found = []
    for line in printed:
        m = re.search(r'"?\$\{?bin\}?"?\s+(.*)$', line)
        if m:
            found.append("portcullis " + m.group(1).rstrip('"').strip())
    return found


def fenced_blocks(markdown):
    """[(info string, first line number, lines)] of each ``` block."""
    blocks, current = [], None
    for n, line in enumerate(markdown.splitlines(), 1):
        if line.lstrip().startswith("```"):
            if current is None:
                current = (line.strip()[3:].strip().lower(), n + 1, [])
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current[2].append(line)
    return blocks


def on_free_ports(script):
    """The block with the ports its `init` line names moved to free ones: a newcomer's
    machine has them free, a test machine may not (the RADIUS port's +1 is accounting)."""
    ports = {}
    for flag, count in (("--http-port", 1), ("--admin-port", 1), ("--radius-port", 2)):
        m = re.search(flag + r" (\d+)", script)
        if m:
            old, new = int(m.group(1)), free_port(count)
            for k in range(count):
                ports[old + k] = new + k
    if not ports:
        return script
    return re.sub(r"\b(" + "|".join(str(p) for p in ports) + r")\b", lambda m: str(ports[int(m.group(1))]), script)


def walk_through_block(markdown):
    """The first sh block after the "Five-minute walk-through" heading, or None."""
    heading = re.search(rf"^#+\s+{re.escape(WALK_THROUGH)}\s*$", markdown, re.M)
    if not heading:
        return None
    first_line = markdown[: heading.end()].count("\n") + 1
    for info, n, lines in fenced_blocks(markdown):
        if n > first_line and info in SHELL_FENCES:
            return n, "\n".join(lines) + "\n"
    raise AssertionError(f"README.md has a '{WALK_THROUGH}' heading but no ```sh block after it")


def shown_lines(markdown, name):
    """(name:line, command) of each portcullis line of the sh blocks, the walk-through
    block excepted (it runs whole), `$ ` and `sudo ` taken off, `\\` continuations joined."""
    walk = walk_through_block(markdown)
    out = []
    for info, n, lines in fenced_blocks(markdown):
        if info not in SHELL_FENCES or (walk and n == walk[0]):
            continue
        k = 0
        while k < len(lines):
            first, text = k, re.sub(r"^(\$ )?(sudo (-u \S+ )?)?", "", lines[k].strip())
            while text.endswith("\\") and k + 1 < len(lines):
                k += 1
                text = text[:-1].rstrip() + " " + lines[k].strip()
            if text == "portcullis" or text.startswith("portcullis "):
                out.append((f"{name}:{n + first}", text))
            k += 1
    return out


def is_synopsis(line):
    """A usage summary, not a command: [optional] parts, a|b alternatives, an ellipsis.
    test_cli_flags.py checks the flags of these."""
    code = re.split(r"\s#\s", line)[0]
    return bool(re.search(r"\[--|\[[A-Z]|…|\w\|\w|\s\|\s+--", code))


# --- the test


class PrintedCommandsTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.ws = Workspace(self)
        self.failures = []
        self.ran = 0

    def check(self, source, line, strict, extra=None):
        """Runs one printed line and records a parse error (always) or a failure (strict)."""
        command = self.ws.substitute(line.replace("/etc/portcullis/portcullis.toml", self.ws.inst.config), extra)
        command = re.split(r"\s+#\s", command)[0].rstrip()
        # `serve ... &` as printed for a shell: here serve is started, checked and stopped.
        command = re.sub(r"\s*&$", "", command)
        words = command.split()
        self.ran += 1
        if len(words) > 1 and words[0] == "portcullis" and "serve" in words and "|" not in command:
            outcome = self.ws.run_serve(command)
        else:
            outcome = self.ws.run_line(command)
        if outcome.parse_errors():
            self.failures.append(f"[{source}] parse error: {line}\n  {outcome.describe()}")
        elif strict and outcome.returncode != 0:
            self.failures.append(f"[{source}] failed: {line}\n  {outcome.describe()}")
        return outcome

    def report(self):
        self.assertGreater(self.ran, 0)
        self.assertFalse(self.failures, f"{len(self.failures)} printed command(s) do not run as printed:\n"
                         + "\n".join(self.failures))

    @staticmethod
    def init_args():
        return ["--http-port", str(free_port()), "--admin-port", str(free_port()),
                "--radius-port", str(free_port(2)), "--hostname", "localhost"]

    def test_init_prints_commands_that_run(self):
        fresh = self.ws.fresh_dir("init")
        printed = run([self.ws.binary, "init", "--dir", fresh, *self.init_args()]).stdout
        lines = printed_in_output(printed)
        self.assertTrue(any(" serve " in f" {l} " for l in lines), printed)
        for line in lines:
            self.check("portcullis init", line, strict=True)

        # --external-root prints `ca install-cert ... --cert ISSUING.pem --chain CHAIN.pem`: the
        # placeholders become the issuing CA our test root signed from the printed CSR.
        external = self.ws.fresh_dir("external")
        printed = run([self.ws.binary, "init", "--dir", external, "--external-root", *self.init_args()]).stdout
        _, root_key, root_cert, ext = corporate_root(self.workdir)
        signed = os.path.join(self.workdir, "issuing-signed.pem")
        sign_sub_ca(root_key, root_cert, ext, os.path.join(external, "ca", "issuing.csr"), signed)
        lines = printed_in_output(printed)
        self.assertTrue(any("ca install-cert" in l for l in lines), printed)
        for line in lines:
            self.check("portcullis init --external-root", line, strict=True,
                       extra={"ISSUING.pem": signed, "CHAIN.pem": root_cert})
        self.report()

    def test_quickstart_prints_commands_that_run(self):
        lines = quickstart_lines(os.path.join(REPO, "deploy", "quickstart.sh"))
        self.assertTrue(lines, "deploy/quickstart.sh prints no portcullis command")
        for line in lines:
            # The script's own variables, as it would have expanded them for this instance.
            command = line.replace('"$config"', "$config").replace("$config", self.ws.inst.config)
            self.assertNotIn("$", command, f"quickstart.sh prints a variable this test does not know: {line}")
            self.check("deploy/quickstart.sh", command, strict=True)
        self.report()

    def test_help_examples_run(self):
        examples = [(c, e) for c in command_tree(self.ws.binary) for e in c.examples]
        self.assertGreater(len(examples), 10)
        for command, line in examples:
            self.check(f"{command} --help", line, strict=True)
        self.report()

    def test_overview_next_steps_run(self):
        # Running service: its three next steps must work.
        overview = run([self.ws.binary, "--config", self.ws.inst.config]).stdout
        lines = printed_in_output(overview.split("\nNext:", 1)[1])
        self.assertEqual(len(lines), 5, overview)  # three steps and two --help lines
        for line in lines:
            self.check("portcullis (running)", line, strict=True)
        # Stopped service, and no config at all: the suggested commands parse (serve is
        # started and stopped; the others need the service the first one starts).
        stopped = self.instance(start=False)
        overview = run([self.ws.binary, "--config", stopped.config]).stdout
        for line in printed_in_output(overview.split("\nNext:", 1)[1]):
            self.check("portcullis (stopped)", line, strict=" serve " in f" {line} ")
        env = self.ws.env()
        env.pop("PORTCULLIS_CONFIG")
        overview = self.ws.run_line("portcullis", env=env).stdout
        self.assertIn("not found", overview)
        for line in printed_in_output(overview.split("\nNext:", 1)[1]):
            if " serve " not in f" {line} ":  # its default ports may be taken on a shared machine
                self.check("portcullis (no config)", line, strict=False, extra={"DIR": self.ws.fresh_dir()})
        self.report()

    def test_readme_and_docs_commands_parse(self):
        paths = [os.path.join(REPO, "README.md"), *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]
        for path in paths:
            with open(path) as f:
                for where, line in shown_lines(f.read(), os.path.relpath(path, REPO)):
                    if not is_synopsis(line):
                        self.check(where, line, strict=False)
        if self.ran == 0:
            self.fail("README.md and docs/ show no portcullis command in a sh block")
        self.report()

    def test_readme_walk_through_runs(self):
        with open(os.path.join(REPO, "README.md")) as f:
            block = walk_through_block(f.read())
        if block is None:
            self.fail(f"README.md has no '{WALK_THROUGH}' section")
        self.run_walk_through(*block)

    def run_walk_through(self, first_line, script):
        """The block as one `bash -e` script in an empty folder, `portcullis` on PATH and no
        PORTCULLIS_CONFIG (a newcomer's shell): every step must succeed (a step that is meant
        to fail is written `! cmd` or `cmd || ...`). What it leaves running is stopped."""
        scratch = tempfile.mkdtemp(prefix="walk-through-", dir=self.workdir)
        path = os.path.join(scratch, "walk-through.sh")
        with open(path, "w") as f:
            f.write(on_free_ports(script))
        env = self.ws.env()
        env.pop("PORTCULLIS_CONFIG")
        start = os.path.getsize(self.ws.rc_log)
        # Output to a file, not a pipe: a background `serve &` would hold a pipe open.
        log_path = os.path.join(self.workdir, "walk-through.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(["bash", "-e", path], cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                proc.wait(timeout=300)
            finally:
                # Stop what the block left in the background (`portcullis serve &`).
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        with open(log_path) as f:
            out = f.read()
        with open(self.ws.rc_log) as f:
            f.seek(start)
            calls = [entry.split("\t", 1) for entry in f.read().splitlines()]
        parse_errors = [c for c in calls if is_parse_error(int(c[0]))]
        self.assertFalse(parse_errors, f"README.md:{first_line} walk-through: parse errors {parse_errors}\n{out}")
        self.assertEqual(proc.returncode, 0, f"README.md:{first_line} walk-through exited {proc.returncode}:\n{out}")
        self.assertTrue(calls, "the walk-through runs no portcullis command")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

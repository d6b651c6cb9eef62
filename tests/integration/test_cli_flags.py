"""Every documented flag of every subcommand parses.

Two sources of "documented": each command's --help (walked from the top level), and the
command synopses in README.md and docs/*.md. Each --help option is invoked with a plausible
value (table below) together with the command's required options and positionals, and with
--config and --json last, at the command's depth; the check is only that CLI11 does not
refuse the line (exit 100..127), not what the command then does at run time."""

import glob
import os
import re
import shlex

from cli_fixture import DEVICE, Workspace
from cli_help import command_tree
from harness import BIN, IntegrationTest, free_port, main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLOBAL_OPTIONS = {"--config", "--json", "--help", "-h", "--version"}
# `serve` runs until stopped: test_printed_commands.py starts and stops it.
NOT_INVOKED = {("serve",)}


def plausible_value(ws, command, option):
    """A value the option accepts; an option with no entry here fails the test, so a new
    flag gets a value (and so a check) when it is added."""
    by_name = {
        "--device": DEVICE, "--ssid": "corp-wifi", "--ttl": "10m", "--at": "2025-01-07T10:30",
        "--expiring-before": "2030-01-01", "--serial": ws.serial, "--reason": "superseded", "--nas": "loopback",
        "--nas-port-type": "Wireless-802.11", "--san": f"dns:{DEVICE}.corp.example", "--cn": DEVICE,
        "--profile": "device", "--dir": ws.fresh_dir(),
        # `nas certificate --out` is a folder that must exist; the others write a file.
        "--out": ws.test.workdir if command.path[0] == "nas" else os.path.join(ws.test.workdir, "out.txt"),
        "--name": "wlc-1",
        "--devices-from": ws.device_list, "--csr": ws.csr, "--hostname": "localhost", "--bind": "127.0.0.1",
        "--search": "laptop", "--display-name": "Laptop 7", "--owner": "ana", "--group": "staff",
        "--issuing-cert": ws.pem_cert, "--issuing-key": ws.pem_key, "--issuing-chain": ws.pem_chain,
        "--cert": ws.pem_cert, "--key": ws.pem_key, "--chain": ws.pem_chain, "--limit": "10",
        "--http-port": str(free_port()), "--admin-port": str(free_port()), "--radius-port": str(free_port(2)),
        "--mac": "02-00-00-00-00-01", "--kind": "radius", "--outcome": "reject", "--since": "1h", "--offset": "0",
        "--expiring-within": "30d", "--expired-within": "30",
        # Parsed, then refused at run time (nothing listens on port 1): only the parse is checked.
        "--ledger": "postgresql://portcullis@127.0.0.1:1/ledger", "--ledger-password-file": ws.device_list,
        "--join": ws.inst.dir, "--node-name": "radius-2",
        "--to": "postgresql://portcullis@127.0.0.1:1/ledger", "--password-file": ws.device_list,
        "--batch-rows": "100",
    }
    if option.name in by_name:
        return by_name[option.name]
    members = re.search(r"\{([^}]*)\}", option.type)
    if members:
        return members.group(1).split(",")[0]
    raise AssertionError(f"{command} {option.name} ({option.type}): add a plausible value to the table")


def positional_value(ws, command, name):
    if name == "name":
        return ws.fresh_name()
    return {"device": DEVICE, "serial": ws.serial, "id": "1", "target": DEVICE}[name]


def invocation(ws, command, option=None):
    args = [*command.path]
    args += [positional_value(ws, command, name) for name, _, required in command.positionals if required]
    chosen = [o for o in command.options if o.required]
    if option is not None and option not in chosen:
        chosen.append(option)
        chosen += [command.option(n) for n in option.needs if command.option(n) not in chosen]
    for o in chosen:
        args += [o.name] if o.flag else [o.name, plausible_value(ws, command, o)]
    return args + ["--config", ws.inst.config, "--json"]


# --- synopses in the documentation


def documented_lines(paths):
    """(file:line, text) of each line in a fenced block that starts with `portcullis `, with
    its indented continuation lines joined on, and of each inline `portcullis ...` span."""
    out = []
    for path in paths:
        with open(path) as f:
            markdown = f.read()
        lines = markdown.splitlines()
        outside = re.sub(r"^\s*```.*?^\s*```", lambda m: "\n" * m.group(0).count("\n"), markdown, flags=re.M | re.S)
        for m in re.finditer(r"(?<!`)`(portcullis(?: [^`]*)?)`", outside):
            where = f"{os.path.relpath(path, REPO)}:{outside[: m.start()].count(chr(10)) + 1}"
            out.append([where, " ".join(m.group(1).split())])
        fenced, current = False, None
        for n, line in enumerate(lines, 1):
            if line.lstrip().startswith("```"):
                fenced, current = not fenced, None
                continue
            if not fenced:
                continue
            text = re.sub(r"^(\$ )?(sudo (-u \S+ )?)?", "", line.strip())
            if text.startswith("portcullis ") or text == "portcullis":
                current = [f"{os.path.relpath(path, REPO)}:{n}", text]
                out.append(current)
            elif current and line.startswith(" ") and re.match(r"\s+[\[-]", line):
                current[1] += " " + line.strip()
            else:
                current = None
    return [tuple(x) for x in out]


def synopsis_flags(text, tree):
    """[(command path, flag)] a synopsis line attaches to each command it names: `a|b` words
    name alternatives, ` | ` starts a sibling command or another option group."""
    text = re.split(r"\s#\s", text)[0]
    segments = [[]]
    for word in text.split()[1:]:
        if word == "|":
            segments.append([])
        else:
            segments[-1].append(word)
    found, nodes, parents = [], [()], None
    for k, words in enumerate(segments):
        i = 0
        if k > 0 and words and parents is not None:
            alts = words[0].strip("[]").split("|")
            if all(a in tree[p].subcommands for p in parents for a in alts):
                nodes, i = [p + (a,) for p in parents for a in alts], 1
        while i < len(words):
            alts = words[i].split("|")
            if not all(a in tree[n].subcommands for n in nodes for a in alts):
                break
            parents, nodes, i = nodes, [n + (a,) for n in nodes for a in alts], i + 1
        for word in words[i:]:
            for flag in re.findall(r"(?<![\w-])--[a-z][\w-]*", word):
                found += [(n, flag) for n in nodes]
    return found


class CliFlagsTest(IntegrationTest):
    def test_every_help_option_parses(self):
        ws = Workspace(self)
        refused = []
        invoked = 0
        for command in command_tree(ws.binary):
            if command.subcommands or tuple(command.path) in NOT_INVOKED:
                continue
            options = [o for o in command.options if not GLOBAL_OPTIONS & set(o.names)]
            for option in [None, *options]:
                args = invocation(ws, command, option)
                proc = ws.run_line(shlex.join(["portcullis", *args]))
                invoked += 1
                if proc.parse_errors() or "Run with --help" in proc.stderr:
                    refused.append(proc.describe())
        self.assertFalse(refused, "refused by the parser:\n" + "\n".join(refused))
        self.assertGreater(invoked, 50)

    def test_every_documented_flag_is_accepted(self):
        """The README and docs/ synopses attach only flags the command accepts."""
        tree = {tuple(c.path): c for c in command_tree(BIN)}
        docs = [os.path.join(REPO, "README.md"), *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]
        wrong, checked = [], 0
        for where, text in documented_lines(docs):
            for path, flag in synopsis_flags(text, tree):
                checked += 1
                if flag not in GLOBAL_OPTIONS and tree[path].option(flag) is None:
                    wrong.append(f"{where}: `portcullis {' '.join(path)}` does not take {flag}: {text}")
        self.assertFalse(wrong, "\n".join(wrong))
        self.assertGreater(checked, 0)


if __name__ == "__main__":
    main()

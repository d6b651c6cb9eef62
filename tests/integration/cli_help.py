"""The command tree of `portcullis` as its --help output shows it (CLI11's format): each
command's options (type, REQUIRED, Needs:), positionals, subcommands and the lines of its
"Examples:" footer. The tests read the help a user reads, so what they check is what is
documented; no hidden introspection command is needed."""

import re
import subprocess

# CLI11 exit codes (CLI/Error.hpp ExitCodes): every parse or validation error is 100..127;
# run_cli returns 0 or 1 (2 for a policy REJECT) for everything after parsing.
PARSE_ERROR_CODES = range(100, 128)

_OPTION = re.compile(r"^  ((?:-\w,)?--[\w-]+)(?: (\S+))?(.*)$")
_POSITIONAL = re.compile(r"^  ([a-z][\w-]*) (\S+)( REQUIRED)?")
_SUBCOMMAND = re.compile(r"^  ([a-z][\w-]*)\s{2,}\S")


class Option:
    def __init__(self, names, type_text, rest):
        self.names = names                      # e.g. ["--device"], ["-h", "--help"]
        self.name = names[-1]
        self.type = type_text or ""             # "", "TEXT", "INT:INT in [1 - 1000]", "TEXT:FILE", "UINT=8080"
        self.required = "REQUIRED" in rest
        needs = re.search(r"Needs: ((?:--[\w-]+ ?)+)", rest)
        self.needs = needs.group(1).split() if needs else []
        self.flag = not self.type

    def __repr__(self):
        return f"Option({self.name} {self.type})"


class Command:
    def __init__(self, path, help_text):
        self.path = path                        # ["devices", "list"]; [] for the top level
        self.help = help_text
        self.options, self.positionals, self.subcommands, self.examples = [], [], [], []
        self._parse(help_text)

    def _parse(self, text):
        section = None
        pending = None
        for line in text.splitlines():
            if line and not line.startswith(" "):
                section = line.rstrip(":") if line.endswith(":") else None
                continue
            if section == "Options":
                m = _OPTION.match(line)
                if m:
                    type_text = m.group(2)
                    rest = m.group(3)
                    # A type spills its words ("INT:INT in [1 - 1000]") into what follows.
                    if type_text and type_text.endswith(":INT") and rest.startswith(" in ["):
                        type_text += rest[: rest.index("]") + 1]
                        rest = rest[rest.index("]") + 1:]
                    if type_text in ("REQUIRED", "Needs:", "Excludes:"):
                        rest, type_text = f" {type_text}{rest}", None
                    pending = Option(m.group(1).split(","), type_text, rest)
                    self.options.append(pending)
            elif section == "Positionals":
                m = _POSITIONAL.match(line)
                if m:
                    self.positionals.append((m.group(1), m.group(2), bool(m.group(3))))
            elif section == "Subcommands":
                m = _SUBCOMMAND.match(line)
                if m:
                    self.subcommands.append(m.group(1))
            elif section == "Examples" and line.strip():
                self.examples.append(line.strip())

    def option(self, name):
        return next((o for o in self.options if name in o.names), None)

    def __repr__(self):
        return "portcullis " + " ".join(self.path)


def command_tree(binary):
    """Every command reachable from the top level, parents before children."""
    out = []
    queue = [[]]
    while queue:
        path = queue.pop(0)
        proc = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise AssertionError(f"portcullis {' '.join(path)} --help exited {proc.returncode}: {proc.stderr}")
        command = Command(path, proc.stdout)
        out.append(command)
        queue.extend(path + [sub] for sub in command.subcommands)
    return out


def is_parse_error(returncode):
    return returncode in PARSE_ERROR_CODES

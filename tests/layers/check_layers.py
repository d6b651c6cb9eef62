#!/usr/bin/env python3
"""Checks that each folder includes only the layers below it (docs/architecture.md,
"Layers"): ca/ is the bottom, the protocol front ends (radius/, scep/, policy/) sit on it,
app/ wires them, and inside app/ the HTTP transport knows nothing of the admin API or the
CLI. Prints every offending include and exits 1 when there is one."""

import os
import re
import sys

# Folder -> the project folders its files may include. The longest matching folder wins.
ALLOWED = {
    "ca": {"ca"},
    "policy": {"ca", "policy"},
    "scep": {"ca", "scep"},
    "radius/eap": {"ca", "radius/eap"},
    "radius": {"ca", "policy", "radius"},
    "app/http": {"ca", "scep", "app/http"},
    "app/admin": {"ca", "policy", "radius", "scep", "app/http", "app/admin", "app/policy_control"},
    "app/console": {"ca", "app/http", "app/admin", "app/console"},
    "app/cli": {"ca", "policy", "radius", "scep", "app"},
    "app": {"ca", "policy", "radius", "scep", "app"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+["<]([^">]+)[">]', re.M)
FOLDERS = {k.split("/")[0] for k in ALLOWED}


def layer_of(path):
    """The longest ALLOWED key that is a folder prefix of `path`, or None."""
    best = None
    for key in ALLOWED:
        if path.startswith(key + "/") and (best is None or len(key) > len(best)):
            best = key
    return best


def permitted(target, allowed):
    """Whether include `target` ("scep/enrollment.hpp") lies in one of `allowed`."""
    stem = target[:-len(".hpp")] if target.endswith(".hpp") else target
    return any(target.startswith(a + "/") or stem == a for a in allowed)


def project_path(including, written):
    """The project path an include names ("../app/x.hpp" from "scep/y.cpp" is "app/x.hpp"),
    or None for a same-folder or third-party header."""
    if written.startswith("."):
        written = os.path.normpath(os.path.join(os.path.dirname(including), written))
    if "/" not in written or written.split("/")[0] not in FOLDERS:
        return None
    return written


def violations(root):
    for folder in sorted(FOLDERS):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if not name.endswith((".cpp", ".hpp", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                layer = layer_of(rel)
                with open(os.path.join(root, rel), encoding="utf-8") as f:
                    text = f.read()
                for written in INCLUDE.findall(text):
                    target = project_path(rel, written)
                    if target is None:
                        continue   # same-folder or third-party include
                    if not permitted(target, ALLOWED[layer]):
                        yield f"{rel}: includes {written} ({layer}/ may include {', '.join(sorted(ALLOWED[layer]))})"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = list(violations(root))
    for line in found:
        print(line)
    print(f"{len(found)} include(s) against the layering")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

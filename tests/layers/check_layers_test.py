#!/usr/bin/env python3
"""The layering check finds what it is there to find: includes planted against the rules,
written each way a compiler accepts them, in a scratch tree; and passes a clean one."""

import os
import subprocess
import sys
import tempfile
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_layers.py")


def tree(files):
    root = tempfile.mkdtemp(prefix="layers-")
    for path, text in files.items():
        os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    return root


def check(root):
    proc = subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)
    return proc.returncode, proc.stdout


class CheckLayersTest(unittest.TestCase):
    def test_each_way_of_reaching_up_is_found(self):
        root = tree({
            "scep/a.hpp": '#include "app/http/types.hpp"\n',
            "scep/b.cpp": "#include <app/config.hpp>\n",
            "scep/c.cpp": '#include "../app/config.hpp"\n',
            "ca/d.cpp": '#include "radius/packet.hpp"\n',
            "radius/eap/e.cpp": '#include "policy/engine.hpp"\n',
            "app/http/f.cpp": '#include "app/admin/api.hpp"\n',
        })
        code, out = check(root)
        self.assertEqual(code, 1, out)
        for planted in ("scep/a.hpp", "scep/b.cpp", "scep/c.cpp", "ca/d.cpp", "radius/eap/e.cpp", "app/http/f.cpp"):
            self.assertIn(planted + ": includes", out)
        self.assertIn("6 include(s) against the layering", out)

    def test_allowed_includes_pass(self):
        root = tree({
            "scep/a.cpp": '#include "scep/a.hpp"\n#include "ca/x509.hpp"\n#include <openssl/evp.h>\n#include "local.hpp"\n',
            "radius/b.cpp": '#include "policy/engine.hpp"\n#include "ca/hex.hpp"\n',
            "app/cli/c.cpp": '#include "app/http/client.hpp"\n#include "app/config.hpp"\n',
        })
        code, out = check(root)
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""RadSec (RADIUS over TLS, RFC 6614) for NAS clients: the NAS certificates our CA issues
(`portcullis nas certificate`)."""

import json
import os
import stat

from harness import IntegrationTest, main, run


class NasCertificateTest(IntegrationTest):
    def test_nas_certificate_is_ours_and_ready_for_the_nas(self):
        inst = self.instance()
        out = os.path.join(self.workdir, "nas")
        os.makedirs(out)
        issued = json.loads(inst.cli("--json", "nas", "certificate", "--name", "wlc-1", "--out", out,
                                     "--san", "dns:wlc-1.corp.example").stdout)
        cert, key, ca = (os.path.join(out, f) for f in ("wlc-1.pem", "wlc-1.key", "ca.pem"))
        self.assertEqual((issued["certificate"], issued["key"], issued["ca"]), (cert, key, ca))
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)

        # The file carries the certificate and our intermediates: it verifies against the
        # root alone, as the NAS's peer (us) and any RadSec server would check it.
        verified = run(["openssl", "verify", "-CAfile", ca, "-untrusted", cert, "-purpose", "sslclient", cert])
        self.assertIn(": OK", verified.stdout)
        run(["openssl", "verify", "-CAfile", ca, "-untrusted", cert, "-purpose", "sslserver", cert])
        with open(ca) as f, open(inst.ca("root.pem")) as g:
            self.assertEqual(f.read(), g.read())
        text = run(["openssl", "x509", "-in", cert, "-noout", "-text"]).stdout
        self.assertIn("Subject: CN = wlc-1", text)
        self.assertIn("DNS:wlc-1.corp.example", text)
        self.assertRegex(text, r"TLS Web Client Authentication, TLS Web Server Authentication")
        # The key is the certificate's.
        pub_cert = run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"]).stdout
        pub_key = run(["openssl", "pkey", "-in", key, "-pubout"]).stdout
        self.assertEqual(pub_cert, pub_key)

        # Issued through the one path: in the ledger, profile nas, to the NAS's device.
        listed = json.loads(inst.cli("--json", "certs", "list", "--device", "wlc-1").stdout)
        self.assertEqual([(c["serial"], c["profile"]) for c in listed], [(issued["serial"], "nas")])
        serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip().split("=")[1]
        self.assertEqual(serial.upper(), issued["serial"])

    def test_existing_files_are_not_overwritten_and_nothing_is_issued(self):
        inst = self.instance()
        out = os.path.join(self.workdir, "nas")
        os.makedirs(out)
        with open(os.path.join(out, "wlc-2.key"), "w") as f:
            f.write("the NAS's current key\n")
        refused = inst.cli("nas", "certificate", "--name", "wlc-2", "--out", out, check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("wlc-2.key exists", refused.stderr)
        self.assertEqual(json.loads(inst.cli("--json", "certs", "list", "--device", "wlc-2", check=False).stdout
                                    or "[]"), [])
        with open(os.path.join(out, "wlc-2.key")) as f:
            self.assertEqual(f.read(), "the NAS's current key\n")


if __name__ == "__main__":
    main()

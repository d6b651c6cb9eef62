"""init -> serve -> issue through the CLI -> openssl verify -> revoke through the CLI ->
the CRL lists it, OCSP says revoked, the running index says revoked; no restart."""

import json
import os
import re

from harness import IntegrationTest, main, make_key_and_csr, run


class LifecycleTest(IntegrationTest):
    def test_issue_verify_revoke_crl_ocsp_index(self):
        inst = self.instance()
        key, csr = make_key_and_csr(self.workdir, "laptop", "laptop-042.example.net",
                                    extra_config="subjectAltName=DNS:laptop-042.example.net,URI:urn:example:laptop-042\n")

        # The certificate names what the operator says (the device, --san), not the CSR.
        issued = inst.cli("issue", "--csr", csr, "--device", "laptop-042", "--san", "dns:laptop-042.example.net",
                          "--san", "uri:urn:example:laptop-042")
        self.assertIn("created device laptop-042", issued.stderr)
        self.assertIn("-----BEGIN CERTIFICATE-----", issued.stdout)
        cert = os.path.join(self.workdir, "laptop.pem")
        with open(cert, "w") as f:
            f.write(issued.stdout)

        verify = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", inst.ca("issuing.pem"),
                      "-purpose", "sslclient", cert])
        self.assertIn(": OK", verify.stdout)
        text = run(["openssl", "x509", "-in", cert, "-noout", "-text", "-serial"]).stdout
        serial = re.search(r"^serial=([0-9A-F]+)$", text, re.M).group(1)
        self.assertIn("TLS Web Client Authentication", text)
        self.assertIn("CA:FALSE", text)
        self.assertIn(f"URI:http://localhost:{inst.http_port}/crl", text)
        self.assertIn(f"OCSP - URI:http://localhost:{inst.http_port}/ocsp", text)
        self.assertIn("URI:urn:example:laptop-042", text)
        self.assertIn("Subject: CN = laptop-042\n", text)

        # Before revocation: OCSP good, CRL empty, index good.
        self.assertEqual(self.ocsp(inst, cert), "good")
        self.assertNotIn(serial, self.crl_text(inst))
        _, ident = inst.api("GET", f"/identity/{serial}", expect=200)
        self.assertEqual(ident["verdict"], "good")
        listed = json.loads(inst.cli("--json", "certs", "list", "--device", "laptop-042").stdout)
        self.assertEqual([c["serial"] for c in listed], [serial])

        inst.cli("revoke", "--serial", serial, "--reason", "keyCompromise")

        crl = self.crl_text(inst)
        self.assertIn(f"Serial Number: {serial}", crl)
        self.assertIn("Key Compromise", crl)
        self.assertEqual(self.ocsp(inst, cert), "revoked")
        _, ident = inst.api("GET", f"/identity/{serial}", expect=200)
        self.assertEqual(ident["verdict"], "revoked")
        shown = json.loads(inst.cli("--json", "certs", "show", serial).stdout)
        self.assertEqual(shown["status"], "revoked")
        _, audit = inst.api("GET", f"/audit?target={serial}", expect=200)
        actions = [e["action"] for e in (audit["entries"] if isinstance(audit, dict) else audit)]
        self.assertIn("issue", actions)
        self.assertIn("revoke", actions)

        # The PEM form of the CRL and the OCSP GET form (RFC 6960 A.1) work too.
        status, pem = inst.http("GET", "/crl.pem")
        self.assertEqual(status, 200)
        self.assertIn(b"-----BEGIN X509 CRL-----", pem)

    def crl_text(self, inst):
        status, der = inst.http("GET", "/crl")
        self.assertEqual(status, 200)
        path = os.path.join(self.workdir, "crl.der")
        with open(path, "wb") as f:
            f.write(der)
        # The CRL verifies under the issuing CA.
        run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-CAfile", inst.ca("chain.pem")])
        return run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text"]).stdout

    def ocsp(self, inst, cert):
        out = run(["openssl", "ocsp", "-issuer", inst.ca("issuing.pem"), "-cert", cert,
                   "-url", f"http://127.0.0.1:{inst.http_port}/ocsp", "-CAfile", inst.ca("root.pem")])
        self.assertIn("Response verify OK", out.stdout + out.stderr)
        return re.search(r": (good|revoked|unknown)", out.stdout).group(1)


if __name__ == "__main__":
    main()

"""CA rollover staging and SCEP GetNextCACert (RFC 8894 §4.7) against the real binary.
`portcullis ca rollover stage` runs while the service serves; SIGHUP makes SCEP advertise
GetNextCACert in GetCACaps and answer it with a SignedData from the current RA whose
content is the next RA + CA chain. The answer is opened with `openssl cms -verify` (trusting
only the root) and `openssl pkcs7 -print_certs`, the next certificates verified with
`openssl verify`, and strongSwan pki enrolls during the staging, still from the current CA.
No packaged client sends GetNextCACert (micromdm scepclient and strongSwan pki do not)."""

import os
import shutil
import signal
import subprocess
import time

from harness import IntegrationTest, main, run


def fingerprint(pem_path):
    out = run(["openssl", "x509", "-in", pem_path, "-noout", "-fingerprint", "-sha256"]).stdout
    return out.strip().split("=", 1)[1].replace(":", "")


class ScepRolloverTest(IntegrationTest):
    def caps(self, inst):
        status, body = inst.http("GET", "/scep?operation=GetCACaps")
        self.assertEqual(status, 200)
        return body.decode().split()

    def reload(self, inst, expect_in_log):
        seen = inst.log().count(expect_in_log)
        inst.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while inst.log().count(expect_in_log) <= seen:
            self.assertLess(time.time(), deadline, f"no {expect_in_log!r} in the log after SIGHUP")
            time.sleep(0.05)

    def test_stage_offer_verify_and_discard(self):
        inst = self.instance()
        d = self.workdir
        self.assertNotIn("GetNextCACert", self.caps(inst))
        status, body = inst.http("GET", "/scep?operation=GetNextCACert")
        self.assertEqual(status, 404, body)

        out = inst.cli("ca", "rollover", "stage").stdout
        self.assertIn("staged next issuing CA", out)
        nxt = lambda name: os.path.join(inst.dir, "ca", "next", name)  # noqa: E731
        for key in ("issuing.key", "ra.key", "server.key", "admin.key"):
            self.assertEqual(os.stat(nxt(key)).st_mode & 0o777, 0o600, key)
        self.assertFalse(os.path.exists(nxt("root.key")), "the root key must never be copied")
        self.assertFalse(os.path.exists(os.path.join(inst.dir, "ca", "next.partial")))
        # A second stage is refused and leaves the first one as it was.
        before = fingerprint(nxt("issuing.pem"))
        again = inst.cli("ca", "rollover", "stage", check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already staged", again.stderr)
        self.assertEqual(fingerprint(nxt("issuing.pem")), before)
        status_text = inst.cli("ca", "rollover", "status").stdout
        self.assertIn("staged next issuing CA", status_text)
        self.assertIn(before, status_text)

        # Not offered until the service reloads.
        self.assertNotIn("GetNextCACert", self.caps(inst))
        self.reload(inst, "SIGHUP: CA rollover staged")
        self.assertIn("GetNextCACert", self.caps(inst))
        status, body = inst.http("GET", "/scep/pkiclient.exe?operation=GetNextCACert&message=anything")
        self.assertEqual(status, 200)
        answer, inner = os.path.join(d, "next.der"), os.path.join(d, "inner.der")
        with open(answer, "wb") as f:
            f.write(body)

        # The signature is the current RA's, and chains to the root alone.
        r = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", answer, "-binary",
                            "-CAfile", inst.ca("root.pem"), "-out", inner, "-signer", os.path.join(d, "signer.pem")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Verification successful", r.stderr)
        self.assertEqual(fingerprint(os.path.join(d, "signer.pem")), fingerprint(inst.ca("ra.pem")))
        # Tampering with one byte of the signed content (inside the next RA certificate it
        # carries; eContent comes before the SignedData's own certificates) is caught.
        next_ra_der = subprocess.run(["openssl", "x509", "-in", nxt("ra.pem"), "-outform", "DER"],
                                     capture_output=True, check=True, timeout=60).stdout
        at = body.find(next_ra_der)
        self.assertGreater(at, 0)
        tampered = bytearray(body)
        tampered[at + len(next_ra_der) // 2] ^= 0x01
        with open(os.path.join(d, "tampered.der"), "wb") as f:
            f.write(tampered)
        r = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", os.path.join(d, "tampered.der"),
                            "-binary", "-CAfile", inst.ca("root.pem"), "-out", os.devnull],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)

        # The content: next RA first, then the next issuing CA, then the root.
        certs_pem = os.path.join(d, "next-certs.pem")
        run(["openssl", "pkcs7", "-inform", "DER", "-in", inner, "-print_certs", "-out", certs_pem])
        with open(certs_pem) as f:
            blocks = [b + "-----END CERTIFICATE-----\n" for b in f.read().split("-----END CERTIFICATE-----")[:-1]]
        self.assertEqual(len(blocks), 3)
        paths = []
        for i, block in enumerate(blocks):
            p = os.path.join(d, f"next-{i}.pem")
            with open(p, "w") as f:
                f.write(block[block.index("-----BEGIN"):])
            paths.append(p)
        self.assertEqual(fingerprint(paths[0]), fingerprint(nxt("ra.pem")))
        self.assertEqual(fingerprint(paths[1]), fingerprint(nxt("issuing.pem")))
        self.assertEqual(fingerprint(paths[2]), fingerprint(inst.ca("root.pem")))
        self.assertNotEqual(fingerprint(paths[1]), fingerprint(inst.ca("issuing.pem")))
        out = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), paths[1]]).stdout
        self.assertIn(": OK", out)
        out = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", paths[1], paths[0]]).stdout
        self.assertIn(": OK", out)

        # While staged, GetCACert and issuance stay on the current CA (strongSwan pki).
        url = f"http://127.0.0.1:{inst.http_port}/scep"
        ca_out, ra_out = os.path.join(d, "ca.crt"), os.path.join(d, "ra.crt")
        run(["pki", "--scepca", "--url", url, "--caout", ca_out, "--raout", ra_out])
        self.assertEqual(fingerprint(ra_out), fingerprint(inst.ca("ra.pem")))
        key = os.path.join(d, "k.der")
        with open(key, "wb") as f:
            f.write(subprocess.run(["pki", "--gen", "--type", "rsa", "--size", "2048"], capture_output=True,
                                   check=True, timeout=120).stdout)
        with open(inst.config) as f:
            static = [line.split('"')[1] for line in f if line.startswith("static_challenge")][0]
        r = subprocess.run(["pki", "--scep", "--url", url, "--in", key, "--dn", "CN=laptop-9", "--password", static,
                            "--cacert-enc", ra_out, "--cacert-sig", ra_out, "--cacert", ca_out, "--cipher", "aes",
                            "--digest", "sha256", "--outform", "pem"], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        issued = os.path.join(d, "laptop.pem")
        with open(issued, "wb") as f:
            f.write(r.stdout)
        out = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", inst.ca("issuing.pem"),
                   issued]).stdout
        self.assertIn(": OK", out)

        # Stage and discard are audited.
        with inst.ledger() as db:
            actions = [row[0] for row in db.execute("SELECT action FROM audit WHERE action LIKE 'ca.rollover.%'")]
        self.assertEqual(actions, ["ca.rollover.stage"])

        inst.cli("ca", "rollover", "discard")
        self.assertFalse(os.path.exists(os.path.join(inst.dir, "ca", "next")))
        self.reload(inst, "SIGHUP: reloaded")
        self.assertNotIn("GetNextCACert", self.caps(inst))
        status, _ = inst.http("GET", "/scep?operation=GetNextCACert")
        self.assertEqual(status, 404)
        again = inst.cli("ca", "rollover", "discard", check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("no CA rollover is staged", again.stderr)

    def test_broken_staged_ca_is_not_offered_and_the_service_keeps_serving(self):
        inst = self.instance()
        inst.cli("ca", "rollover", "stage")
        os.remove(os.path.join(inst.dir, "ca", "next", "ra.key"))
        self.reload(inst, "the staged CA rollover is not offered")
        self.assertNotIn("GetNextCACert", self.caps(inst))
        status, _ = inst.http("GET", "/scep?operation=GetCACert")
        self.assertEqual(status, 200)
        # Fixed by discarding and staging again, without a restart.
        inst.cli("ca", "rollover", "discard")
        inst.cli("ca", "rollover", "stage")
        self.reload(inst, "SIGHUP: CA rollover staged")
        self.assertIn("GetNextCACert", self.caps(inst))

    def test_imported_next_ca_from_an_enterprise_root(self):
        # An enterprise root made with openssl, signing two issuing CAs: the first is
        # imported at init, the second staged with --cert/--key/--chain.
        d = self.workdir
        ext = os.path.join(d, "ca.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
                    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", os.path.join(d, "root.key"), "-out", os.path.join(d, "root.pem"), "-days", "3650",
             "-subj", "/O=Example Corp/CN=Example Root", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

        def issuing(name):
            key, csr, cert = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "pem"))
            run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", f"/O=Example Corp/CN={name}"])
            run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(d, "root.pem"), "-CAkey",
                 os.path.join(d, "root.key"), "-CAcreateserial", "-out", cert, "-days", "1000", "-extfile", ext])
            return cert, key

        first_cert, first_key = issuing("Example Issuing 1")
        inst = self.instance(init_args=("--issuing-cert", first_cert, "--issuing-key", first_key,
                                        "--issuing-chain", os.path.join(d, "root.pem")))
        # Our init made no root key here, so a plain stage must say what to do instead.
        r = inst.cli("ca", "rollover", "stage", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--cert, --key and --chain", r.stderr)
        # The current issuing CA again is not a rollover.
        r = inst.cli("ca", "rollover", "stage", "--cert", first_cert, "--key", first_key, "--chain",
                     os.path.join(d, "root.pem"), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs a new key", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(inst.dir, "ca", "next")))

        second_cert, second_key = issuing("Example Issuing 2")
        inst.cli("ca", "rollover", "stage", "--cert", second_cert, "--key", second_key, "--chain",
                 os.path.join(d, "root.pem"))
        self.reload(inst, "SIGHUP: CA rollover staged")
        status, body = inst.http("GET", "/scep?operation=GetNextCACert")
        self.assertEqual(status, 200)
        answer = os.path.join(d, "next.der")
        with open(answer, "wb") as f:
            f.write(body)
        certs = run(["sh", "-c", f"openssl cms -verify -inform DER -in {answer} -binary -CAfile {d}/root.pem "
                     f"| openssl pkcs7 -inform DER -print_certs -noout"]).stdout
        self.assertIn("subject=O = Example Corp, CN = Example Issuing 2", certs)
        self.assertNotIn("Example Issuing 1", certs)


if __name__ == "__main__":
    if shutil.which("pki") is None:
        raise SystemExit("strongswan-pki is required (deploy/install-deps.sh installs it)")
    main()

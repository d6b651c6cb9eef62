"""SCEP (RFC 8894) with real clients against the real binary: micromdm scepclient (static
and one-time challenges, then a RenewalReq) and strongSwan pki (AES + SHA-256); refusals
show a FAILURE at the client and issue nothing; transport abuse gets a 4xx, never a 5xx."""

import hashlib
import json
import os
import re
import subprocess
import time

from harness import IntegrationTest, main, run


def run_bytes(cmd):
    return subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout


def sha256_der_fingerprint(pem_path):
    return hashlib.sha256(run_bytes(["openssl", "x509", "-in", pem_path, "-outform", "DER"])).hexdigest()


def serial_of(pem_path):
    out = run(["openssl", "x509", "-in", pem_path, "-noout", "-serial"]).stdout
    return re.search(r"serial=([0-9A-F]+)", out).group(1)


def start_pki_enrollment(url, folder, name, dn, password):
    """strongSwan pki --scep (AES, SHA-256) with a fresh RSA key, started in the background:
    it polls every 2 s (RFC 8894 §3.3.3 CertPoll) while its request is PENDING. Returns the
    process; its stdout is the certificate (PEM) once issued."""
    ca, ra = os.path.join(folder, "pki-ca.crt"), os.path.join(folder, "pki-ra.crt")
    if not os.path.exists(ra):
        run(["pki", "--scepca", "--url", url, "--caout", ca, "--raout", ra])
    key = os.path.join(folder, f"{name}.der")
    with open(key, "wb") as f:
        f.write(run_bytes(["pki", "--gen", "--type", "rsa", "--size", "2048"]))
    return subprocess.Popen(
        ["pki", "--scep", "--url", url, "--in", key, "--dn", dn, "--password", password,
         "--cacert-enc", ra, "--cacert-sig", ra, "--cacert", ca, "--cipher", "aes", "--digest", "sha256",
         "--interval", "2", "--maxpolltime", "60", "--outform", "pem"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class ScepTest(IntegrationTest):
    def scep_instance(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        text = text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
        with open(inst.config, "w") as f:
            f.write(text)
        self.static = re.search(r'^static_challenge = "([^"]+)"', text, re.M).group(1)
        inst.start()
        self.url = f"http://127.0.0.1:{inst.http_port}/scep"
        return inst

    def verify(self, inst, pem):
        out = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", inst.ca("issuing.pem"), pem])
        self.assertIn(": OK", out.stdout)

    def certs_of(self, inst, device):
        return json.loads(inst.cli("--json", "certs", "list", "--device", device).stdout)

    def scepclient(self, inst, folder, cn, challenge=None, renew=False):
        os.makedirs(folder, exist_ok=True)
        # The GetCACert answer holds RA, issuing CA and root; scepclient 2.1.0 would
        # encrypt to every one of them (and panics on the EC issuing CA) unless told which
        # certificate is the RA by its SHA-256 fingerprint, as for an NDES server.
        cmd = ["scepclient", "-server-url", self.url, "-ca-fingerprint", sha256_der_fingerprint(inst.ca("ra.pem")),
               "-private-key", os.path.join(folder, "key.pem"), "-cn", cn, "-keySize", "2048"]
        if challenge is not None:
            cmd += ["-challenge", challenge]
        if renew:
            cmd += ["-certificate", os.path.join(folder, "client.pem")]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def test_micromdm_static_dynamic_and_renewal(self):
        inst = self.scep_instance()

        # Static challenge: the device is named by the CSR's CN.
        static_dir = os.path.join(self.workdir, "static")
        r = self.scepclient(inst, static_dir, "kiosk-1", self.static)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.verify(inst, os.path.join(static_dir, "client.pem"))
        listed = self.certs_of(inst, "kiosk-1")
        self.assertEqual([c["serial"] for c in listed], [serial_of(os.path.join(static_dir, "client.pem"))])

        # One-time challenge minted by the CLI, printed alone on stdout, bound to a device.
        minted = inst.cli("challenge", "--device", "ipad-7", "--cn", "ipad-7", "--ttl", "10m")
        challenge = minted.stdout.strip()
        self.assertRegex(challenge, r"^[0-9a-f]{32}$")
        with self._ledger(inst) as db:
            rows = db.execute("SELECT secret_hash, used_at FROM challenges").fetchall()
        self.assertEqual(rows, [(hashlib.sha256(challenge.encode()).hexdigest(), None)])

        dyn_dir = os.path.join(self.workdir, "dynamic")
        r = self.scepclient(inst, dyn_dir, "ipad-7", challenge)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        first = os.path.join(dyn_dir, "client.pem")
        self.verify(inst, first)
        first_serial = serial_of(first)
        self.assertEqual([c["serial"] for c in self.certs_of(inst, "ipad-7")], [first_serial])

        # The same challenge again (new key, new transaction): refused, nothing issued.
        again_dir = os.path.join(self.workdir, "again")
        r = self.scepclient(inst, again_dir, "ipad-7", challenge)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("badRequest", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(again_dir, "client.pem")))

        # RenewalReq signed by the issued certificate: a new certificate, same device.
        r = self.scepclient(inst, dyn_dir, "ipad-7", renew=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        renewed = os.path.join(dyn_dir, "client.pem")
        self.verify(inst, renewed)
        serials = {c["serial"] for c in self.certs_of(inst, "ipad-7")}
        self.assertEqual(serials, {first_serial, serial_of(renewed)})
        self.assertNotEqual(serial_of(renewed), first_serial)
        self.assertEqual(inst.count("certificates"), 3)

    def test_micromdm_refusals_are_failures_at_the_client(self):
        inst = self.scep_instance()

        def refused(name, cn, challenge, key_size="2048"):
            folder = os.path.join(self.workdir, name)
            os.makedirs(folder)
            r = subprocess.run(["scepclient", "-server-url", self.url, "-ca-fingerprint",
                                sha256_der_fingerprint(inst.ca("ra.pem")), "-private-key",
                                os.path.join(folder, "key.pem"), "-cn", cn, "-keySize", key_size,
                                "-challenge", challenge], capture_output=True, text=True, timeout=120)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("failInfo: badRequest", r.stdout + r.stderr)
            self.assertFalse(os.path.exists(os.path.join(folder, "client.pem")))

        refused("wrong", "intruder", "not-the-challenge-at-all")
        refused("weak", "weak-key", self.static, key_size="1024")
        # A challenge bound to one device, used for another device's subject.
        _, bound = inst.api("POST", "/challenges", {"device": "cam-1", "cn": "cam-1"}, expect=201)
        refused("other-subject", "cam-2", bound["challenge"])
        # Expired.
        _, short = inst.api("POST", "/challenges", {"device": "cam-3", "ttl_seconds": 1}, expect=201)
        time.sleep(2.2)
        refused("expired", "cam-3", short["challenge"])
        # The static challenge (in every profile the MDM hands out) names an existing device,
        # one in the admins group: it may only create devices.
        inst.api("POST", "/devices", {"name": "ceo-laptop", "groups": ["admins"]}, expect=201)
        refused("existing-device", "ceo-laptop", self.static)
        self.assertEqual(inst.count("certificates"), 0)
        with self._ledger(inst) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM challenges WHERE used_at IS NOT NULL").fetchone()[0], 0)

        # The admin API refuses bad mint requests before writing anything.
        inst.api("POST", "/challenges", {"device": "cam-4", "profile": "nope"}, expect=400)
        inst.api("POST", "/challenges", {"device": "cam-4", "ttl_seconds": 0}, expect=400)
        inst.api("POST", "/challenges", {"profile": "device"}, expect=400)
        inst.api("POST", "/challenges", {"device": "cam-4", "secret": "x"}, expect=400)
        self.assertNotEqual(inst.cli("challenge", "--device", "cam-4", "--ttl", "soon", check=False).returncode, 0)

        # Refusal rows are written in batches, about a second after the refusal.
        deadline = time.monotonic() + 5
        while True:
            _, audit = inst.api("GET", "/audit?action=scep.reject", expect=200)
            if len(audit["entries"]) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(audit["entries"]), 5)
        self.assertIn("the static challenge only enrolls new devices", json.dumps(audit))
        self.assertNotIn("not-the-challenge-at-all", json.dumps(audit))
        self.assertNotIn("not-the-challenge-at-all", inst.log())

    def test_strongswan_pki_aes_sha256(self):
        inst = self.scep_instance()
        d = self.workdir
        ca, ra = os.path.join(d, "ca.crt"), os.path.join(d, "ra.crt")
        run(["pki", "--scepca", "--url", self.url, "--caout", ca, "--raout", ra])
        key = os.path.join(d, "k.der")
        with open(key, "wb") as f:
            f.write(run_bytes(["pki", "--gen", "--type", "rsa", "--size", "2048"]))

        def enroll(dn, password):
            return subprocess.run(["pki", "--scep", "--url", self.url, "--in", key, "--dn", dn, "--password", password,
                                   "--cacert-enc", ra, "--cacert-sig", ra, "--cacert", ca, "--cipher", "aes",
                                   "--digest", "sha256", "--interval", "2", "--maxpolltime", "60", "--outform", "pem"],
                                  capture_output=True, timeout=120)

        refused = enroll("CN=router-1", "wrong-password")
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn(b"badRequest", refused.stderr)
        self.assertEqual(inst.count("certificates"), 0)

        _, minted = inst.api("POST", "/challenges", {"device": "router-1", "cn": "router-1", "ttl_seconds": 600},
                             expect=201)
        self.assertIn("expires_at", minted)
        r = enroll("CN=router-1", minted["challenge"])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        cert = os.path.join(d, "router.pem")
        with open(cert, "wb") as f:
            f.write(r.stdout)
        self.verify(inst, cert)
        self.assertEqual([c["serial"] for c in self.certs_of(inst, "router-1")], [serial_of(cert)])

    def test_strongswan_pending_request_approved_through_the_cli(self):
        # RFC 8894 §3.3.2: with manual_approval the request is answered PENDING and the client
        # polls (CertPoll, §3.3.3) until an operator decides.
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        self.assertIn("manual_approval = false", text)
        with open(inst.config, "w") as f:
            f.write(text.replace("manual_approval = false", "manual_approval = true", 1))
        inst.start()
        self.url = f"http://127.0.0.1:{inst.http_port}/scep"
        d = self.workdir
        minted = inst.cli("challenge", "--device", "printer-3", "--cn", "printer-3").stdout.strip()

        client = start_pki_enrollment(self.url, d, "printer-3", "CN=printer-3", minted)
        try:
            pending = []
            deadline = time.time() + 30
            while not pending and time.time() < deadline:
                pending = json.loads(inst.cli("--json", "requests", "list").stdout)
                if not pending:
                    time.sleep(0.3)
            self.assertEqual(len(pending), 1, "the request never showed up as pending")
            self.assertEqual(pending[0]["device"], "printer-3")
            self.assertEqual(pending[0]["status"], "pending")
            self.assertEqual(inst.count("certificates"), 0)
            # The one-time challenge was spent when the request was held.
            with self._ledger(inst) as db:
                self.assertIsNotNone(db.execute("SELECT used_at FROM challenges").fetchone()[0])
            time.sleep(2.5)   # at least one poll answered PENDING
            self.assertIsNone(client.poll(), "the client stopped polling while the request was pending")

            inst.cli("requests", "approve", str(pending[0]["id"]))
            out, err = client.communicate(timeout=90)
        finally:
            if client.poll() is None:
                client.kill()
                client.communicate()
        self.assertEqual(client.returncode, 0, err.decode(errors="replace")[-2000:])
        cert = os.path.join(d, "printer.pem")
        with open(cert, "wb") as f:
            f.write(out)
        self.verify(inst, cert)
        self.assertEqual([c["serial"] for c in self.certs_of(inst, "printer-3")], [serial_of(cert)])
        self.assertEqual(json.loads(inst.cli("--json", "requests", "list").stdout), [])
        decided = json.loads(inst.cli("--json", "requests", "list", "--all").stdout)
        self.assertEqual([(r["status"], r["serial"]) for r in decided], [("approved", serial_of(cert))])
        _, audit = inst.api("GET", "/audit?action=scep.approve", expect=200)
        self.assertEqual(len(audit["entries"]), 1)
        self.assertTrue(audit["entries"][0]["actor"].startswith("api:"))

        # A second client's request, rejected through the CLI: its poll ends in a FAILURE.
        client = start_pki_enrollment(self.url, d, "printer-4", "CN=printer-4", self.static_of(inst))
        try:
            pending = []
            deadline = time.time() + 30
            while not pending and time.time() < deadline:
                pending = json.loads(inst.cli("--json", "requests", "list").stdout)
                if not pending:
                    time.sleep(0.3)
            self.assertEqual([r["device"] for r in pending], ["printer-4"])
            inst.cli("requests", "reject", str(pending[0]["id"]), "--reason", "unknown printer")
            out, err = client.communicate(timeout=90)
        finally:
            if client.poll() is None:
                client.kill()
                client.communicate()
        self.assertNotEqual(client.returncode, 0)
        self.assertIn(b"badRequest", err)
        self.assertEqual(out, b"")
        self.assertEqual(inst.count("certificates"), 1)

    @staticmethod
    def static_of(inst):
        with open(inst.config) as f:
            return re.search(r'^static_challenge = "([^"]+)"', f.read(), re.M).group(1)

    def test_sixteen_clients_at_once(self):
        inst = self.scep_instance()
        fingerprint = sha256_der_fingerprint(inst.ca("ra.pem"))
        procs = []
        for i in range(16):
            folder = os.path.join(self.workdir, f"c{i}")
            os.makedirs(folder)
            procs.append((folder, subprocess.Popen(
                ["scepclient", "-server-url", self.url, "-ca-fingerprint", fingerprint, "-private-key",
                 os.path.join(folder, "key.pem"), "-cn", f"fleet-{i}", "-keySize", "2048", "-challenge", self.static],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        serials = set()
        for folder, proc in procs:
            out, _ = proc.communicate(timeout=180)
            self.assertEqual(proc.returncode, 0, out)
            serials.add(serial_of(os.path.join(folder, "client.pem")))
        self.assertEqual(len(serials), 16)
        self.assertEqual(inst.count("certificates"), 16)
        with self._ledger(inst) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM scep_transactions").fetchone()[0], 16)

    def test_transport_abuse_is_4xx_never_5xx(self):
        inst = self.scep_instance()
        status, body = inst.http("GET", "/scep/pkiclient.exe?operation=GetCACaps&message=anything")
        self.assertEqual(status, 200)
        self.assertIn(b"POSTPKIOperation", body)
        status, _ = inst.http("GET", "/scep?operation=GetCACert")
        self.assertEqual(status, 200)
        cases = [
            ("POST", "/scep?operation=PKIOperation", b"\x00" * (5 * 1024 * 1024)),
            ("POST", "/scep?operation=PKIOperation", b"garbage"),
            ("POST", "/scep?operation=PKIOperation", b"\x30\x82\x10\x00\x06\x09"),
            ("GET", "/scep?operation=PKIOperation&message=%%%", None),
            ("GET", "/scep?operation=PKIOperation&message=aGVsbG8=", None),
            ("GET", "/scep?operation=Nonsense", None),
            ("PUT", "/scep", b""),
        ]
        for method, path, body in cases:
            try:
                status, _ = inst.http(method, path, body=body,
                                      headers={"Content-Type": "application/x-pki-message"})
            except ConnectionError:
                continue   # the listener may close on an oversized body: also not a 5xx
            self.assertTrue(400 <= status < 500, f"{method} {path[:60]}: {status}")
        self.assertEqual(inst.count("certificates"), 0)

    @staticmethod
    def _ledger(inst):
        import contextlib
        return contextlib.closing(inst.ledger())


if __name__ == "__main__":
    main()

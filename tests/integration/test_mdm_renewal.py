"""The certificate lifecycle with real SCEP clients (micromdm scepclient, strongSwan pki)
against the real binary: renewal (RenewalReq signed by the current certificate) inside the
profile's renewal window keeps subject and SANs, outside it is refused with the date the
window opens; an expired certificate cannot renew, `why` and the event say what to do, and
the challenges the admin mints in bulk re-enroll those devices."""

import base64
import calendar
import datetime
import hashlib
import json
import os
import re
import stat
import subprocess
import time

from harness import IntegrationTest, eventually, main, run


def run_bytes(cmd):
    return subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout


def pem_to_der(pem_path):
    return run_bytes(["openssl", "x509", "-in", pem_path, "-outform", "DER"])


def serial_of(pem):
    return re.search(r"serial=([0-9A-F]+)", run(["openssl", "x509", "-in", pem, "-noout", "-serial"]).stdout).group(1)


def names_of(pem):
    """(subject, SANs) as openssl prints them."""
    text = run(["openssl", "x509", "-in", pem, "-noout", "-subject", "-ext", "subjectAltName"]).stdout
    subject = re.search(r"^subject=(.*)$", text, re.M).group(1).strip()
    sans = re.search(r"X509v3 Subject Alternative Name:\s*\n\s*(.*)", text)
    return subject, sans.group(1).strip() if sans else ""


def not_after_of(pem):
    text = run(["openssl", "x509", "-in", pem, "-noout", "-enddate"]).stdout.strip().split("=", 1)[1]
    return calendar.timegm(time.strptime(text, "%b %d %H:%M:%S %Y GMT"))


def utc(t, fmt):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(fmt)


class MdmRenewalTest(IntegrationTest):
    def lifecycle_instance(self, validity_days=365, renew_before_days=0):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1. The
        # device profile's own lines come first in the template init writes.
        text = (text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
                .replace("validity_days = 365\n", f"validity_days = {validity_days}\n", 1)
                .replace("renew_before_days = 0 ", f"renew_before_days = {renew_before_days} ", 1))
        with open(inst.config, "w") as f:
            f.write(text)
        inst.start()
        self.url = f"http://127.0.0.1:{inst.http_port}/scep"
        return inst

    # --- clients -------------------------------------------------------------------------

    def scepclient(self, inst, folder, cn, challenge=None, renew=False):
        folder = os.path.join(self.workdir, folder)
        os.makedirs(folder, exist_ok=True)
        # Name the RA by its SHA-256 fingerprint, or scepclient 2.1.0 encrypts to every
        # certificate of the GetCACert answer.
        cmd = ["scepclient", "-server-url", self.url, "-ca-fingerprint",
               hashlib.sha256(pem_to_der(inst.ca("ra.pem"))).hexdigest(),
               "-private-key", os.path.join(folder, "key.pem"), "-cn", cn, "-keySize", "2048"]
        if challenge is not None:
            cmd += ["-challenge", challenge]
        if renew:
            cmd += ["-certificate", os.path.join(folder, "client.pem")]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120), os.path.join(folder, "client.pem")

    def pki(self, inst, name, dn, password=None, old=None, sans=()):
        """strongSwan pki --scep with a fresh key; `old` = (cert, key) makes it a RenewalReq
        signed by that certificate. Returns (process, cert path, key path)."""
        d = self.workdir
        ca, ra = os.path.join(d, "ca.crt"), os.path.join(d, "ra.crt")
        if not os.path.exists(ra):
            run(["pki", "--scepca", "--url", self.url, "--caout", ca, "--raout", ra])
        key = os.path.join(d, f"{name}.der")
        with open(key, "wb") as f:
            f.write(run_bytes(["pki", "--gen", "--type", "rsa", "--size", "2048"]))
        cmd = ["pki", "--scep", "--url", self.url, "--in", key, "--dn", dn, "--cacert-enc", ra, "--cacert-sig", ra,
               "--cacert", ca, "--cipher", "aes", "--digest", "sha256", "--interval", "2", "--maxpolltime", "60",
               "--outform", "pem"]
        for san in sans:
            cmd += ["--san", san]
        if password is not None:
            cmd += ["--password", password]
        if old is not None:
            cmd += ["--cert", old[0], "--key", old[1]]
        r = subprocess.run(cmd, capture_output=True, timeout=120)
        cert = os.path.join(d, f"{name}.pem")
        if r.returncode == 0:
            with open(cert, "wb") as f:
                f.write(r.stdout)
        return r, cert, key

    # --- ledger and events ---------------------------------------------------------------

    def events(self, inst, *filters):
        return json.loads(inst.cli("events", *filters, "--json").stdout)

    def rejection(self, inst, device):
        return eventually(lambda: [e for e in self.events(inst, "--kind", "scep", "--outcome", "reject")
                                   if e["device"] == device],
                          lambda rows: len(rows) >= 1)[0]

    def challenge(self, inst, device, *extra):
        return inst.cli("challenge", "--device", device, "--ttl", "10m", *extra).stdout.strip()

    def expire(self, inst, pem, days_ago):
        """The certificate the device holds is made to have expired `days_ago` days ago: the
        issuing CA signs a copy (same serial, key and subject) dated 60 days before that,
        and the ledger row takes its dates and bytes, as if time had passed. The service
        must be stopped (its index is loaded at start)."""
        serial = serial_of(pem)
        folder = os.path.join(self.workdir, "expire-" + serial)
        os.makedirs(folder)
        open(os.path.join(folder, "index.txt"), "w").close()
        with open(os.path.join(folder, "serial"), "w") as f:
            f.write(serial + "\n")
        cnf = os.path.join(folder, "ca.cnf")
        with open(cnf, "w") as f:
            f.write(f"[ca]\ndefault_ca=d\n[d]\ndatabase={folder}/index.txt\nnew_certs_dir={folder}\n"
                    f"serial={folder}/serial\ndefault_md=sha256\npolicy=p\nx509_extensions=e\n"
                    "[p]\ncommonName=supplied\n[e]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        csr = os.path.join(folder, "req.csr")
        key = os.path.join(os.path.dirname(pem), "key.pem")
        run(["openssl", "x509", "-x509toreq", "-in", pem, "-signkey", key, "-out", csr])
        end = int(time.time()) - days_ago * 86400
        out = os.path.join(folder, "expired.pem")
        run(["openssl", "ca", "-batch", "-config", cnf, "-cert", inst.ca("issuing.pem"), "-keyfile",
             inst.ca("issuing.key"), "-in", csr, "-out", out, "-notext",
             "-startdate", utc(end - 60 * 86400, "%Y%m%d%H%M%SZ"), "-enddate", utc(end, "%Y%m%d%H%M%SZ")])
        self.assertEqual(serial_of(out), serial)
        der = pem_to_der(out)
        with inst.ledger() as db:
            changed = db.execute("UPDATE certificates SET der = ?, sha256_fingerprint = ?, not_before = ?, "
                                 "not_after = ? WHERE serial = ?",
                                 (der, hashlib.sha256(der).hexdigest().upper(), end - 60 * 86400, end,
                                  serial)).rowcount
        self.assertEqual(changed, 1)
        os.replace(out, pem)

    # --- tests ---------------------------------------------------------------------------

    def test_an_expired_certificate_cannot_renew_and_bulk_challenges_reenroll(self):
        inst = self.lifecycle_instance()
        for device in ("ipad-old", "ipad-other", "ipad-current"):
            r, _ = self.scepclient(inst, device, device, self.challenge(inst, device))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        inst.stop()
        self.expire(inst, os.path.join(self.workdir, "ipad-old", "client.pem"), days_ago=3)
        self.expire(inst, os.path.join(self.workdir, "ipad-other", "client.pem"), days_ago=20)
        inst.start()

        # RenewalReq signed by the expired certificate: FAILURE badRequest, nothing issued.
        before = inst.count("certificates")
        expired_serial = serial_of(os.path.join(self.workdir, "ipad-old", "client.pem"))
        r, _ = self.scepclient(inst, "ipad-old", "ipad-old", renew=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("failInfo: badRequest", r.stdout + r.stderr)
        self.assertEqual(inst.count("certificates"), before)
        e = self.rejection(inst, "ipad-old")
        self.assertEqual((e["reason"], e["serial"]), ("renewal_signer_expired", expired_serial))
        self.assertIn("an expired certificate cannot renew", e["detail"])
        self.assertIn("portcullis challenge --device ipad-old", e["detail"])
        self.assertIn("portcullis challenge --expired-within DAYS", e["detail"])
        # `why` names what to do: a new one-time challenge, for this device or for all of them.
        why = eventually(lambda: inst.cli("why", "ipad-old", check=False).stdout,
                         lambda out: "cannot renew" in out)
        self.assertIn(f"it asked to renew with certificate {expired_serial}, which has expired", why)
        self.assertIn("`portcullis challenge --device ipad-old`", why)
        self.assertIn("`portcullis challenge --expired-within 30 --out reenroll.tsv`", why)

        # Bulk: the devices whose certificate expired within 10 days: ipad-old only; within
        # 30 days: ipad-old and ipad-other; never ipad-current (valid).
        out = os.path.join(self.workdir, "reenroll.tsv")
        minted = inst.cli("challenge", "--expired-within", "10", "--ttl", "10m", "--out", out)
        self.assertIn("minted 1 one-time challenge into", minted.stderr)
        self.assertEqual(minted.stdout, "")
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out) as f:
            rows = [line.split("\t") for line in f.read().splitlines()]
        self.assertEqual([(r[0], r[1]) for r in rows], [("ipad-old", "device")])
        self.assertRegex(rows[0][2], r"^[0-9a-f]{32}$")
        status, body = inst.api("POST", "/challenges/bulk", {"expired_within_days": 30, "ttl_seconds": 600})
        self.assertEqual(status, 201)
        self.assertEqual(body["count"], 2)
        listed = {c["device"]: c for c in body["challenges"]}
        self.assertEqual(set(listed), {"ipad-old", "ipad-other"})
        self.assertEqual(listed["ipad-old"]["expired_serial"], expired_serial)
        self.assertGreater(listed["ipad-other"]["expires_at_unix"], time.time() + 500)

        # Every minted challenge is audited under the caller's name, the secret nowhere.
        _, audit = inst.api("GET", "/audit?action=challenge.mint&limit=100", expect=200)
        mints = [a for a in audit["entries"] if a["target"] in ("ipad-old", "ipad-other")]
        self.assertEqual(sorted(a["target"] for a in mints if a["actor"].startswith("api:")),
                         ["ipad-old", "ipad-old", "ipad-old", "ipad-other", "ipad-other"])

        # The minted challenge re-enrolls the device (a new key, a PKCSReq); once only.
        r, pem = self.scepclient(inst, "ipad-old-new", "ipad-old", rows[0][2])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(names_of(pem)[0], "CN = ipad-old")
        verified = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", inst.ca("issuing.pem"), pem])
        self.assertIn(": OK", verified.stdout)
        r, _ = self.scepclient(inst, "ipad-old-again", "ipad-old", rows[0][2])
        self.assertNotEqual(r.returncode, 0)
        # ipad-old holds a valid certificate now: no longer at the dead end.
        status, body = inst.api("POST", "/challenges/bulk", {"expired_within_days": 30})
        self.assertEqual([c["device"] for c in body["challenges"]], ["ipad-other"])

        # Named devices: all minted in one transaction, or none.
        before = inst.count("challenges")
        inst.cli("devices", "disable", "ipad-current")
        inst.api("POST", "/challenges/bulk", {"devices": ["ipad-other", "ipad-current"]}, expect=409)
        inst.api("POST", "/challenges/bulk", {"devices": ["ipad-other", "no-such-device"]}, expect=404)
        inst.api("POST", "/challenges/bulk", {"devices": ["ipad-other", "ipad-other"]}, expect=400)
        inst.api("POST", "/challenges/bulk", {"devices": []}, expect=400)
        inst.api("POST", "/challenges/bulk", {"devices": ["d-%d" % i for i in range(1001)]}, expect=400)
        inst.api("POST", "/challenges/bulk", {"devices": ["ipad-other"], "expired_within_days": 3}, expect=400)
        inst.api("POST", "/challenges/bulk", {"expired_within_days": 0}, expect=400)
        inst.api("POST", "/challenges/bulk", {"expired_within_days": None}, expect=400)
        inst.api("POST", "/challenges/bulk", {"devices": None}, expect=400)
        inst.api("POST", "/challenges/bulk", {"expired_within_days": 3, "profile": "nope"}, expect=400)
        inst.api("POST", "/challenges/bulk", {"expired_within_days": 3, "ttl_seconds": 31 * 86400}, expect=400)
        self.assertEqual(inst.count("challenges"), before)
        self.assertNotEqual(inst.cli("challenge", "--expired-within", "3", "--device", "ipad-other",
                                     check=False).returncode, 0)
        self.assertNotEqual(inst.cli("challenge", check=False).returncode, 0)
        many = inst.cli("--json", "challenge", "--device", "ipad-other", "--device", "ipad-old")
        self.assertEqual([c["device"] for c in json.loads(many.stdout)], ["ipad-other", "ipad-old"])
        self.assertEqual(inst.count("challenges"), before + 2)

        log = inst.log()
        for secret in [rows[0][2], *(c["challenge"] for c in listed.values())]:
            self.assertNotIn(secret, log)

    def test_renewal_inside_the_window_keeps_subject_and_sans_with_both_clients(self):
        # 20 days valid, renewals from 30 days before expiry: always inside the window.
        inst = self.lifecycle_instance(validity_days=20, renew_before_days=30)

        # scepclient: enrolled with a SAN pinned by the challenge; the RenewalReq's CSR
        # carries none, and the renewed certificate still names it.
        challenge = self.challenge(inst, "ipad-4", "--san", "dns:ipad-4.corp.example")
        r, pem = self.scepclient(inst, "ipad-4", "ipad-4", challenge)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        first_serial, first_names = serial_of(pem), names_of(pem)
        self.assertEqual(first_names, ("CN = ipad-4", "DNS:ipad-4.corp.example"))
        r, pem = self.scepclient(inst, "ipad-4", "ipad-4", renew=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotEqual(serial_of(pem), first_serial)
        self.assertEqual(names_of(pem), first_names)

        # strongSwan pki: a RenewalReq signed by the current certificate whose CSR asks for
        # another subject and SAN gets the names of the certificate it renews.
        challenge = self.challenge(inst, "router-2", "--san", "dns:router-2.corp.example")
        r, cert, key = self.pki(inst, "router-2", "CN=router-2", password=challenge)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        self.assertEqual(names_of(cert), ("CN = router-2", "DNS:router-2.corp.example"))
        r, renewed, _ = self.pki(inst, "router-2-renewed", "CN=someone-else", old=(cert, key),
                                 sans=["dns:other.corp.example"])
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        self.assertNotEqual(serial_of(renewed), serial_of(cert))
        self.assertEqual(names_of(renewed), ("CN = router-2", "DNS:router-2.corp.example"))

        renewed_events = eventually(lambda: self.events(inst, "--kind", "scep", "--outcome", "renewed"),
                                    lambda rows: len(rows) >= 2)
        self.assertEqual(sorted(e["device"] for e in renewed_events), ["ipad-4", "router-2"])
        # A renewal does not supersede what it renews: both certificates stay valid.
        for device in ("ipad-4", "router-2"):
            listed = json.loads(inst.cli("--json", "certs", "list", "--device", device).stdout)
            self.assertEqual([c["status"] for c in listed], ["valid", "valid"])

    def test_renewal_before_the_window_is_refused_with_its_date_by_both_clients(self):
        # 20 days valid, renewals only within 10 days of expiry: today is too early.
        inst = self.lifecycle_instance(validity_days=20, renew_before_days=10)

        r, pem = self.scepclient(inst, "ipad-3", "ipad-3", self.challenge(inst, "ipad-3"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        opens = utc(not_after_of(pem) - 10 * 86400, "%Y-%m-%d %H:%M UTC")
        r, _ = self.scepclient(inst, "ipad-3", "ipad-3", renew=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("failInfo: badRequest", r.stdout + r.stderr)
        e = self.rejection(inst, "ipad-3")
        self.assertEqual(e["reason"], "renewal_too_early")
        self.assertIn(f"renews within 10 days of expiry; the window opens {opens}", e["detail"])

        r, cert, key = self.pki(inst, "router-3", "CN=router-3", password=self.challenge(inst, "router-3"))
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        opens = utc(not_after_of(cert) - 10 * 86400, "%Y-%m-%d %H:%M UTC")
        r, _, _ = self.pki(inst, "router-3-renewed", "CN=router-3", old=(cert, key))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"badRequest", r.stderr)
        e = self.rejection(inst, "router-3")
        self.assertEqual(e["reason"], "renewal_too_early")
        self.assertIn(f"the window opens {opens}", e["detail"])
        self.assertEqual(len(json.loads(inst.cli("--json", "certs", "list", "--device", "router-3").stdout)), 1)
        self.assertEqual(len(json.loads(inst.cli("--json", "certs", "list", "--device", "ipad-3").stdout)), 1)


if __name__ == "__main__":
    main()

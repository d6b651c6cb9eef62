"""MDM profiles from the real binary: the Apple .mobileconfig parsed by Python's
plistlib (a real plist parser) with its cross-references checked and its challenge proven
single-use with micromdm scepclient; the Android ONC and the Windows CSP values checked
against the CA files with openssl."""

import base64
import hashlib
import http.client
import json
import os
import plistlib
import re
import stat
import subprocess

from harness import IntegrationTest, main, run
from mdm_published_keys import APPLE, WINDOWS_SCEP_INSTALL, WINDOWS_VALID_PERIODS


def der_of(pem_path):
    return subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"], capture_output=True, check=True,
                          timeout=60).stdout


class MdmProfilesTest(IntegrationTest):
    def scep_instance(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        with open(inst.config, "w") as f:
            f.write(text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true"))
        inst.start()
        return inst

    def scepclient(self, inst, folder, cn, challenge):
        os.makedirs(folder, exist_ok=True)
        # As in test_scep.py: name the RA by its SHA-256 fingerprint, or scepclient 2.1.0
        # encrypts to every certificate of the GetCACert answer.
        ra_fp = hashlib.sha256(der_of(inst.ca("ra.pem"))).hexdigest()
        return subprocess.run(["scepclient", "-server-url", self.scep_url, "-ca-fingerprint", ra_fp, "-private-key",
                               os.path.join(folder, "key.pem"), "-cn", cn, "-keySize", "2048", "-challenge", challenge],
                              capture_output=True, text=True, timeout=120)

    def test_apple_mobileconfig_parses_and_its_challenge_is_single_use(self):
        inst = self.scep_instance()
        self.scep_url = f"http://127.0.0.1:{inst.http_port}/scep"
        out = os.path.join(self.workdir, "ipad-9.mobileconfig")
        inst.cli("profile", "apple", "--device", "ipad-9", "--ssid", "R&D <Corp>", "--out", out)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out, "rb") as f:
            doc = plistlib.load(f)

        self.assertEqual(doc["PayloadType"], "Configuration")
        for p in [doc, *doc["PayloadContent"]]:
            for key in ("PayloadIdentifier", "PayloadType", "PayloadVersion", "PayloadDisplayName", "PayloadUUID"):
                self.assertIn(key, p)
            self.assertRegex(p["PayloadUUID"], r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
        by_type = {p["PayloadType"]: p for p in doc["PayloadContent"]}
        self.assertEqual(set(by_type), {"com.apple.security.root", "com.apple.security.scep", "com.apple.wifi.managed"})
        root, scep, wifi = (by_type[t] for t in ("com.apple.security.root", "com.apple.security.scep",
                                                 "com.apple.wifi.managed"))

        root_der = der_of(inst.ca("root.pem"))
        self.assertEqual(root["PayloadContent"], root_der)

        content = scep["PayloadContent"]
        # The instance's http.public_url is http://localhost:<port>.
        self.assertEqual(content["URL"], f"http://localhost:{inst.http_port}/scep")
        self.assertEqual(content["Subject"], [[["CN", "ipad-9"]]])
        self.assertEqual(content["Keysize"], 2048)
        self.assertEqual(content["Key Type"], "RSA")
        self.assertEqual(content["Key Usage"], 5)
        self.assertIs(content["KeyIsExtractable"], False)
        # Apple compares it with the top of the chain built from GetCACert: the root.
        self.assertEqual(content["CAFingerprint"], hashlib.sha1(root_der).digest())

        self.assertEqual(wifi["SSID_STR"], "R&D <Corp>")
        self.assertEqual(wifi["EncryptionType"], "WPA2")
        self.assertIs(wifi["AutoJoin"], True)
        self.assertEqual(wifi["PayloadCertificateUUID"], scep["PayloadUUID"])
        eap = wifi["EAPClientConfiguration"]
        self.assertEqual(eap["AcceptEAPTypes"], [13])
        self.assertEqual(eap["TLSTrustedServerNames"], ["localhost"])
        self.assertIn(root["PayloadUUID"], eap["PayloadCertificateAnchorUUID"])

        # The same through the admin API: Apple's MIME type, never cached, fresh UUIDs and
        # a fresh challenge; --wpa3 / wpa3=true selects WPA3-Enterprise.
        status, body = inst.http("GET", "/api/v1/devices/ipad-9/profile/apple?ssid=Corp&wpa3=true", admin=True)
        self.assertEqual(status, 200, body[:300])
        again = plistlib.loads(body)
        again_wifi = [p for p in again["PayloadContent"] if p["PayloadType"] == "com.apple.wifi.managed"][0]
        self.assertEqual(again_wifi["EncryptionType"], "WPA3")
        again_scep = [p for p in again["PayloadContent"] if p["PayloadType"] == "com.apple.security.scep"][0]
        self.assertNotEqual(again_scep["PayloadUUID"], scep["PayloadUUID"])
        self.assertNotEqual(again_scep["PayloadContent"]["Challenge"], content["Challenge"])

        # The challenge enrolls once, bound to the device, then never again; it is not logged.
        challenge = content["Challenge"]
        r = self.scepclient(inst, os.path.join(self.workdir, "first"), "ipad-9", challenge)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cert = os.path.join(self.workdir, "first", "client.pem")
        verified = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", inst.ca("issuing.pem"), cert])
        self.assertIn(": OK", verified.stdout)
        r = self.scepclient(inst, os.path.join(self.workdir, "second"), "ipad-9", challenge)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("badRequest", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "second", "client.pem")))
        self.assertNotIn(challenge, inst.log())

    def test_admin_api_headers_and_refusals(self):
        inst = self.scep_instance()
        conn = http.client.HTTPConnection("127.0.0.1", inst.admin_port, timeout=30)
        conn.request("GET", "/api/v1/devices/mac-1/profile/apple?ssid=Corp",
                      headers={"Authorization": "Bearer " + inst.token})
        resp = conn.getresponse()
        resp.read()
        conn_headers = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        self.assertEqual(resp.status, 200)
        self.assertEqual(conn_headers["content-type"], "application/x-apple-aspen-config")
        self.assertEqual(conn_headers["cache-control"], "no-store")

        before = inst.count("challenges")
        inst.api("GET", "/devices/mac-1/profile/apple", expect=400)                 # no ssid
        inst.api("GET", "/devices/mac-1/profile/apple?ssid=" + "x" * 33, expect=400)
        inst.api("GET", "/devices/mac-1/profile/apple?ssid=Corp&wpa3=maybe", expect=400)
        inst.api("GET", "/devices/mac-1/profile/apple?ssid=Corp&profile=nope", expect=400)
        inst.api("GET", "/devices/mac-1/profile/apple?ssid=Corp&secret=1", expect=400)
        inst.api("GET", "/devices/mac-1/profile/blackberry?ssid=Corp", expect=404)
        inst.api("POST", "/devices/mac-1/profile/apple?ssid=Corp", expect=405)
        self.assertEqual(inst.count("challenges"), before)
        self.assertNotEqual(inst.cli("profile", "android", "--device", "mac-1", check=False).returncode, 0)

    def test_android_onc_and_windows_csp_values(self):
        inst = self.scep_instance()
        root_der = der_of(inst.ca("root.pem"))

        android = json.loads(inst.cli("profile", "android", "--device", "pixel-2", "--ssid", "Corp").stdout)
        onc = android["onc"]
        net = onc["NetworkConfigurations"][0]
        certs = {c["GUID"]: c for c in onc["Certificates"]}
        self.assertEqual(net["Type"], "WiFi")
        self.assertEqual(net["WiFi"]["SSID"], "Corp")
        self.assertEqual(net["WiFi"]["Security"], "WPA-EAP")
        eap = net["WiFi"]["EAP"]
        self.assertEqual(eap["Outer"], "EAP-TLS")
        self.assertEqual(eap["DomainSuffixMatch"], ["localhost"])
        self.assertEqual(len(eap["ServerCARefs"]), 1)
        ref = certs[eap["ServerCARefs"][0]]
        self.assertEqual(ref["Type"], "Authority")
        self.assertEqual(base64.b64decode(ref["X509"]), root_der)
        self.assertEqual(eap["ClientCertKeyPairAlias"], android["scep"]["key_alias"])
        self.assertEqual(android["scep"]["url"], f"http://localhost:{inst.http_port}/scep")
        self.assertEqual(android["scep"]["subject"], "CN=pixel-2")
        self.assertRegex(android["scep"]["challenge"], r"^[0-9a-f]{32}$")
        self.assertEqual(android["scep"]["ca_fingerprint_sha256"], hashlib.sha256(root_der).hexdigest().upper())

        windows = json.loads(inst.cli("profile", "windows", "--device", "laptop-5").stdout)
        values = windows["values"]
        sha1 = run(["openssl", "x509", "-in", inst.ca("root.pem"), "-noout", "-fingerprint", "-sha1"]).stdout
        thumbprint = re.search(r"=([0-9A-F:]+)", sha1).group(1).replace(":", "")
        self.assertEqual(values["CAThumbprint"], thumbprint)
        self.assertEqual(values["SubjectName"], "CN=laptop-5")
        self.assertEqual(values["EKUMapping"], "1.3.6.1.5.5.7.3.2")
        self.assertEqual(values["KeyLength"], 2048)
        self.assertEqual(values["KeyUsage"], 0xA0)
        self.assertEqual(values["HashAlgorithm"], "SHA-2")
        self.assertEqual(values["ValidPeriod"], "Days")
        self.assertGreater(values["ValidPeriodUnits"], 0)
        self.assertTrue(windows["node"].endswith("/Install"))

        # Each call minted one challenge, stored hashed, bound to its device.
        with inst.ledger() as db:
            hashes = {h for (h,) in db.execute("SELECT secret_hash FROM challenges").fetchall()}
        self.assertEqual(hashes, {hashlib.sha256(c.encode()).hexdigest()
                                  for c in (android["scep"]["challenge"], values["Challenge"])})
        self.assertNotIn(values["Challenge"], inst.log())

    def test_every_key_is_published_and_renewal_follows_the_profile(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        # The device profile's own lines come first in the template init writes.
        with open(inst.config, "w") as f:
            f.write(text.replace("validity_days = 365\n", "validity_days = 90\n", 1)
                    .replace("renew_before_days = 0 ", "renew_before_days = 10 ", 1))
        inst.start()

        status, body = inst.http("GET", "/api/v1/devices/mac-7/profile/apple?ssid=Corp", admin=True)
        self.assertEqual(status, 200, body[:300])
        doc = plistlib.loads(body)
        self.assertLessEqual(set(doc), APPLE["Configuration"])
        for payload in doc["PayloadContent"]:
            kind = payload["PayloadType"]
            self.assertLessEqual(set(payload), APPLE[kind], kind)
            for key, value in payload.items():
                if isinstance(value, dict):
                    self.assertLessEqual(set(value), APPLE[f"{kind}/{key}"], f"{kind} {key}")
        scep = [p for p in doc["PayloadContent"] if p["PayloadType"] == "com.apple.security.scep"][0]
        self.assertEqual(scep["PayloadDescription"],
                         "The certificate is valid for 90 days. To renew it, install this profile again within 10 "
                         "days of its expiry (earlier renewals are refused).")

        _, windows = inst.api("GET", "/devices/laptop-7/profile/windows", expect=200)
        self.assertLessEqual(set(windows["values"]), WINDOWS_SCEP_INSTALL)
        self.assertIn(windows["values"]["ValidPeriod"], WINDOWS_VALID_PERIODS)
        self.assertEqual(windows["values"]["ValidPeriodUnits"], 90)
        self.assertEqual(windows["renewal"], {"renew_before_days": 10, "renewal_threshold_percent": 12})

        _, android = inst.api("GET", "/devices/pixel-7/profile/android?ssid=Corp", expect=200)
        self.assertEqual((android["scep"]["validity_days"], android["scep"]["renew_before_days"],
                          android["scep"]["renewal_threshold_percent"]), (90, 10, 12))


if __name__ == "__main__":
    main()

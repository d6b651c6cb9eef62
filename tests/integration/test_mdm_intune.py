"""[mdm.intune] with real SCEP clients (micromdm scepclient, strongSwan pki) against the real
binary and intune_standin.py, a local stand-in for Microsoft Entra ID, Microsoft Graph and
the Intune services implementing the published client libraries' wire contract (the real
cloud cannot be reached here): validateRequest (Success, each documented error code, an
unknown one, a time-out, a failing endpoint rediscovered), successNotification before the
CertRep (a failed one withdraws the certificate: FAILURE, revoked in the ledger and OCSP,
failureNotification sent), the revocation sync disconnecting a live RADIUS session, and
Intune's SID URI SAN carried into a certificate enrolled with a client-certificate credential."""

import hashlib
import json
import os
import re
import subprocess
import sys
import time

import test_dynauth
import test_mdm
from harness import IntegrationTest, corporate_root, eventually, free_port, main, run
from intune_standin import IntuneStandIn

TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6f1c2a8e-1b7d-4c55-9a0e-3f2d4b6c8a10"
CLIENT_SECRET = "intune-client-secret-Zx81kQ"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
SID_URI = "tag:microsoft.com,2022-09-14:sid:" + SID
DOCUMENTED = ["CertificateRequestDecodingFailed", "ChallengePasswordMissing", "ChallengeDeserializationError",
              "ChallengeDecryptionError", "ChallengeDecodingError", "ChallengeInvalidTimestamp", "ChallengeExpired",
              "SubjectNameMissing", "SubjectNameMismatch", "SubjectAltNameMissing", "SubjectAltNameMismatch",
              "KeyUsageMismatch", "KeyLengthMismatch", "EnhancedKeyUsageMissing", "EnhancedKeyUsageMismatch",
              "AadKeyIdentifierListMissing", "RegisteredKeyMismatch", "SigningCertThumbprintMismatch",
              "ScepProfileNoLongerTargetedToTheClient", "SignatureValidationFailed",
              "BadCertificateRequestIdInChallenge", "BadDeviceIdInChallenge", "BadUserIdInChallenge"]
FAIL_INFO = {"ChallengeExpired": "badTime", "ChallengeInvalidTimestamp": "badTime",
             "SignatureValidationFailed": "badMessageCheck", "SigningCertThumbprintMismatch": "badMessageCheck"}


def server_cert(workdir):
    """The stand-in's certificate (IP 127.0.0.1), signed by a test root."""
    folder, root_key, root_cert, _ = corporate_root(workdir)
    key, csr, cert, ext = (os.path.join(folder, n) for n in ("ms.key", "ms.csr", "ms.pem", "ms.ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-subj", "/CN=127.0.0.1", "-out", csr])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", root_cert, "-CAkey", root_key, "-CAcreateserial",
         "-days", "2", "-extfile", ext, "-out", cert])
    return root_cert, (cert, key)


class IntuneTest(IntegrationTest):
    # test_mdm's helpers (its test class is not imported, so its tests do not run twice).
    edit_config = test_mdm.MdmTest.edit_config
    scepclient = test_mdm.MdmTest.scepclient
    events = test_mdm.MdmTest.events
    rejection = test_mdm.MdmTest.rejection

    def standin(self, **kw):
        root, tls = server_cert(self.workdir)
        s = IntuneStandIn(tls, TENANT, CLIENT_ID, **kw)
        self.addCleanup(s.close)
        self.root = root
        return s

    def intune_config(self, s, credential=None, timeout_ms=3000, sync=0):
        credential = credential or 'client_secret_file = "intune.secret"\n'
        return (f'\n[mdm.intune]\nenabled = true\ntenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n{credential}'
                f'login_url = "{s.base}"\ngraph_url = "{s.base}"\nca_file = "{self.root}"\n'
                f'timeout_ms = {timeout_ms}\nrevocation_sync_seconds = {sync}\n')

    def intune_instance(self, s, **kw):
        inst = self.instance(start=False)
        with open(os.path.join(inst.dir, "intune.secret"), "w") as f:
            f.write(CLIENT_SECRET + "\n")
        self.edit_config(inst, lambda t: re.sub(r"refusal_rows_per_source_per_minute = \d+",
                                                "refusal_rows_per_source_per_minute = 100",
                                                t.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true"))
                         + self.intune_config(s, **kw))
        inst.start()
        return inst

    def certificate_rows(self, inst, cn_prefix):
        """The certificates of devices whose name starts with cn_prefix (init issued others)."""
        with inst.ledger() as db:
            return db.execute("SELECT c.serial, c.revoked_at IS NOT NULL, c.revocation_reason, c.der FROM certificates c "
                              "JOIN devices d ON d.id = c.device_id WHERE d.name LIKE ?", (cn_prefix + "%",)).fetchall()

    def test_success_validates_notifies_and_caches_token_and_endpoints(self):
        s = self.standin(client_secret=CLIENT_SECRET)
        inst = self.intune_instance(s)
        r, pem = self.scepclient(inst, "ok", "intune-laptop-1", "intune-encrypted-challenge-blob")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        serial = run(["openssl", "x509", "-in", pem, "-noout", "-serial"]).stdout.strip().split("=")[1]
        thumb = run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha1"]).stdout.strip()
        thumb = thumb.split("=")[1].replace(":", "")
        (vh, validate), = s.actions("validateRequest")
        (nh, notified), = s.actions("successNotification")
        tid = validate["request"]["transactionId"]
        self.assertEqual(notified["notification"]["transactionId"], tid)
        self.assertEqual(notified["notification"]["certificateRequest"], validate["request"]["certificateRequest"])
        self.assertEqual(notified["notification"]["certificateSerialNumber"].upper(), serial.upper())
        self.assertEqual(notified["notification"]["certificateThumbprint"], thumb.upper())
        self.assertEqual(vh["api-version"], "2018-02-20")
        self.assertNotEqual(vh["client-request-id"], nh["client-request-id"])
        self.assertEqual(s.actions("failureNotification"), [])
        # A second enrollment uses the cached tokens and endpoints.
        r, _ = self.scepclient(inst, "ok2", "intune-laptop-2", "intune-encrypted-challenge-blob-2")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(sorted(s.token_requests), sorted([(s.base + "/.default", "secret"),
                                                           ("https://api.manage.microsoft.com//.default", "secret")]))
        self.assertEqual(s.discoveries, 1)
        self.assertEqual(s.violations, [])
        device = json.loads(inst.cli("--json", "devices", "show", "intune-laptop-1").stdout)
        self.assertIn("intune", device["groups"])
        issued = [e for e in self.events(inst, "--kind", "scep") if e["outcome"] == "issued"]
        self.assertTrue(all("allowed by intune" in e["detail"] for e in issued), issued)
        log = inst.log()
        self.assertNotIn(CLIENT_SECRET, log)
        for token in s.tokens:
            self.assertNotIn(token, log)

    def test_each_documented_error_code_is_refused_with_its_reason(self):
        s = self.standin(client_secret=CLIENT_SECRET)
        s.validation_code = lambda body: (body["request"]["transactionId"] and s.next_code, "scripted " + s.next_code)
        inst = self.intune_instance(s)
        for i, code in enumerate(DOCUMENTED + ["SomethingNewFromIntune"]):
            s.next_code = code
            cn = f"refused-{i}"
            r, pem = self.scepclient(inst, cn, cn, f"challenge-{i}")   # a new key and CSR each
            self.assertNotEqual(r.returncode, 0, code)
            self.assertFalse(os.path.exists(pem))
            e = self.rejection(inst, cn)[0]
            self.assertEqual(e["reason"], "challenge_denied", e)
            expected = code if code in DOCUMENTED else "Unknown"
            self.assertIn(f"intune: {expected}", e["detail"])
            self.assertIn("scripted " + code, e["detail"])
            self.assertTrue(e["detail"].startswith(FAIL_INFO.get(code, "badRequest") + ":"), e["detail"])
        self.assertEqual(self.certificate_rows(inst, "refused-"), [])
        self.assertEqual(s.actions("successNotification"), [])
        self.assertEqual(s.actions("failureNotification"), [], "Intune refused them itself: nothing to tell")
        self.assertEqual(s.violations, [])

    def test_a_failed_success_notification_withdraws_the_certificate(self):
        s = self.standin(client_secret=CLIENT_SECRET)
        s.success_status = 500
        inst = self.intune_instance(s)
        r, pem = self.scepclient(inst, "withdrawn", "intune-laptop-w", "challenge-w")
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(pem))
        (serial, revoked, reason, der), = self.certificate_rows(inst, "intune-laptop-w")
        self.assertEqual((revoked, reason), (1, 5))   # cessationOfOperation (RFC 5280 §5.3.1)
        cert = os.path.join(self.workdir, "withdrawn.pem")
        with open(cert, "wb") as f:
            f.write(subprocess.run(["openssl", "x509", "-inform", "DER", "-outform", "PEM"], input=der,
                                   capture_output=True, check=True).stdout)
        out = run(["openssl", "ocsp", "-issuer", inst.ca("issuing.pem"), "-cert", cert,
                   "-url", f"http://127.0.0.1:{inst.http_port}/ocsp", "-CAfile", inst.ca("root.pem")])
        self.assertIn(": revoked", out.stdout)
        e = self.rejection(inst, "intune-laptop-w")[0]
        self.assertEqual(e["reason"], "source_confirmation_failed")
        self.assertEqual(e["serial"], serial)
        self.assertIn("HTTP 500", e["detail"])
        # Intune hears of the refusal: an HRESULT and a short description.
        (_, failure), = eventually(lambda: s.actions("failureNotification"), lambda rows: len(rows) == 1)
        n = failure["notification"]
        self.assertEqual(n["hResult"], 0x80090020)
        self.assertTrue(n["errorDescription"].startswith("source_confirmation_failed"))
        self.assertEqual(n["transactionId"], s.actions("validateRequest")[0][1]["request"]["transactionId"])
        # The client retries the same transaction: it must not get the withdrawn certificate.
        r, pem = self.scepclient(inst, "withdrawn", "intune-laptop-w", "challenge-w")
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(pem))
        self.assertEqual(len(self.certificate_rows(inst, "intune-laptop-w")), 1)
        self.assertEqual(s.violations, [])

    def test_no_answer_in_time_is_a_refusal_and_a_failing_endpoint_is_discovered_again(self):
        s = self.standin(client_secret=CLIENT_SECRET)
        s.delay["validateRequest"] = 4
        inst = self.intune_instance(s, timeout_ms=1000)
        t0 = time.monotonic()
        r, _ = self.scepclient(inst, "slow", "intune-slow", "challenge-slow")
        self.assertNotEqual(r.returncode, 0)
        self.assertLess(time.monotonic() - t0, 4, "the SCEP worker waited for the slow answer")
        e = self.rejection(inst, "intune-slow")[0]
        self.assertEqual(e["reason"], "challenge_source_unavailable")
        self.assertIn("no answer within 1000 ms", e["detail"])
        s.delay.clear()
        s.fail_next["validateRequest"] = 503
        r, _ = self.scepclient(inst, "fails", "intune-fails", "challenge-503")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("HTTP 503", self.rejection(inst, "intune-fails")[0]["detail"])
        r, _ = self.scepclient(inst, "fine", "intune-fine", "challenge-fine")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(s.discoveries, 3, "the endpoint map is fetched again after each failed call")

    def test_tokens_are_cached_until_they_expire(self):
        # 62 s tokens: a token is not used within 60 s of its expiry, so these serve 2 s.
        s = self.standin(client_secret=CLIENT_SECRET, token_lifetime=62)
        inst = self.intune_instance(s)
        r, _ = self.scepclient(inst, "t1", "intune-t1", "challenge-t1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        first = len(s.token_requests)
        self.assertEqual(first, 2, "validateRequest and successNotification share the Intune token")
        time.sleep(2.5)
        r, _ = self.scepclient(inst, "t2", "intune-t2", "challenge-t2")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertGreater(len(s.token_requests), first, "a token near its expiry was used again")
        self.assertEqual(s.violations, [])

    def test_a_service_certificate_not_anchored_in_ca_file_is_refused(self):
        s = self.standin(client_secret=CLIENT_SECRET)
        other = os.path.join(self.workdir, "other")
        os.makedirs(other)
        self.root = corporate_root(other)[2]   # a root that did not sign the stand-in's certificate
        inst = self.intune_instance(s)
        r, pem = self.scepclient(inst, "untrusted", "intune-untrusted", "challenge-untrusted")
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(pem))
        e = self.rejection(inst, "intune-untrusted")[0]
        self.assertEqual(e["reason"], "challenge_source_unavailable")
        self.assertEqual(s.token_requests, [], "nothing was sent to a server that could not be verified")

    def test_strongswan_pki_with_the_sid_san_and_a_certificate_credential(self):
        s = self.standin(client_cert=None)
        folder = os.path.join(self.workdir, "app")
        os.makedirs(folder)
        key, cert = os.path.join(folder, "app.key"), os.path.join(folder, "app.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
             "-subj", "/CN=portcullis-intune-app", "-days", "2"])
        s.client_cert = cert
        credential = f'client_certificate_file = "{cert}"\nclient_key_file = "{key}"\n'
        inst = self.intune_instance(s, credential=credential)
        url = f"http://127.0.0.1:{inst.http_port}/scep"
        d = self.workdir
        ca, ra, k = os.path.join(d, "ca.crt"), os.path.join(d, "ra.crt"), os.path.join(d, "k.der")
        run(["pki", "--scepca", "--url", url, "--caout", ca, "--raout", ra])
        with open(k, "wb") as f:
            f.write(subprocess.run(["pki", "--gen", "--type", "rsa", "--size", "2048"], capture_output=True,
                                   check=True).stdout)
        uri = SID_URI.encode()
        san = "asn1gn:#86" + f"{len(uri):02x}" + uri.hex()   # a URI GeneralName, RFC 5280 §4.2.1.6
        r = subprocess.run(["pki", "--scep", "--url", url, "--in", k, "--dn", "CN=intune-ipad-7", "--san", san,
                            "--san", "dns:chosen-by-device.example", "--password", "intune-challenge-pki",
                            "--cacert-enc", ra, "--cacert-sig", ra, "--cacert", ca, "--cipher", "aes",
                            "--digest", "sha256", "--interval", "2", "--maxpolltime", "30", "--outform", "pem"],
                           capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        text = subprocess.run(["openssl", "x509", "-noout", "-text"], input=r.stdout, capture_output=True,
                              check=True).stdout.decode()
        self.assertIn("URI:" + SID_URI, text)
        self.assertNotIn("chosen-by-device", text, "SANs Intune does not vouch for are left out")
        self.assertEqual([how for _, how in s.token_requests], ["assertion", "assertion"])
        self.assertEqual(len(s.actions("successNotification")), 1)
        self.assertEqual(s.violations, [])


class IntuneRevocationTest(IntegrationTest):
    """The revocation sync on a timer: a certificate Intune asks to revoke is revoked here and
    its live session gets a Disconnect-Request (test_dynauth's NAS stand-in and helpers)."""

    eapol = test_dynauth.DynauthTest.eapol
    authenticate = test_dynauth.DynauthTest.authenticate
    accounting = test_dynauth.DynauthTest.accounting
    live_session = test_dynauth.DynauthTest.live_session
    session_row = test_dynauth.DynauthTest.session_row
    assert_request = test_dynauth.DynauthTest.assert_request

    def setUp(self):
        super().setUp()
        root, tls = server_cert(self.workdir)
        self.ms = IntuneStandIn(tls, TENANT, CLIENT_ID, client_secret=CLIENT_SECRET)
        self.addCleanup(self.ms.close)
        self.coa_port = free_port()
        self.macs = 0
        self.inst = self.instance(start=False)
        with open(os.path.join(self.inst.dir, "intune.secret"), "w") as f:
            f.write(CLIENT_SECRET)
        with open(os.path.join(self.inst.dir, "policy.toml"), "w") as f:
            f.write('[[rule]]\nname = "staff"\nvlan = 20\n')
        with open(self.inst.config) as f:
            text = f.read()
        text = text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
        text = text.replace("coa_port = 3799", f"coa_port = {self.coa_port}")
        text = text.replace("dynauth_timeout_ms = 1000", "dynauth_timeout_ms = 300")
        if re.search(r'^\[policy\]', text, re.M):
            text = re.sub(r'(?m)^(\[policy\][^\n]*\n)file = ""', r'\1file = "policy.toml"', text)
        else:
            text += '\n[policy]\nfile = "policy.toml"\n'
        text += (f'\n[mdm.intune]\nenabled = true\ntenant = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n'
                 f'client_secret_file = "intune.secret"\nlogin_url = "{self.ms.base}"\n'
                 f'graph_url = "{self.ms.base}"\nca_file = "{root}"\nrevocation_sync_seconds = 1\n')
        with open(self.inst.config, "w") as f:
            f.write(text)
        self.assertIn(f"coa_port = {self.coa_port}", text)
        block = text[text.index("[[radius.clients]]"):]
        self.secret = re.search(r'^secret = "([^"]+)"', block, re.M).group(1)
        self.nas = test_dynauth.NasStandIn(self.secret, self.coa_port)
        self.addCleanup(self.nas.close)
        self.inst.start()

    def test_a_revocation_requested_by_intune_disconnects_the_live_session(self):
        inst = self.inst
        folder = os.path.join(self.workdir, "intune-dev")
        os.makedirs(folder)
        ra_der = subprocess.run(["openssl", "x509", "-in", inst.ca("ra.pem"), "-outform", "DER"],
                                capture_output=True, check=True).stdout
        r = subprocess.run(["scepclient", "-server-url", f"http://127.0.0.1:{inst.http_port}/scep",
                            "-ca-fingerprint", hashlib.sha256(ra_der).hexdigest(),
                            "-private-key", os.path.join(folder, "key.pem"), "-cn", "intune-phone", "-keySize", "2048",
                            "-challenge", "intune-challenge-radius"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        key, cert = os.path.join(folder, "key.pem"), os.path.join(folder, "client.pem")
        mac = self.live_session(key, cert, 20, "sess-intune")
        serial = self.ms.actions("successNotification")[0][1]["notification"]["certificateSerialNumber"]
        # A certificate of this CA that Intune did not enroll (the server's own): out of its reach.
        _, listed = inst.api("GET", "/certificates?device=portcullis-service", expect=200)
        foreign = listed["certificates"][0]["serial"]
        t0 = time.monotonic()
        self.ms.revocations = [
            {"requestContext": "ctx-ours", "serialNumber": serial.lower(), "issuerName": "x", "caConfiguration": "y"},
            {"requestContext": "ctx-unknown", "serialNumber": "0A1B2C3D", "issuerName": None, "caConfiguration": None},
            {"requestContext": "ctx-bad", "serialNumber": "not-a-serial", "issuerName": None, "caConfiguration": None},
            {"requestContext": "ctx-not-intune", "serialNumber": foreign, "issuerName": None, "caConfiguration": None}]
        got = self.nas.wait(1, timeout=10)
        self.assertEqual(len(got), 1, "one Disconnect-Request for the revoked certificate's session")
        self.assert_request(got[0], test_dynauth.DISCONNECT_REQUEST, "sess-intune", mac)
        self.assertLess(got[0]["at"] - t0, 5)
        uploads = eventually(lambda: list(self.ms.uploads), lambda u: len(u) == 4)
        by = {u["requestContext"]: u for u in uploads}
        self.assertEqual((by["ctx-ours"]["succeeded"], by["ctx-ours"]["errorCode"]), (True, "None"))
        self.assertEqual((by["ctx-unknown"]["succeeded"], by["ctx-unknown"]["errorCode"]),
                         (False, "CertificateNotFoundError"))
        self.assertEqual(by["ctx-bad"]["errorCode"], "ParameterDataInvalidError")
        self.assertEqual(by["ctx-not-intune"]["errorCode"], "ParameterDataInvalidError")
        self.assertEqual(inst.api("GET", f"/certificates/{foreign}", expect=200)[1]["status"], "valid")
        self.assertRegex(self.eapol(key, cert, mac), r"(?m)^FAILURE$")
        self.assertEqual(self.session_row("sess-intune")[1], "Disconnect ACK")
        events = eventually(lambda: json.loads(inst.cli("events", "--kind", "scep", "--json").stdout),
                            lambda rows: any(e["reason"] == "intune_revocation" for e in rows))
        self.assertTrue(any(e["reason"] == "intune_revocation" and e["serial"] == serial and e["outcome"] == "revoked"
                            for e in events), events)
        # Asked again (say our upload was lost): the contract's ConflictError.
        self.ms.revocations = [{"requestContext": "ctx-again", "serialNumber": serial}]
        again = eventually(lambda: [u for u in self.ms.uploads if u["requestContext"] == "ctx-again"],
                           lambda u: len(u) == 1, timeout=10)
        self.assertEqual(again[0]["errorCode"], "ConflictError")
        self.assertEqual(self.ms.violations, [])


if __name__ == "__main__":
    main()

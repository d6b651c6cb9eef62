"""MDM integration with real SCEP clients (micromdm scepclient, strongSwan pki) against the
real binary: [[scep.webhooks]] validation (allow naming the device, deny, time out) and
notification, each checked by a local receiver that verifies X-Portcullis-Signature
(HMAC-SHA256 of the body) and the bearer token before it answers; Jamf's dynamic challenge;
re-enrollment revoking the superseded certificate. Renewal: test_mdm_renewal.py."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import ssl
import subprocess
import threading
import time

from harness import IntegrationTest, corporate_root, eventually, free_port, main, run

SECRET = "webhook-signing-secret-0123456789"
BEARER = "bearer-token-abcdef"


class Receiver:
    """A webhook endpoint: checks the signature and token of every post, then answers
    `decide(body)` -> (status, json) for validation posts and records notifications."""

    def __init__(self, decide=None, tls=None):
        self.decide = decide
        self.validations = []
        self.notifications = []
        self.bad_signatures = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get("X-Portcullis-Signature", ""), expected)
                bearer = self.headers.get("Authorization") == "Bearer " + BEARER
                if not (signed and bearer):
                    receiver.bad_signatures += 1
                    self.answer(401, {"error": "bad signature"})
                    return
                data = json.loads(body)
                if self.path == "/notify":
                    receiver.notifications.append(data)
                    self.answer(204, None)
                    return
                receiver.validations.append(data)
                status, answer = receiver.decide(data)
                self.answer(status, answer)

            def answer(self, status, data):
                payload = b"" if data is None else json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up (the time-out test)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class MdmTest(IntegrationTest):
    def edit_config(self, inst, fn):
        with open(inst.config) as f:
            text = f.read()
        with open(inst.config, "w") as f:
            f.write(fn(text))

    def secret_files(self, inst):
        for name, value in (("webhook.secret", SECRET + "\n"), ("webhook.token", BEARER)):
            with open(os.path.join(inst.dir, name), "w") as f:
                f.write(value)

    def mdm_instance(self, extra_config):
        inst = self.instance(start=False)
        self.secret_files(inst)
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        self.edit_config(inst, lambda t: t.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
                         + extra_config)
        inst.start()
        return inst

    def receiver(self, decide=None, tls=None):
        r = Receiver(decide, tls)
        self.addCleanup(r.close)
        return r

    def scepclient(self, inst, folder, cn, challenge=None, renew=False):
        folder = os.path.join(self.workdir, folder)
        os.makedirs(folder, exist_ok=True)
        with open(inst.ca("ra.pem")) as f:
            der = base64.b64decode("".join(line for line in f.read().splitlines() if "-----" not in line))
        cmd = ["scepclient", "-server-url", f"http://127.0.0.1:{inst.http_port}/scep",
               "-ca-fingerprint", hashlib.sha256(der).hexdigest(), "-private-key", os.path.join(folder, "key.pem"),
               "-cn", cn, "-keySize", "2048"]
        if challenge is not None:
            cmd += ["-challenge", challenge]
        if renew:
            cmd += ["-certificate", os.path.join(folder, "client.pem")]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120), os.path.join(folder, "client.pem")

    def events(self, inst, *filters):
        return json.loads(inst.cli("events", *filters, "--json").stdout)

    def rejection(self, inst, cn):
        return eventually(lambda: [e for e in self.events(inst, "--kind", "scep", "--outcome", "reject") if e["cn"] == cn],
                          lambda rows: len(rows) >= 1)

    def webhook(self, receiver, path, role, timeout_ms=2000, scheme="http", ca_file=None):
        return (f'\n[[scep.webhooks]]\nurl = "{scheme}://127.0.0.1:{receiver.port}{path}"\nrole = "{role}"\n'
                f'secret_file = "webhook.secret"\nbearer_token_file = "webhook.token"\ntimeout_ms = {timeout_ms}\n'
                + (f'ca_file = "{ca_file}"\n' if ca_file else ""))

    def test_an_unreachable_webhook_is_a_refusal_that_says_so(self):
        class Closed:
            port = free_port()   # nothing listens there
        inst = self.mdm_instance(self.webhook(Closed, "/validate", "validate"))
        r, pem = self.scepclient(inst, "closed", "cn-closed", "mdm-anything")
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(pem))
        e = self.rejection(inst, "cn-closed")[0]
        self.assertEqual(e["reason"], "challenge_source_unavailable")
        self.assertIn(f"cannot reach webhook at 127.0.0.1:{Closed.port}", e["detail"])

    def test_an_https_webhook_is_verified(self):
        # A receiver whose certificate (IP 127.0.0.1) a corporate root signed.
        folder, root_key, root_cert, _ = corporate_root(self.workdir)
        key = os.path.join(folder, "hook.key")
        csr = os.path.join(folder, "hook.csr")
        cert = os.path.join(folder, "hook.pem")
        ext = os.path.join(folder, "hook.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-subj", "/CN=127.0.0.1", "-out", csr])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", root_cert, "-CAkey", root_key, "-CAcreateserial",
             "-days", "2", "-extfile", ext, "-out", cert])
        trusted = self.receiver(lambda body: (200, {"allow": True, "device": "tls-device"}), tls=(cert, key))
        inst = self.mdm_instance(self.webhook(trusted, "/validate", "validate", scheme="https", ca_file=root_cert))
        r, _ = self.scepclient(inst, "tls", "tls-cn", "mdm-over-tls")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(trusted.validations), 1)

        # The same receiver, anchored on another CA (Portcullis' own root): no handshake, refused.
        other = self.mdm_instance("")
        other.stop()
        self.edit_config(other, lambda t: t + self.webhook(trusted, "/validate", "validate", scheme="https",
                                                            ca_file=other.ca("root.pem")))
        self.secret_files(other)
        other.start()
        r, _ = self.scepclient(other, "untrusted", "tls-cn-2", "mdm-over-tls")
        self.assertNotEqual(r.returncode, 0)
        e = self.rejection(other, "tls-cn-2")[0]
        self.assertEqual(e["reason"], "challenge_source_unavailable")
        self.assertIn("certificate verification failed", e["detail"])
        self.assertEqual(len(trusted.validations), 1)

    def test_webhook_allows_and_names_the_device_denies_and_times_out(self):
        def decide(body):
            if body["challenge"] == "mdm-allow-1":
                return 200, {"allow": True, "device": "mdm-device-42", "groups": ["mdm", "sales"]}
            if body["challenge"] == "mdm-allow-unnamed":
                return 200, {"allow": True}
            if body["challenge"] == "mdm-slow":
                time.sleep(4)
                return 200, {"allow": True}
            return 200, {"allow": False, "reason": "not enrolled in MDM"}

        validator = self.receiver(decide)
        listener = self.receiver()
        inst = self.mdm_instance(self.webhook(validator, "/validate", "validate", timeout_ms=700)
                                 + self.webhook(listener, "/notify", "notify"))

        # Allowed: the certificate names the device the webhook named, in its groups.
        r, pem = self.scepclient(inst, "allowed", "csr-cn-1", "mdm-allow-1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        subject = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-subject"], capture_output=True,
                                 text=True, check=True).stdout
        self.assertIn("CN = mdm-device-42", subject)
        device = json.loads(inst.cli("--json", "devices", "show", "mdm-device-42").stdout)
        self.assertEqual(sorted(device["groups"]), ["mdm", "sales"])
        asked = validator.validations[0]
        self.assertEqual((asked["challenge"], asked["subject"], asked["requester"]),
                         ("mdm-allow-1", "CN=csr-cn-1,OU=MDM,O=scep-client,C=US", "127.0.0.1"))
        self.assertTrue(asked["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----"))
        self.assertTrue(asked["transaction_id"])
        issued = eventually(lambda: [e for e in self.events(inst, "--kind", "scep") if e["outcome"] == "issued"],
                            lambda rows: len(rows) >= 1)
        self.assertEqual(len(issued), 1, issued)
        self.assertIn("allowed by webhook http://127.0.0.1", issued[0]["detail"])

        # The notification receiver hears of it, off the request path, with the certificate.
        told = eventually(lambda: list(listener.notifications), lambda n: len(n) >= 1)
        with open(pem) as f:
            self.assertEqual(told[0]["certificate"].strip(), f.read().strip())
        self.assertEqual((told[0]["outcome"], told[0]["device"]), ("issued", "mdm-device-42"))
        fingerprint = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
                                     capture_output=True, text=True, check=True).stdout
        self.assertEqual(told[0]["fingerprint"], fingerprint.split("=")[1].strip().replace(":", ""))

        # Denied: FAILURE at the client, nothing issued, the webhook's reason in the event.
        r, pem = self.scepclient(inst, "denied", "csr-cn-2", "mdm-deny")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("badRequest", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(pem))
        e = self.rejection(inst, "csr-cn-2")
        self.assertEqual(e[0]["reason"], "challenge_denied")
        self.assertIn("not enrolled in MDM", e[0]["detail"])

        # Timed out: the worker waits 700 ms, not the receiver's 4 s, and refuses.
        start = time.monotonic()
        r, pem = self.scepclient(inst, "slow", "csr-cn-3", "mdm-slow")
        elapsed = time.monotonic() - start
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("badRequest", r.stdout + r.stderr)
        self.assertLess(elapsed, 3.5)
        e = self.rejection(inst, "csr-cn-3")
        self.assertEqual(e[0]["reason"], "challenge_source_unavailable")
        self.assertIn("no answer within 700 ms", e[0]["detail"])

        # Allowed without naming a device: the CSR's CN may not take a device the webhook
        # did not vouch for (here the one it named above, in groups without scep-mdm).
        r, pem = self.scepclient(inst, "unnamed", "mdm-device-42", "mdm-allow-unnamed")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("badRequest", r.stdout + r.stderr)
        self.assertEqual(self.rejection(inst, "mdm-device-42")[0]["reason"], "challenge_device_exists")

        self.assertEqual(inst.count("certificates"), 1)
        told = eventually(lambda: list(listener.notifications), lambda n: len(n) >= 4)
        self.assertEqual([n["outcome"] for n in told], ["issued", "refused", "refused", "refused"])
        self.assertEqual(validator.bad_signatures + listener.bad_signatures, 0)
        # The challenge and the secrets never reach the log.
        log = inst.log()
        for secret in ("mdm-allow-1", SECRET, BEARER):
            self.assertNotIn(secret, log)

    def test_a_notification_the_receiver_refuses_is_retried(self):
        failures = {"left": 2}
        listener = self.receiver()
        original = listener.server.RequestHandlerClass.do_POST

        def flaky(handler):
            if failures["left"] > 0:
                failures["left"] -= 1
                handler.rfile.read(int(handler.headers["Content-Length"]))
                handler.answer(503, {"error": "busy"})
                return
            original(handler)

        listener.server.RequestHandlerClass.do_POST = flaky
        inst = self.mdm_instance(self.webhook(listener, "/notify", "notify"))
        static = inst.cli("challenge", "--device", "ipad-1", "--ttl", "10m").stdout.strip()
        r, _ = self.scepclient(inst, "one", "ipad-1", static)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Backoff 1 s then 2 s: the third attempt gets through.
        told = eventually(lambda: list(listener.notifications), lambda n: len(n) >= 1, timeout=10)
        self.assertEqual((told[0]["outcome"], told[0]["device"], told[0]["decided_by"]), ("issued", "ipad-1", ""))
        self.assertEqual(failures["left"], 0)

    def jamf(self, inst, user="jamf-pro", password="jamf-password-123", method="POST"):
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return inst.http(method, "/scep/challenge/jamf", body=b'{"webhook": {"webhookEvent": "SCEPChallenge"}}',
                         headers={"Authorization": "Basic " + token, "Content-Type": "application/json"})

    def test_jamf_dynamic_challenge_works_once_and_binds_by_cn(self):
        inst = self.instance(start=False)
        with open(os.path.join(inst.dir, "jamf.password"), "w") as f:
            f.write("jamf-password-123\n")
        self.edit_config(inst, lambda t: t.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
                         + '\n[mdm.jamf]\nenabled = true\nuser = "jamf-pro"\npassword_file = "jamf.password"\n'
                           'challenge_ttl_seconds = 600\n')
        inst.start()

        # Wrong password, wrong user, no credentials: 401, and nothing minted.
        for status, _ in (self.jamf(inst, password="wrong"), self.jamf(inst, user="jamf"),
                          inst.http("POST", "/scep/challenge/jamf", body=b"")):
            self.assertEqual(status, 401)
        self.assertEqual(self.jamf(inst, method="GET")[0], 405)
        self.assertEqual(inst.count("challenges"), 0)

        status, body = self.jamf(inst)
        self.assertEqual(status, 200)
        challenge = body.decode()
        self.assertRegex(challenge, r"^[0-9a-f]{32}$")   # no newline: Jamf pastes it as is
        r, pem = self.scepclient(inst, "mac-1", "C02XK0ABCD12", challenge)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        device = json.loads(inst.cli("--json", "devices", "show", "C02XK0ABCD12").stdout)
        self.assertEqual(device["groups"], ["scep-mdm"])
        with inst.ledger() as db:
            bound = db.execute("SELECT d.name, c.used_at IS NOT NULL, c.created_by FROM challenges c "
                               "JOIN devices d ON d.id = c.device_id").fetchall()
        self.assertEqual(bound, [("C02XK0ABCD12", 1, "jamf")])

        # A second use (new key, new transaction): refused, nothing issued.
        r, pem = self.scepclient(inst, "mac-1-again", "C02XK0ABCD12", challenge)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("badRequest", r.stdout + r.stderr)
        self.assertEqual(self.rejection(inst, "C02XK0ABCD12")[0]["reason"], "challenge_used")

        # A fresh Jamf challenge cannot name a device an operator named.
        inst.cli("challenge", "--device", "ops-laptop", "--ttl", "10m")
        status, body = self.jamf(inst)
        r, pem = self.scepclient(inst, "squat", "ops-laptop", body.decode())
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.rejection(inst, "ops-laptop")[0]["reason"], "challenge_device_exists")
        self.assertEqual(inst.count("certificates"), 1)
        self.assertNotIn(challenge, inst.log())
        self.assertNotIn("jamf-password-123", inst.log())

    def serial(self, pem):
        return re.search(r"serial=([0-9A-F]+)", run(["openssl", "x509", "-in", pem, "-noout", "-serial"]).stdout).group(1)

    def crl_text(self, inst):
        status, der = inst.http("GET", "/crl")
        self.assertEqual(status, 200)
        path = os.path.join(self.workdir, "crl.der")
        with open(path, "wb") as f:
            f.write(der)
        run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-CAfile", inst.ca("chain.pem")])
        return run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text"]).stdout

    def ocsp(self, inst, cert):
        out = run(["openssl", "ocsp", "-issuer", inst.ca("issuing.pem"), "-cert", cert,
                   "-url", f"http://127.0.0.1:{inst.http_port}/ocsp", "-CAfile", inst.ca("root.pem")])
        self.assertIn("Response verify OK", out.stdout + out.stderr)
        return out.stdout

    def reenroll(self, inst):
        first_challenge = inst.cli("challenge", "--device", "laptop-9", "--ttl", "10m").stdout.strip()
        r, first = self.scepclient(inst, "first", "laptop-9", first_challenge)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # The device is wiped and enrolls again with a new key and a new challenge.
        second_challenge = inst.cli("challenge", "--device", "laptop-9", "--ttl", "10m").stdout.strip()
        r, second = self.scepclient(inst, "second", "laptop-9", second_challenge)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return first, second

    def test_enrolling_again_revokes_the_superseded_certificate(self):
        inst = self.mdm_instance("")
        first, second = self.reenroll(inst)
        old, new = self.serial(first), self.serial(second)

        crl = self.crl_text(inst)
        self.assertIn(f"Serial Number: {old}", crl)
        self.assertIn("Superseded", crl)
        self.assertNotIn(f"Serial Number: {new}", crl)
        answer = self.ocsp(inst, first)
        self.assertIn(": revoked", answer)
        self.assertIn("Reason: superseded", answer)
        self.assertIn(": good", self.ocsp(inst, second))

        listed = {c["serial"]: c["status"] for c in json.loads(inst.cli("--json", "certs", "list", "--device",
                                                                          "laptop-9").stdout)}
        self.assertEqual(listed, {old: "revoked", new: "valid"})
        e = eventually(lambda: [e for e in self.events(inst, "--kind", "scep") if e["outcome"] == "superseded"],
                       lambda rows: len(rows) >= 1)
        self.assertEqual((e[0]["serial"], e[0]["device"], e[0]["reason"]), (old, "laptop-9", "reenrolled"))
        self.assertIn(new, e[0]["detail"])

    def test_on_reenroll_keep_leaves_the_earlier_certificate_valid(self):
        inst = self.instance(start=False)
        self.edit_config(inst, lambda t: t.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
                         .replace('on_reenroll = "revoke"', 'on_reenroll = "keep"', 1))
        inst.start()
        first, second = self.reenroll(inst)
        self.assertIn(": good", self.ocsp(inst, first))
        self.assertIn(": good", self.ocsp(inst, second))

    def pki(self, inst, name, dn, password):
        """strongSwan pki --scep (AES, SHA-256) with a fresh key; returns (process, cert path)."""
        url = f"http://127.0.0.1:{inst.http_port}/scep"
        ca, ra = os.path.join(self.workdir, "pki-ca.crt"), os.path.join(self.workdir, "pki-ra.crt")
        if not os.path.exists(ra):
            run(["pki", "--scepca", "--url", url, "--caout", ca, "--raout", ra])
        key = os.path.join(self.workdir, f"{name}.der")
        with open(key, "wb") as f:
            f.write(subprocess.run(["pki", "--gen", "--type", "rsa", "--size", "2048"], capture_output=True,
                                   check=True, timeout=60).stdout)
        r = subprocess.run(["pki", "--scep", "--url", url, "--in", key, "--dn", dn, "--password", password,
                            "--cacert-enc", ra, "--cacert-sig", ra, "--cacert", ca, "--cipher", "aes", "--digest",
                            "sha256", "--interval", "2", "--maxpolltime", "60", "--outform", "pem"],
                           capture_output=True, timeout=120)
        cert = os.path.join(self.workdir, f"{name}.pem")
        if r.returncode == 0:
            with open(cert, "wb") as f:
                f.write(r.stdout)
        return r, cert

    def test_strongswan_pki_with_webhook_and_jamf_challenges(self):
        def decide(body):
            if body["challenge"] == "pki-allow":
                return 200, {"allow": True, "device": "router-hook", "groups": ["routers"]}
            return 200, {"allow": False, "reason": "router not in inventory"}

        validator = self.receiver(decide)
        inst = self.instance(start=False)
        self.secret_files(inst)
        with open(os.path.join(inst.dir, "jamf.password"), "w") as f:
            f.write("jamf-password-123\n")
        self.edit_config(inst, lambda t: t + self.webhook(validator, "/validate", "validate")
                         + '\n[mdm.jamf]\nenabled = true\nuser = "jamf-pro"\npassword_file = "jamf.password"\n')
        inst.start()

        # Webhook allows: the certificate names the device it named; it saw pki's CSR.
        r, cert = self.pki(inst, "hook-allow", "CN=pki-router, O=Example", "pki-allow")
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        self.assertIn("CN = router-hook", run(["openssl", "x509", "-in", cert, "-noout", "-subject"]).stdout)
        # RFC 4514 order (last RDN first): pki encodes the DN as written, CN first.
        self.assertEqual(validator.validations[0]["subject"], "O=Example,CN=pki-router")
        self.assertTrue(validator.validations[0]["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----"))
        device = json.loads(inst.cli("--json", "devices", "show", "router-hook").stdout)
        self.assertEqual(device["groups"], ["routers"])

        # Webhook denies: FAILURE badRequest at pki, the webhook's reason in the event.
        r, cert = self.pki(inst, "hook-deny", "CN=pki-router-2", "pki-deny")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"badRequest", r.stderr)
        self.assertFalse(os.path.exists(cert))
        e = self.rejection(inst, "pki-router-2")[0]
        self.assertEqual(e["reason"], "challenge_denied")
        self.assertIn("router not in inventory", e["detail"])
        self.assertEqual(validator.bad_signatures, 0)

        # Jamf's challenge: bound by CN at first use, then spent.
        status, body = self.jamf(inst)
        self.assertEqual(status, 200)
        r, cert = self.pki(inst, "jamf-1", "CN=C02PKI000001", body.decode())
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace")[-2000:])
        self.assertIn("CN = C02PKI000001", run(["openssl", "x509", "-in", cert, "-noout", "-subject"]).stdout)
        r, _ = self.pki(inst, "jamf-1-again", "CN=C02PKI000001", body.decode())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"badRequest", r.stderr)
        self.assertEqual(self.rejection(inst, "C02PKI000001")[0]["reason"], "challenge_used")
        self.assertEqual(self.jamf(inst, password="wrong")[0], 401)
        # The Jamf challenge was never put to the webhook: Portcullis minted it.
        self.assertEqual(len(validator.validations), 2)

    def test_bad_webhook_settings_are_refused_at_start(self):
        inst = self.instance(start=False)
        self.edit_config(inst, lambda t: t + '\n[[scep.webhooks]]\nurl = "ftp://x"\nsecret_file = "s"\n')
        proc = subprocess.run([inst.bin, "--config", inst.config, "serve"], capture_output=True, text=True,
                              timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("scep.webhooks[0].url must start with http:// or https://", proc.stdout + proc.stderr)


if __name__ == "__main__":
    main()

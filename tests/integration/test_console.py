"""The operator console (app/console) in a real browser: Portcullis with real peers
(eapol_test for an accepted and a foreign-CA authentication, radclient for the accounting
that makes a live session, a NAS stand-in that answers Disconnect-ACK) and then
tests/browser/console.mjs driving Debian's chromium through playwright-core: sign-in,
redirects and 401 without the cookie, HTML in names rendered as text, the foreign-CA
reason on the device page, Revoke and disconnect by keyboard alone, a forged cross-site
POST, and SCEP requests held for approval (strongSwan pki polling, RFC 8894 §3.3.2)
approved and rejected on the Approvals page. Screenshots of every page go to <build>/test-output/console/. The cookie, CSRF and
Origin rules are also checked here over plain HTTP."""

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading

from harness import BIN, IntegrationTest, eventually, free_port, issue_through_cli, main, make_key_and_csr, nas_secret, run
from test_dynauth import NasStandIn
from test_scep import serial_of, start_pki_enrollment

EAPOL_TIMEOUT = 10
LIVE_MAC = "02:00:00:00:00:21"
PHONE_MAC = "02:00:00:00:00:23"
FOREIGN_MAC = "02:00:00:00:00:22"
XSS_DEVICE = "<img src=x onerror=alert(1)>"
HTML_USER = "<img src=x onerror=alert(2)>@example"
CLASS = 25
APPROVE_DEVICE = "printer-approve"
REJECT_DEVICE = "printer-reject"
# console.mjs prints this line once the Approvals page shows the first held request: only
# then does the second client enroll, so its row can only appear by the page's polling.
APPROVALS_OPEN = "approvals page open"
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(BIN)))
BROWSER_TEST = os.path.join(BUILD, "tests", "browser", "console.mjs")
SCREENSHOTS = os.path.join(BUILD, "test-output", "console")


class ConsoleTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.coa_port = free_port()
        self.inst = self.instance(start=False)
        with open(self.inst.config) as f:
            text = f.read()
        text = text.replace("coa_port = 3799", f"coa_port = {self.coa_port}")
        self.assertIn(f"coa_port = {self.coa_port}", text)
        # SCEP enrollments into the [scep] profile wait for an administrator (Approvals page).
        self.assertIn("manual_approval = false", text)
        text = text.replace("manual_approval = false", "manual_approval = true", 1)
        with open(self.inst.config, "w") as f:
            f.write(text)
        self.secret = nas_secret(self.inst)
        self.nas = NasStandIn(self.secret, self.coa_port)
        try:
            self.inst.start()
        except AssertionError:
            self.nas.close()
            raise

    def tearDown(self):
        self.nas.close()
        super().tearDown()

    # --- peers
    def issue(self, device):
        return issue_through_cli(self.inst, self.workdir, device)

    def foreign_cert(self):
        other = os.path.join(self.workdir, "other")
        os.makedirs(other)
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{other}/ca.key", "-out", f"{other}/ca.pem", "-subj", "/CN=Other CA", "-days", "30",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign,cRLSign"])
        key, csr = make_key_and_csr(other, "foreign", "foreign.example.net")
        cert = f"{other}/foreign.pem"
        with open(f"{other}/ext.cnf", "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
        run(["openssl", "x509", "-req", "-in", csr, "-CA", f"{other}/ca.pem", "-CAkey", f"{other}/ca.key",
             "-CAcreateserial", "-days", "30", "-extfile", f"{other}/ext.cnf", "-out", cert])
        return key, cert

    def eapol(self, key, cert, mac, identity="anonymous@example"):
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}-{mac[-2:]}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n"
                    f" identity=\"{identity}\"\n ca_cert=\"{self.inst.ca('root.pem')}\"\n"
                    f" client_cert=\"{cert}\"\n private_key=\"{key}\"\n}}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(self.inst.radius_port), "-s",
                    self.secret, "-t", str(EAPOL_TIMEOUT), "-M", mac], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def accounting_start(self, session, token, mac):
        lines = ["Acct-Status-Type = Start", "NAS-IP-Address = 127.0.0.1", f'Acct-Session-Id = "{session}"',
                 f'Calling-Station-Id = "{mac.replace(":", "-").upper()}"', 'User-Name = "anonymous@example"',
                 'Called-Station-Id = "02-00-5E-00-00-01:corp-wifi"',
                 f"Class = 0x{token.hex()}"]
        r = run(["radclient", "-x", "-r", "1", "-t", "2", "--", f"127.0.0.1:{self.inst.radius_port + 1}", "acct",
                 self.secret], check=False, input="\n".join(lines) + "\n", timeout=30)
        self.assertIn("Received Accounting-Response", r.stdout, r.stdout + r.stderr)

    def live_session(self, device, mac, session):
        key, cert = self.issue(device)
        out = self.eapol(key, cert, mac)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        accept = out[out.rindex("RADIUS message: code=2"):]
        token = re.search(rf"Attribute {CLASS} \([^)]*\) length=\d+\n\s+Value: (\S+)", accept).group(1)
        self.accounting_start(session, bytes.fromhex(token), mac)
        eventually(lambda: self.inst.api("GET", "/sessions?live=true")[1]["sessions"],
                   lambda s: any(x["device"] == device for x in s))

    def foreign_reject(self, device):
        """The device is accepted once from its MAC, then that MAC shows a certificate from
        another CA (with an HTML User-Name): the reject names no device of ours."""
        key, cert = self.issue(device)
        self.assertRegex(self.eapol(key, cert, FOREIGN_MAC), r"(?m)^SUCCESS$")
        fkey, fcert = self.foreign_cert()
        self.assertRegex(self.eapol(fkey, fcert, FOREIGN_MAC, identity=HTML_USER), r"(?m)^FAILURE$")
        eventually(lambda: self.inst.api("GET", "/events?outcome=reject")[1]["events"],
                   lambda e: any(x["reason"] == "unknown_issuer" and x["user_name"] == HTML_USER for x in e))

    def held_enrollment(self, device):
        """A strongSwan pki client enrolling with a one-time challenge; its request is held
        (PENDING) and the client keeps polling."""
        _, minted = self.inst.api("POST", "/challenges", {"device": device, "cn": device}, expect=201)
        url = f"http://127.0.0.1:{self.inst.http_port}/scep"
        return start_pki_enrollment(url, self.workdir, device, f"CN={device}", minted["challenge"])

    def wait_pending(self, device):
        eventually(lambda: self.inst.api("GET", "/requests?status=pending")[1]["requests"],
                   lambda r: any(x["device"] == device for x in r), timeout=30)

    def run_browser_test(self, env, clients):
        """Runs console.mjs; when it says the Approvals page is open, the second held
        enrollment starts. Returns its output."""
        lines = []
        with subprocess.Popen(["node", BROWSER_TEST], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as proc:
            watchdog = threading.Timer(180, proc.kill)   # console.mjs bounds itself at 150 s
            watchdog.start()
            try:
                for line in proc.stdout:
                    lines.append(line)
                    if line.strip() == APPROVALS_OPEN and REJECT_DEVICE not in clients:
                        clients[REJECT_DEVICE] = self.held_enrollment(REJECT_DEVICE)
                proc.wait()
            except BaseException:
                proc.kill()
                raise
            finally:
                watchdog.cancel()
        output = "".join(lines)
        print(output, file=sys.stderr)
        self.assertEqual(proc.returncode, 0, output[-6000:])
        return output

    def check_decided_clients(self, clients):
        """RFC 8894 §3.3.3: the approved client's next poll gets its certificate, the rejected
        one's a FAILURE (pki reports the failInfo badRequest)."""
        out, err = clients[APPROVE_DEVICE].communicate(timeout=30)
        self.assertEqual(clients[APPROVE_DEVICE].returncode, 0, err.decode(errors="replace")[-2000:])
        cert = os.path.join(self.workdir, f"{APPROVE_DEVICE}.pem")
        with open(cert, "wb") as f:
            f.write(out)
        verified = run(["openssl", "verify", "-CAfile", self.inst.ca("root.pem"), "-untrusted",
                        self.inst.ca("issuing.pem"), cert])
        self.assertIn(": OK", verified.stdout)
        out, err = clients[REJECT_DEVICE].communicate(timeout=30)
        self.assertNotEqual(clients[REJECT_DEVICE].returncode, 0, out)
        self.assertIn(b"badRequest", err)
        self.assertEqual(out, b"")
        decided = {r["device"]: r for r in self.inst.api("GET", "/requests?status=all")[1]["requests"]}
        approved, rejected = decided[APPROVE_DEVICE], decided[REJECT_DEVICE]
        self.assertEqual((approved["status"], approved["serial"], approved["decided_by"]),
                         ("approved", serial_of(cert), "api:admin"))
        self.assertEqual((rejected["status"], rejected["serial"], rejected["decided_by"]),
                         ("rejected", None, "api:admin"))
        self.assertEqual(rejected["reason"], "unknown printer", rejected)

    # --- plain HTTP
    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.inst.admin_port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, dict(resp.getheaders()), data

    def sign_in(self):
        status, headers, data = self.request("POST", "/console/session", json.dumps({"token": self.inst.token}),
                                             {"Content-Type": "application/json"})
        self.assertEqual(status, 200, data)
        cookie = headers["Set-Cookie"].split(";")[0]
        return cookie, json.loads(data)["csrf"]

    # --- tests
    def test_cookie_csrf_and_origin_rules(self):
        self.inst.cli("devices", "add", "printer-1")
        own = f"127.0.0.1:{self.inst.admin_port}"
        status, headers, _ = self.request("GET", "/devices/printer-1")
        self.assertEqual((status, headers["Location"]), (303, "/signin?next=/devices/printer-1"))
        status, _, _ = self.request("POST", "/console/session", json.dumps({"token": "wrong"}),
                                    {"Content-Type": "application/json"})
        self.assertEqual(status, 401)
        cookie, csrf = self.sign_in()
        self.assertTrue(cookie.startswith("portcullis_session="), cookie)
        status, headers, body = self.request("GET", "/devices/printer-1", headers={"Cookie": cookie})
        self.assertEqual(status, 200)
        self.assertIn(b'<script type="module" src="/assets/app.js">', body)
        self.assertIn("default-src 'self'", headers["Content-Security-Policy"])
        self.assertEqual(headers["Cache-Control"], "no-store")
        disable = "/api/v1/devices/printer-1/disable"
        json_type = {"Content-Type": "application/json"}
        refused = [
            {"Cookie": cookie, **json_type},                                           # no CSRF token
            {"Cookie": cookie, "X-CSRF-Token": csrf[:-1] + ("B" if csrf[-1] == "A" else "A"), **json_type},
            {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "http://evil.example", **json_type},
            {"Cookie": cookie, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site", **json_type},
        ]
        for headers in refused:
            status, _, data = self.request("POST", disable, "{}", headers)
            self.assertEqual(status, 403, (headers, data))
        self.assertTrue(self.inst.api("GET", "/devices/printer-1")[1]["enabled"])
        status, _, data = self.request("POST", disable, "{}", {"Cookie": cookie, "X-CSRF-Token": csrf,
                                                               "Origin": f"http://{own}", **json_type})
        self.assertEqual(status, 200, data)
        self.assertFalse(self.inst.api("GET", "/devices/printer-1")[1]["enabled"])
        # The audit actor is the token's name, as for a bearer token.
        entries = self.inst.api("GET", "/audit?target=printer-1")[1]["entries"]
        self.assertEqual(entries[0]["actor"], "api:admin")
        # Signing out needs the token too, and ends the session.
        status, _, _ = self.request("DELETE", "/console/session", headers={"Cookie": cookie})
        self.assertEqual(status, 403)
        status, _, _ = self.request("DELETE", "/console/session", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        self.assertEqual(status, 204)
        status, _, _ = self.request("GET", "/api/v1/devices", headers={"Cookie": cookie})
        self.assertEqual(status, 401)

    def test_over_tls_the_cookie_is_secure_and_host_prefixed(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        self.assertIn("tls = false", text)
        with open(inst.config, "w") as f:
            f.write(re.sub(r"(?m)^(\[admin\][^\[]*?)^tls = false", r"\1tls = true", text, count=1))
        inst.start(wait=False)
        context = ssl.create_default_context(cafile=inst.ca("root.pem"))

        def https(method, path, body=None, headers=None):
            conn = http.client.HTTPSConnection("localhost", inst.admin_port, timeout=10, context=context)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            return resp.status, dict(resp.getheaders()), data

        eventually(lambda: self._try(lambda: https("GET", "/api/v1/health")[0]), lambda s: s == 200, timeout=30)
        origin = f"https://localhost:{inst.admin_port}"
        status, headers, data = https("POST", "/console/session", json.dumps({"token": inst.token}),
                                      {"Content-Type": "application/json", "Origin": origin})
        self.assertEqual(status, 200, data)
        cookie = headers["Set-Cookie"]
        self.assertTrue(cookie.startswith("__Host-portcullis_session="), cookie)
        self.assertIn("; Path=/; HttpOnly; SameSite=Strict; Secure", cookie)
        self.assertNotIn("Domain", cookie)
        status, _, body = https("GET", "/devices", headers={"Cookie": cookie.split(";")[0]})
        self.assertEqual(status, 200)
        self.assertIn(b"/assets/app.js", body)
        # http:// is another origin than this listener's.
        status, _, _ = https("POST", "/console/session", json.dumps({"token": inst.token}),
                             {"Content-Type": "application/json", "Origin": f"http://localhost:{inst.admin_port}"})
        self.assertEqual(status, 403)

    @staticmethod
    def _try(probe):
        try:
            return probe()
        except OSError:
            return None

    def test_console_in_a_real_browser(self):
        self.assertTrue(os.path.exists(BROWSER_TEST),
                        f"{BROWSER_TEST} is missing: build with -DPORTCULLIS_CONSOLE=ON (target console_browser_test)")
        self.live_session("laptop-live", LIVE_MAC, "console-live-1")
        self.live_session("phone-2", PHONE_MAC, "console-live-2")
        self.foreign_reject("kiosk-3")
        self.inst.api("POST", "/devices", {"name": XSS_DEVICE}, expect=201)
        clients = {APPROVE_DEVICE: self.held_enrollment(APPROVE_DEVICE)}
        try:
            self.wait_pending(APPROVE_DEVICE)
            held = self.inst.api("GET", "/requests?status=pending")[1]["requests"]
            self.assertEqual([r["device"] for r in held], [APPROVE_DEVICE])
            env = dict(os.environ, CONSOLE_URL=f"http://127.0.0.1:{self.inst.admin_port}",
                       OTHER_ORIGIN_URL=f"http://127.0.0.1:{self.inst.http_port}/",
                       ADMIN_TOKEN=self.inst.token, LIVE_DEVICE="laptop-live", PHONE_DEVICE="phone-2",
                       FOREIGN_DEVICE="kiosk-3", XSS_DEVICE=XSS_DEVICE, HTML_USER_NAME=HTML_USER,
                       APPROVE_DEVICE=APPROVE_DEVICE, REJECT_DEVICE=REJECT_DEVICE, HELD_PROFILE=held[0]["profile"],
                       APPROVALS_OPEN=APPROVALS_OPEN, SCREENSHOT_DIR=SCREENSHOTS)
            self.run_browser_test(env, clients)
            self.assertIn(REJECT_DEVICE, clients, "the browser test never opened the Approvals page")
            self.check_decided_clients(clients)
        finally:
            for client in clients.values():
                if client.poll() is None:
                    client.kill()
                    client.communicate()
        # The console's revoke and its Disconnect button reached the NAS as RFC 5176
        # Disconnect-Requests it acknowledged (Disable on kiosk-3 sent one for its Accept too).
        requests = [r["packet"] for r in self.nas.take() if r["packet"][0] == 40 and r["ra_ok"] and r["ma_ok"]]
        for session in (b"console-live-1", b"console-live-2"):
            self.assertEqual(sum(session in p for p in requests), 1, (session, requests))
        for name in ("signin", "overview", "devices", "device-live-session", "revoke-dialog", "device-revoked",
                     "device-foreign-ca", "sessions-live", "sessions", "events", "certificates", "policy", "approvals-pending",
                     "approvals", "nas"):
            self.assertTrue(os.path.getsize(os.path.join(SCREENSHOTS, name + ".png")) > 1000, name)


if __name__ == "__main__":
    main()

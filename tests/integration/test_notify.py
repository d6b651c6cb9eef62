"""Expiry and alerts against the real binary: `certs list --expiring-within`, and the
[notify] webhook posting each certificate entering the expiry window once, several in one
batch (retried with backoff while the receiver fails, remembered across restarts),
received by a local http.server; webhook URLs refused at start with the reason."""

import http.server
import json
import os
import re
import threading
import time

from harness import IntegrationTest, eventually, main, make_key_and_csr, run


class Receiver:
    """A webhook receiver that answers 503 to the first `failures` posts, 200 after."""

    def __init__(self, failures=0):
        self.posts = []  # (status answered, parsed body)
        self.failures = failures
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 503 if receiver.failures > 0 else 200
                receiver.failures -= 1 if receiver.failures > 0 else 0
                receiver.posts.append((status, body, self.path, self.headers.get("Content-Type")))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/portcullis"

    def accepted(self):
        return [body for status, body, _, _ in self.posts if status == 200]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NotifyTest(IntegrationTest):
    def configure(self, inst, webhook):
        with open(inst.config) as f:
            text = f.read()
        text = text.replace('webhook_url = ""', f'webhook_url = "{webhook}"')
        text += ("\n[profiles.short]\nvalidity_days = 10\nextended_key_usage = [\"clientAuth\"]\n"
                 "allowed_san_types = [\"dns\"]\nsubject_template = [\"CN={cn}\"]\n")
        with open(inst.config, "w") as f:
            f.write(text)

    def issue(self, inst, device, profile):
        _, csr = make_key_and_csr(self.workdir, device, f"{device}.example.net")
        pem = inst.cli("issue", "--csr", csr, "--device", device, "--profile", profile).stdout
        path = os.path.join(self.workdir, f"{device}.pem")
        with open(path, "w") as f:
            f.write(pem)
        return run(["openssl", "x509", "-in", path, "-noout", "-serial"]).stdout.strip().split("=")[1]

    def listed(self, inst, *args):
        return [c["serial"] for c in json.loads(inst.cli("--json", "certs", "list", *args).stdout)]

    def test_expiring_certificates_are_listed_and_posted_once(self):
        receiver = Receiver(failures=2)
        self.addCleanup(receiver.close)
        inst = self.instance(start=False)
        self.configure(inst, receiver.url)
        inst.start()
        soon = self.issue(inst, "soon", "short")
        soon2 = self.issue(inst, "soon-2", "short")
        later = self.issue(inst, "later", "device")
        revoked = self.issue(inst, "gone", "short")
        inst.cli("revoke", "--serial", revoked)

        # The CLI: valid certificates expiring within the window only.
        self.assertEqual(sorted(self.listed(inst, "--expiring-within", "30d")), sorted([soon, soon2]))
        self.assertEqual(self.listed(inst, "--expiring-within", "5d"), [])
        self.assertIn(later, self.listed(inst, "--expiring-within", "366d"))
        bad = inst.cli("certs", "list", "--expiring-within", "soon", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("not a duration", bad.stderr)

        # The check runs at start-up: restart, and the receiver's two 503s are retried.
        self.assertEqual(inst.stop(), 0)
        inst.start()
        bodies = eventually(receiver.accepted, lambda b: len(b) >= 1, timeout=20)
        self.assertEqual([status for status, _, _, _ in receiver.posts], [503, 503, 200])
        self.assertEqual(receiver.posts[0][2], "/hooks/portcullis")
        self.assertEqual(receiver.posts[0][3], "application/json")
        # Both certificates in one batch.
        self.assertEqual(len(bodies), 1)
        self.assertEqual(bodies[0]["dropped"], 0)
        alerts = {a["serial"]: a for a in bodies[0]["alerts"]}
        self.assertEqual(set(alerts), {soon, soon2})
        self.assertEqual(alerts[soon]["kind"], "certificate_expiring")
        self.assertEqual(alerts[soon]["device"], "soon")
        self.assertEqual(alerts[soon2]["device"], "soon-2")
        self.assertEqual(alerts[soon]["window_days"], 30)
        self.assertIn(alerts[soon]["days_left"], (9, 10))
        _, audit = inst.api("GET", "/audit?action=notify.expiring", expect=200)
        self.assertEqual(sorted(e["target"] for e in audit["entries"]), sorted([soon, soon2]))

        # Once per certificate: another start-up check posts nothing more.
        self.assertEqual(inst.stop(), 0)
        inst.start()
        time.sleep(2)
        self.assertEqual(len(receiver.posts), 3)
        self.assertEqual(inst.stop(), 0)

    def test_a_bad_webhook_url_is_refused_at_start(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            original = f.read()
        for url, message in (("ftp://example.net/hook", "notify.webhook_url must start with http:// or https://"),
                             ("https:///hook", "notify.webhook_url has no host"),
                             ("https://ops:hunter2@example.net/hook", "notify.webhook_url must not hold credentials")):
            with open(inst.config, "w") as f:
                f.write(original)
            self.configure(inst, url)
            r = run([inst.bin, "--config", inst.config, "serve"], check=False, timeout=30)
            self.assertNotEqual(r.returncode, 0, url)
            self.assertIn(message, r.stdout + r.stderr)
            self.assertNotIn("hunter2", r.stdout + r.stderr)


if __name__ == "__main__":
    main()

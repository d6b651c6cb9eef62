"""Expiry and alerts against the real binary: `certs list --expiring-within`, and the
[notify] webhook posting each certificate entering the expiry window once (retried with
backoff while the receiver fails, remembered across restarts), received by a local
http.server."""

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
        later = self.issue(inst, "later", "device")
        revoked = self.issue(inst, "gone", "short")
        inst.cli("revoke", "--serial", revoked)

        # The CLI: valid certificates expiring within the window only.
        self.assertEqual(self.listed(inst, "--expiring-within", "30d"), [soon])
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
        self.assertEqual(len(bodies), 1)
        self.assertEqual(bodies[0]["kind"], "certificate_expiring")
        self.assertEqual(bodies[0]["serial"], soon)
        self.assertEqual(bodies[0]["device"], "soon")
        self.assertEqual(bodies[0]["window_days"], 30)
        self.assertIn(bodies[0]["days_left"], (9, 10))
        _, audit = inst.api("GET", "/audit?action=notify.expiring", expect=200)
        self.assertEqual([e["target"] for e in audit["entries"]], [soon])

        # Once per certificate: another start-up check posts nothing more.
        self.assertEqual(inst.stop(), 0)
        inst.start()
        time.sleep(2)
        self.assertEqual(len(receiver.posts), 3)
        self.assertEqual(inst.stop(), 0)

    def test_a_bad_webhook_url_is_refused_at_start(self):
        inst = self.instance(start=False)
        self.configure(inst, "ftp://example.net/hook")
        r = run([inst.bin, "--config", inst.config, "serve"], check=False, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("notify.webhook_url must start with http:// or https://", r.stdout + r.stderr)


if __name__ == "__main__":
    main()

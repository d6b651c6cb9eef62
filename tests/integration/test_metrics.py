"""GET /metrics on the admin listener against the real binary: after real eapol_test
accepts and rejects and a real scepclient enrollment the counters have moved, and
`promtool check metrics` accepts the text; who may read it ([metrics] allow, the admin
token); the Grafana dashboard in deploy/ parses and queries only metrics a scrape has."""

import json
import os
import re
import signal
import subprocess
import time

from harness import IntegrationTest, eventually, issue_through_cli, main, nas_secret, run, serial_of
from test_scep import sha256_der_fingerprint

EAPOL_TIMEOUT = 10
DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "grafana-dashboard.json")


def set_allow(inst, cidrs):
    with open(inst.config) as f:
        text = f.read()
    text = re.sub(r"(?m)^allow = \[.*\].*$", "allow = " + json.dumps(cidrs), text)
    with open(inst.config, "w") as f:
        f.write(text)


def samples(text):
    """{(name, frozenset(labels)): value} from the text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())), 0.0)


class MetricsTest(IntegrationTest):
    def scrape(self, inst, **kw):
        status, body = inst.http("GET", "/metrics", admin=True, **kw)
        return status, body.decode()

    def eapol(self, inst, key, cert):
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n private_key=\"{key}\"\n}}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(inst.radius_port), "-s", nas_secret(inst),
                    "-t", str(EAPOL_TIMEOUT)], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def issue(self, inst, device):
        key, cert = issue_through_cli(inst, self.workdir, device, cn=f"{device}.example.net")
        return key, cert, serial_of(cert)

    def enroll_with_scepclient(self, inst):
        with open(inst.config) as f:
            static = re.search(r'^static_challenge = "([^"]+)"', f.read(), re.M).group(1)
        folder = os.path.join(self.workdir, "scep")
        os.makedirs(folder)
        r = subprocess.run(["scepclient", "-server-url", f"http://127.0.0.1:{inst.http_port}/scep",
                            "-ca-fingerprint", sha256_der_fingerprint(inst.ca("ra.pem")),
                            "-private-key", os.path.join(folder, "key.pem"), "-cn", "kiosk-1", "-keySize", "2048",
                            "-challenge", static], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def legacy_instance(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        with open(inst.config, "w") as f:
            f.write(text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true"))
        return inst.start()

    def test_counters_move_with_real_clients_and_promtool_accepts_the_text(self):
        inst = self.legacy_instance()
        status, before_text = self.scrape(inst)
        self.assertEqual(status, 200)
        before = samples(before_text)

        key, cert, serial = self.issue(inst, "laptop-1")
        self.assertRegex(self.eapol(inst, key, cert), r"(?m)^SUCCESS$")
        inst.cli("revoke", "--serial", serial, "--reason", "keyCompromise")
        self.assertRegex(self.eapol(inst, key, cert), r"(?m)^FAILURE$")
        self.enroll_with_scepclient(inst)

        status, text = self.scrape(inst)
        self.assertEqual(status, 200)
        after = samples(text)
        accepted = dict(nas="loopback", outcome="accept", reason="ok")
        rejected = dict(nas="loopback", outcome="reject", reason="revoked")
        self.assertEqual(value(after, "portcullis_radius_decisions_total", **accepted), 1)
        self.assertEqual(value(after, "portcullis_radius_decisions_total", **rejected), 1)
        self.assertEqual(value(after, "portcullis_eap_handshake_seconds_count"), 2)
        self.assertGreater(value(after, "portcullis_eap_handshake_seconds_sum"), 0)
        self.assertEqual(value(after, "portcullis_scep_requests_total", operation="PKIOperation", outcome="issued") -
                         value(before, "portcullis_scep_requests_total", operation="PKIOperation", outcome="issued"), 1)
        # Issuing, revoking and the SCEP issuance each committed at least one transaction.
        self.assertGreaterEqual(value(after, "portcullis_ledger_commit_seconds_count") -
                                value(before, "portcullis_ledger_commit_seconds_count"), 3)
        self.assertEqual(value(after, "portcullis_eap_conversations_open"), 0)
        self.assertIn(("portcullis_radius_dropped_total", frozenset({("reason", "unknown_nas")})), after)
        self.assertIn(("portcullis_dynauth_total", frozenset({("kind", "disconnect"), ("result", "ack")})), after)
        self.assertIn(("portcullis_events_dropped_total", frozenset()), after)
        # The census is cached for 30 s: the first scrape's figures (the service's own
        # certificates, all valid) may still stand; their sum never drops.
        total = sum(value(after, "portcullis_certificates", status=s) for s in ("valid", "revoked", "expired"))
        self.assertGreaterEqual(total, 1)
        for days in ("1", "7", "30"):
            self.assertIn(("portcullis_certificates_expiring", frozenset({("within_days", days)})), after)

        path = os.path.join(self.workdir, "metrics.txt")
        with open(path, "w") as f:
            f.write(text)
        with open(path) as f:
            check = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

        # Every metric the shipped dashboard queries is in a scrape.
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        self.assertGreater(len(exprs), 5)
        scraped = {name for name, _ in after}
        for expr in exprs:
            for metric in re.findall(r"\b(portcullis_[a-z_]+)", expr):
                self.assertIn(metric, scraped, expr)

    def test_token_or_allowed_address_and_nobody_else(self):
        inst = self.instance(start=False)
        set_allow(inst, ["192.0.2.0/24", "2001:db8::/32"])
        inst.start()
        self.assertEqual(self.scrape(inst, auth=False)[0], 401)
        self.assertEqual(self.scrape(inst, auth=False, headers={"Authorization": "Bearer wrong"})[0], 401)
        status, text = self.scrape(inst)
        self.assertEqual(status, 200)
        self.assertIn("# TYPE portcullis_radius_decisions_total counter", text)
        self.assertEqual(inst.http("POST", "/metrics", admin=True)[0], 405)
        self.assertEqual(inst.http("GET", "/metrics", admin=False)[0], 404)  # not on the public listener

        # SIGHUP: loopback allowed, no token needed from here any more.
        set_allow(inst, ["127.0.0.0/8", "::1/128"])
        inst.proc.send_signal(signal.SIGHUP)
        eventually(lambda: self.scrape(inst, auth=False)[0], lambda s: s == 200)

        # A malformed entry is refused by the loader with its line; the running config stays.
        set_allow(inst, ["10.0.0.1/8"])
        inst.proc.send_signal(signal.SIGHUP)
        eventually(lambda: inst.log(), lambda log: "metrics.allow has an entry that is host bits set" in log)
        self.assertEqual(self.scrape(inst, auth=False)[0], 200)


if __name__ == "__main__":
    main()

"""Several nodes on one PostgreSQL ledger, with real peers (eapol_test, radclient,
micromdm scepclient) and a NAS stand-in for RFC 5176:

- a revocation on node A reaches the session node B accepted as exactly one
  Disconnect-Request (B sends it; A, which does not hold the session, sends none), and also
  when both nodes hold the session (A restarted and reloaded it): the ledger claim decides;
- each node lists every node from their heartbeats, with the one killed -9 "silent" within
  a few beats (also in the console's overview, in Chromium) and a cleanly stopped one
  "stopped"; a join under a name in use is refused;
- a node that cannot reach the database says so: /api/v1/health "degraded" with the
  reason, portcullis_ledger_connected 0, one loud log line per change of state;
- the same one-time challenge raced on both nodes yields one certificate and one FAILURE;
  a SCEP transaction retried on the other node returns the same certificate;
- one node killed -9 during a mixed burst: the other keeps serving, and the restarted one
  holds the revocations made while it was down;
- PostgreSQL restarted mid-burst of enrollments: every certificate a client received is in
  the ledger exactly once."""

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import time

from harness import eventually, issue_through_cli, main, make_key_and_csr, nas_secret, run, serial_of
from postgres import PostgresTest
import test_scep_crl  # its PKIMessage builder (the module, so its tests are not collected here)
from test_dynauth import DISCONNECT_REQUEST, NasStandIn, attributes
from test_postgres_ledger import JoinedNode, sha256_der_fingerprint

EAPOL_TIMEOUT = 10
CLASS, ACCT_SESSION_ID = 25, 44
PKCS_REQ = 19


def metric(inst, name, labels=""):
    """The value of one sample of /metrics (summed over label sets matching `labels`)."""
    _, body = inst.http("GET", "/metrics", admin=True)
    total, found = 0.0, False
    for line in body.decode().splitlines():
        m = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name and labels in (m.group(2) or ""):
            total += float(m.group(3))
            found = True
    return total if found else None


class NodesTest(PostgresTest):
    DB_PREFIX = "nodes"

    def setUp(self):
        super().setUp()
        self.nas = None
        self.macs = 0

    def tearDown(self):
        if self.nas:
            self.nas.close()
        super().tearDown()


    def two_nodes(self, coa_port=None, legacy_scep=False, heartbeat_seconds=None):
        """Node A (init --ledger) and node B (init --join A), both started; with `coa_port`
        both send Disconnect/CoA for the loopback NAS there."""
        a = self.instance(init_args=["--ledger", self.url, "--ledger-password-file", self.password_file],
                          start=False)
        with open(a.config) as f:
            text = f.read()
        if coa_port:
            text = text.replace("coa_port = 3799", f"coa_port = {coa_port}")
            text = text.replace("dynauth_timeout_ms = 1000", "dynauth_timeout_ms = 300")
        if heartbeat_seconds:  # B's config is a copy of A's: both beat this often
            text = text.replace("heartbeat_seconds = 10", f"heartbeat_seconds = {heartbeat_seconds}")
        if legacy_scep:  # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1
            text = text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
        with open(a.config, "w") as f:
            f.write(text)
        folder = os.path.join(self.workdir, "node-b")
        os.makedirs(folder)
        b = JoinedNode(folder, a)
        self.instances.append(b)
        a.start()
        b.start()
        return a, b

    def issue(self, inst, name):
        key, cert = issue_through_cli(inst, self.workdir, name)
        return key, cert, serial_of(cert)

    def eapol(self, inst, key, cert, mac="02:00:00:00:00:01"):
        # One file per certificate and station: the burst runs several at once.
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}-{mac.replace(':', '')}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n private_key=\"{key}\"\n}}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(inst.radius_port), "-s", nas_secret(inst),
                    "-t", str(EAPOL_TIMEOUT), "-M", mac], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def live_session(self, inst, key, cert, session):
        """eapol_test SUCCESS on `inst`, then radclient's Accounting-Start to it with the
        Accept's Class: the session `inst` accepted and holds."""
        self.macs += 1
        mac = f"02:00:00:00:00:{self.macs:02x}"
        out = self.eapol(inst, key, cert, mac)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        accept = out[out.rindex("RADIUS message: code=2"):]
        token = re.search(r"Attribute 25 \(Class\) length=\d+\n\s+Value: (\S+)", accept).group(1)
        lines = ["Acct-Status-Type = Start", "NAS-IP-Address = 127.0.0.1", f'Acct-Session-Id = "{session}"',
                 f'Calling-Station-Id = "{mac.replace(":", "-").upper()}"', 'User-Name = "anonymous@example"',
                 f"Class = 0x{token}"]
        r = run(["radclient", "-x", "-r", "1", "-t", "2", "--", f"127.0.0.1:{inst.radius_port + 1}", "acct",
                 nas_secret(inst)], check=False, input="\n".join(lines) + "\n", timeout=30)
        self.assertIn("Received Accounting-Response", r.stdout, r.stdout + r.stderr)
        # The accounting writer puts the row into the shared ledger shortly after the answer.
        self.assertTrue(eventually(lambda: self.rows(
            f"SELECT count(*) FROM radius_sessions WHERE acct_session_id = '{session}'"), lambda n: n == "1"))
        return mac

    def known_on(self, inst, serial):
        """Waits until `inst`'s index holds the certificate as good (the change feed brought
        it): asked through the admin API, so no Access-Accept is left behind to act on."""
        self.assertTrue(eventually(lambda: inst.api("GET", f"/identity/{serial}")[1], lambda i: i and i.get(
            "verdict") == "good", timeout=5))

    def disconnects_for(self, got, session):
        return [g for g in got if g["packet"][0] == DISCONNECT_REQUEST
                and dict(attributes(g["packet"])).get(ACCT_SESSION_ID) == session.encode()]

    # --- 1. Disconnect for a session another node accepted
    def test_revoke_on_a_disconnects_the_session_b_accepted_exactly_once(self):
        from harness import free_port
        coa_port = free_port()
        a, b = self.two_nodes(coa_port=coa_port)
        self.nas = NasStandIn(nas_secret(a), coa_port)
        key, cert, serial = self.issue(a, "roamer")
        self.known_on(b, serial)
        self.live_session(b, key, cert, "sess-on-b")
        self.nas.take()

        t0 = time.monotonic()
        a.api("POST", f"/certificates/{serial}/revoke", body={"reason": "keyCompromise"}, expect=200)
        got = self.nas.wait(1, timeout=3)
        self.assertEqual(len(got), 1, "one Disconnect-Request")
        latency = got[0]["at"] - t0
        print(f"\nrevoke on A -> Disconnect-Request from B: {latency * 1000:.0f} ms")
        self.assertLess(latency, 1.0, "Disconnect-Request later than 1 s after the revoke on A")
        self.assertEqual(len(self.disconnects_for(got, "sess-on-b")), 1)
        self.assertTrue(got[0]["ra_ok"] and got[0]["ma_ok"])
        time.sleep(1.5)  # a second one (from A, or B again) would be here by now
        self.assertEqual(self.nas.take(), [], "a second Disconnect-Request")
        self.assertTrue(eventually(lambda: metric(b, "portcullis_dynauth_total", 'kind="disconnect",result="ack"'),
                                   lambda v: v == 1.0))
        self.assertEqual(metric(a, "portcullis_dynauth_total", 'kind="disconnect"'), 0.0, "A sent none")
        self.assertIn("-> Disconnect ACK", b.log())
        self.assertNotIn("Disconnect-Request(s) queued", a.log())
        self.assertTrue(eventually(lambda: self.rows(
            "SELECT dynauth || '/' || dynauth_claim FROM radius_sessions WHERE acct_session_id = 'sess-on-b'"),
            lambda v: v == "Disconnect ACK/revoked"))
        self.assertRegex(self.eapol(b, key, cert), r"(?m)^FAILURE$")

    def test_two_nodes_holding_one_session_send_one_disconnect(self):
        """A NAS's session known to both nodes (here: A restarted and reloaded the live
        sessions from the shared ledger): each hears of the revocation, one sends."""
        from harness import free_port
        coa_port = free_port()
        a, b = self.two_nodes(coa_port=coa_port)
        self.nas = NasStandIn(nas_secret(a), coa_port)
        key, cert, serial = self.issue(a, "doubled")
        self.known_on(b, serial)
        self.live_session(b, key, cert, "sess-both")
        a.stop()
        a.start()
        self.assertIn("1 live session(s) reloaded from the ledger", a.log())
        self.nas.take()

        t0 = time.monotonic()
        a.api("POST", f"/certificates/{serial}/revoke", body={"reason": "keyCompromise"}, expect=200)
        got = self.nas.wait(1, timeout=3)
        self.assertEqual(len(got), 1)
        self.assertLess(got[0]["at"] - t0, 1.0)
        time.sleep(1.5)
        self.assertEqual(self.nas.take(), [], "a second Disconnect-Request")
        sent = [metric(n, "portcullis_dynauth_total", 'kind="disconnect"') for n in (a, b)]
        self.assertEqual(sorted(sent), [0.0, 1.0], sent)
        loser = b if sent[0] == 1.0 else a
        self.assertIn("another node has claimed it; not sent from here", loser.log())

    # --- 2. every node on each node's console
    def test_each_node_lists_every_node_and_the_one_that_went_silent(self):
        """Both nodes beat every second. Each lists both; B killed with -9 turns "silent"
        on A within a few beats, and the overview's table in Chromium shows it; restarted it
        is "ok" again, stopped cleanly "stopped" at once, and only then can it be forgotten.
        A join under a name in use is refused."""
        a, b = self.two_nodes(heartbeat_seconds=1)

        def states(inst):
            _, body = inst.api("GET", "/nodes", expect=200)
            return {n["name"]: (n["state"], n["this"]) for n in body["nodes"]}

        name_a = next(n for n, (_, this) in states(a).items() if this)
        self.assertTrue(eventually(lambda: states(a), lambda s: s == {name_a: ("ok", True), "node-b": ("ok", False)}))
        self.assertTrue(eventually(lambda: states(b), lambda s: s == {name_a: ("ok", False), "node-b": ("ok", True)}))
        _, overview = a.api("GET", "/overview", expect=200)
        self.assertEqual([n["name"] for n in overview["nodes"]], sorted([name_a, "node-b"]))
        self.assertRegex(a.cli("nodes", "list").stdout, r"(?m)^node-b\s+ok\s+\d+ s ago\s+0\.1\.0")

        refused = a.cli("nodes", "forget", "node-b", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("node node-b is still beating", refused.stderr)
        for extra, why in (([], f"the node being joined is called {name_a}"),
                           (["--node-name", "node-b"], "a node called node-b is running on this ledger")):
            join = run([a.bin, "init", "--dir", os.path.join(self.workdir, "node-c"), "--join", a.dir, *extra],
                       check=False)
            self.assertNotEqual(join.returncode, 0, join.stdout)
            self.assertIn(why, join.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.workdir, "node-c")))

        b.stop(signal.SIGKILL)
        started = time.monotonic()
        self.assertTrue(eventually(lambda: states(a).get("node-b"), lambda s: s == ("silent", False), timeout=10))
        print(f"node-b killed -9: silent on A after {time.monotonic() - started:.1f} s (beats every 1 s)")
        self.browser_shows(a, {name_a: "ok", "node-b": "silent"}, "overview-nodes-silent.png")

        b.start()
        self.assertTrue(eventually(lambda: states(a).get("node-b"), lambda s: s == ("ok", False), timeout=5))
        b.stop()
        self.assertEqual(states(a).get("node-b"), ("stopped", False), "the last beat of a clean stop")
        self.assertIn("forgot node node-b", a.cli("nodes", "forget", "node-b").stdout)
        self.assertEqual(states(a), {name_a: ("ok", True)})
        self.assertEqual(self.rows("SELECT actor || ' ' || detail FROM audit WHERE action = 'node.forget' "
                                   "AND target = 'node-b'"), "api:admin was stopped")

    def browser_shows(self, inst, expect, screenshot):
        """nodes.mjs in Debian's chromium: signs in to `inst`'s console and waits until the
        overview's table of nodes shows each node in its state; writes the screenshot."""
        build = os.path.dirname(os.path.dirname(os.path.abspath(inst.bin)))
        env = dict(os.environ, CONSOLE_URL=f"http://127.0.0.1:{inst.admin_port}", ADMIN_TOKEN=inst.token,
                   EXPECT_STATES=json.dumps(expect),
                   SCREENSHOT=os.path.join(build, "test-output", "console", screenshot))
        out = run(["node", os.path.join(build, "tests", "browser", "nodes.mjs")], env=env, check=False, timeout=90)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    # --- 3. a node that cannot follow the ledger says so
    def test_database_down_is_degraded_health_and_metrics_and_logged_once(self):
        a, b = self.two_nodes()
        for node in (a, b):
            _, health = node.api("GET", "/health", expect=200, auth=False)
            self.assertEqual(health, {"status": "ok"})
            self.assertEqual(metric(node, "portcullis_ledger_connected"), 1.0)
            self.assertTrue(eventually(lambda n=node: metric(n, "portcullis_ledger_catch_up_age_seconds"),
                                       lambda v: v is not None and 0 <= v < 2))
        self.pg.stop()
        try:
            for node in (a, b):
                self.assertTrue(eventually(lambda n=node: n.api("GET", "/health", auth=False)[1],
                                           lambda h: h.get("status") == "degraded", timeout=10))
                status, health = node.api("GET", "/health", auth=False)
                self.assertEqual(status, 200, "RADIUS still decides: a probe must not take the node out")
                self.assertIn("ledger database is unreachable", health["reason"])
                self.assertEqual(metric(node, "portcullis_ledger_connected"), 0.0)
            for _ in range(5):
                a.api("GET", "/health", auth=False)
            time.sleep(2.5)  # several ticks of the state check
            self.assertEqual(a.log().count("health: DEGRADED"), 1, "one line per change of state")
        finally:
            self.pg.start()
        for node in (a, b):
            self.assertTrue(eventually(lambda n=node: n.api("GET", "/health", auth=False)[1],
                                       lambda h: h == {"status": "ok"}, timeout=15))
            self.assertEqual(metric(node, "portcullis_ledger_connected"), 1.0)
            self.assertTrue(eventually(lambda n=node: n.log().count("health: ok again"), lambda c: c == 1, timeout=3))

    def scepclient(self, inst, folder, cn, challenge):
        """micromdm scepclient against `inst`, started (Popen) with its own key folder."""
        os.makedirs(folder)
        return subprocess.Popen(["scepclient", "-server-url", f"http://127.0.0.1:{inst.http_port}/scep",
                                 "-ca-fingerprint", sha256_der_fingerprint(inst.ca("ra.pem")), "-private-key",
                                 os.path.join(folder, "key.pem"), "-cn", cn, "-keySize", "2048",
                                 "-challenge", challenge], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    def serial_of_pem(self, path):
        return run(["openssl", "x509", "-in", path, "-noout", "-serial"]).stdout.strip().split("=")[1]

    def certificate_in_reply(self, reply, key, cert):
        """The certificate a SUCCESS CertRep carries: the RA-signed content is an envelope
        for the requester (RFC 8894 §3.3.2), holding a certs-only SignedData."""
        inner = os.path.join(self.workdir, f"{os.path.basename(reply)}.env")
        run(["openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", reply, "-out", inner])
        certs = os.path.join(self.workdir, f"{os.path.basename(reply)}.p7")
        run(["openssl", "cms", "-decrypt", "-binary", "-inform", "DER", "-in", inner, "-inkey", key, "-recip", cert,
             "-out", certs])
        pem = run(["openssl", "pkcs7", "-inform", "DER", "-in", certs, "-print_certs"]).stdout
        path = os.path.join(self.workdir, f"{os.path.basename(reply)}.pem")
        with open(path, "w") as f:
            f.write(pem)
        return self.serial_of_pem(path)

    def certificates_of(self, device):
        return self.rows("SELECT c.serial FROM certificates c JOIN devices d ON d.id = c.device_id "
                         f"WHERE d.name = '{device}' ORDER BY 1").split()

    # --- 4. exactly once across nodes, and faults on real nodes
    def test_the_same_challenge_raced_on_both_nodes_yields_one_certificate(self):
        a, b = self.two_nodes(legacy_scep=True)
        for round_ in range(2):
            device = f"racer-{round_}"
            challenge = a.cli("challenge", "--device", device, "--cn", device, "--ttl", "10m").stdout.strip()
            clients = [self.scepclient(node, os.path.join(self.workdir, f"{device}-{name}"), device, challenge)
                       for node, name in ((a, "a"), (b, "b"))]
            outs = []
            for c in clients:
                out = c.communicate(timeout=120)[0]
                outs.append((c.returncode, out))
            codes = sorted(code for code, _ in outs)
            self.assertEqual(codes[0], 0, outs)
            self.assertNotEqual(codes[1], 0, outs)
            refused = [out for code, out in outs if code != 0][0]
            self.assertIn("failInfo:", refused)
            self.assertEqual(len(self.certificates_of(device)), 1)
            won = [name for (code, _), name in zip(outs, "ab") if code == 0][0]
            issued = os.path.join(self.workdir, f"{device}-{won}", "client.pem")
            self.assertEqual(self.certificates_of(device), [self.serial_of_pem(issued)])
        self.assertEqual(self.rows("SELECT count(*) FROM challenges WHERE used_at IS NULL"), "0")

    def test_a_scep_transaction_retried_on_the_other_node_returns_the_same_certificate(self):
        a, b = self.two_nodes()
        challenge = a.cli("challenge", "--device", "retry-1", "--cn", "retry-1", "--ttl", "10m").stdout.strip()
        key, csr = make_key_and_csr(self.workdir, "retry-1", "retry-1", key="rsa2048")
        # The request again, with the challenge as its challengePassword (RFC 8894 §2.2).
        cfg = os.path.join(self.workdir, "retry-1-attrs.cnf")
        with open(cfg, "w") as f:
            f.write("[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nCN=retry-1\n"
                    f"[attrs]\nchallengePassword={challenge}\n")
        run(["openssl", "req", "-new", "-key", key, "-config", cfg, "-out", csr])
        requester = os.path.join(self.workdir, "requester.pem")
        run(["openssl", "req", "-x509", "-key", key, "-subj", "/CN=retry-1", "-days", "1", "-out", requester])
        crl_test = test_scep_crl.ScepGetCrlTest
        message = crl_test.pki_message(self, a, key, requester, PKCS_REQ, test_scep_crl.der_of(csr, "req"),
                                       "retry-transaction-1")
        first = crl_test.post(self, a, message)
        self.assertEqual(crl_test.status_of(self, first)[0], "0", "SUCCESS on A")
        serial = self.certificate_in_reply(first, key, requester)
        # The same message again (the client did not get A's answer), to B.
        second = crl_test.post(self, b, message)
        self.assertEqual(crl_test.status_of(self, second)[0], "0", "SUCCESS on B")
        self.assertEqual(self.certificate_in_reply(second, key, requester), serial)
        self.assertEqual(self.certificates_of("retry-1"), [serial])
        self.assertIn("retransmitted transaction retry-transaction-1 answered with certificate", b.log())

    def test_a_node_killed_during_a_mixed_burst_on_the_other(self):
        a, b = self.two_nodes(legacy_scep=True)
        certs = {name: self.issue(a, name) for name in ("keep-1", "keep-2", "gone-1", "gone-2")}
        self.assertTrue(eventually(lambda: re.search(r"(?m)^SUCCESS$", self.eapol(b, *certs["keep-1"][:2])), bool))

        def enroll(i):
            device = f"burst-{i}"
            challenge = a.cli("challenge", "--device", device, "--cn", device, "--ttl", "10m").stdout.strip()
            c = self.scepclient(a, os.path.join(self.workdir, device), device, challenge)
            out = c.communicate(timeout=120)[0]
            return "scep", c.returncode == 0, out[-500:]

        def authenticate(i):
            key, cert, _ = certs["keep-1" if i % 2 else "keep-2"]
            for _ in range(3):  # across the kill and after it
                out = self.eapol(a, key, cert, f"02:00:00:00:01:{i:02x}")
                if not re.search(r"(?m)^SUCCESS$", out):
                    return "eap", False, out[-500:]
            return "eap", True

        def revoke(name):
            time.sleep(0.8)  # after the kill
            status, _ = a.api("POST", f"/certificates/{certs[name][2]}/revoke", body={"reason": "keyCompromise"})
            return "revoke", status == 200

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            jobs = [pool.submit(enroll, i) for i in range(4)] + [pool.submit(authenticate, i) for i in range(6)]
            jobs += [pool.submit(revoke, name) for name in ("gone-1", "gone-2")]
            time.sleep(0.3)
            b.proc.send_signal(signal.SIGKILL)
            self.assertEqual(b.stop(), -signal.SIGKILL)
            results = [j.result(timeout=150) for j in jobs]
        self.assertEqual([r for r in results if not r[1]], [], "every operation on the survivor succeeded")
        print(f"\nmixed burst on A with B killed: 4 SCEP enrollments, 18 EAP-TLS, 2 revocations in "
              f"{time.monotonic() - started:.1f} s")
        # Issued and revoked while B was down: B, restarted, holds both.
        late = self.issue(a, "late-1")
        b.start()
        for name in ("gone-1", "gone-2"):
            self.assertRegex(self.eapol(b, *certs[name][:2]), r"(?m)^FAILURE$", name)
        self.assertRegex(self.eapol(b, *late[:2]), r"(?m)^SUCCESS$")
        self.assertRegex(self.eapol(b, *certs["keep-2"][:2]), r"(?m)^SUCCESS$")
        for i in range(4):
            self.assertEqual(len(self.certificates_of(f"burst-{i}")), 1)

    def test_postgresql_restarted_mid_burst_loses_no_returned_certificate(self):
        a, b = self.two_nodes()
        _, csr = make_key_and_csr(self.workdir, "burst", "burst")
        with open(csr) as f:
            csr_pem = f.read()
        for i in range(8):
            a.api("POST", "/devices", {"name": f"pg-burst-{i}"}, expect=201)
        stop = time.monotonic() + 6
        received, failures = [], []

        def worker(i):
            node = (a, b)[i % 2]
            while time.monotonic() < stop:
                try:
                    status, body = node.api("POST", "/certificates", {"csr": csr_pem, "device": f"pg-burst-{i}"},
                                            timeout=20)
                except OSError as e:  # the node answers every request; a reset would be a finding
                    failures.append(f"{type(e).__name__}: {e}")
                    continue
                if status == 201:
                    received.append(body["serial"])
                else:
                    failures.append(status)
                    time.sleep(0.05)

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            jobs = [pool.submit(worker, i) for i in range(8)]
            time.sleep(1.5)
            before = len(received)
            self.pg.stop()
            time.sleep(1.5)
            self.pg.start()
            for j in jobs:
                j.result(timeout=60)
        print(f"\nissuance across a PostgreSQL restart: {len(received)} certificates returned "
              f"({before} before the stop), {len(failures)} failed fast")
        self.assertGreater(before, 0)
        self.assertGreater(len(received), before, "issuance resumed after the restart")
        self.assertTrue(failures, "some requests met the stopped database")
        self.assertTrue(all(f == 503 for f in failures), failures[:5])
        self.assertEqual(len(set(received)), len(received), "a serial returned twice")
        counts = dict(line.split("|") for line in self.rows(
            "SELECT serial, count(*) FROM certificates GROUP BY serial").split())
        lost = [s for s in received if counts.get(s) != "1"]
        self.assertEqual(lost, [], "certificates returned to a client but not in the ledger exactly once")


if __name__ == "__main__":
    main()

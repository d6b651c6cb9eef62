"""The admin API routes the browser console reads, against real peers: per-NAS counters and
last seen (`GET /api/v1/nas`, `portcullis nas list`) after eapol_test EAP-TLS conversations
and radclient accounting, and an operator's Disconnect of one session
(`POST /api/v1/sessions/{id}/disconnect`, `portcullis sessions disconnect`) answered by a NAS
stand-in (test_dynauth.py's) with a Disconnect-ACK; its SSID from Called-Station-Id; and a
RadSec client's open connections and counters (test_radsec.py's Python RadSec client)."""

import json
import os
import re
import sys
import time

import test_radius
import test_radsec
from harness import IntegrationTest, eventually, free_port, issue_through_cli, main, run
from test_dynauth import ACCT_SESSION_ID, CLASS, DISCONNECT_REQUEST, NasStandIn, attributes

EAPOL_TIMEOUT = 10


class ConsoleApiTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.coa_port = free_port()
        self.inst = self.instance(start=False)
        with open(self.inst.config) as f:
            text = f.read()
        text = text.replace("coa_port = 3799", f"coa_port = {self.coa_port}")
        text = text.replace("dynauth_timeout_ms = 1000", "dynauth_timeout_ms = 300")
        with open(self.inst.config, "w") as f:
            f.write(text)
        self.assertIn(f"coa_port = {self.coa_port}", text)
        block = text[text.index("[[radius.clients]]"):]
        self.secret = re.search(r'^secret = "([^"]+)"', block, re.M).group(1)
        self.nas = NasStandIn(self.secret, self.coa_port)
        try:
            self.inst.start()
        except AssertionError:
            self.nas.close()
            print(self.inst.log(), file=sys.stderr)
            raise

    def tearDown(self):
        self.nas.close()
        super().tearDown()

    def issue(self, device):
        return issue_through_cli(self.inst, self.workdir, device)

    def eapol(self, key, cert, mac):
        """eapol_test's output; with -M the MAC it sends as Calling-Station-Id."""
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{self.inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n"
                    f" private_key=\"{key}\"\n fragment_size=1398\n}}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(self.inst.radius_port), "-s", self.secret,
                    "-t", str(EAPOL_TIMEOUT), "-M", mac], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def class_of(self, out):
        accept = out[out.rindex("RADIUS message: code=2"):]
        accept = accept[:accept.index("\nSTA ")]
        values = dict(re.findall(r"Attribute (\d+) \([^)]*\) length=\d+\n\s+Value: (\S+)", accept))
        return bytes.fromhex(values[str(CLASS)])

    def accounting(self, status, session, mac, token=None, ssid=None, secret=None):
        lines = [f"Acct-Status-Type = {status}", "NAS-IP-Address = 127.0.0.1", f'Acct-Session-Id = "{session}"',
                 f'Calling-Station-Id = "{mac.replace(":", "-").upper()}"', 'User-Name = "anonymous@example"']
        if ssid:
            lines.append(f'Called-Station-Id = "00-11-22-33-44-55:{ssid}"')
        if token:
            lines.append(f"Class = 0x{token.hex()}")
        return run(["radclient", "-x", "-r", "1", "-t", "1", "--", f"127.0.0.1:{self.inst.radius_port + 1}", "acct",
                    secret or self.secret], check=False, input="\n".join(lines) + "\n", timeout=30)

    def live_session(self, device, mac, session, ssid):
        key, cert = self.issue(device)
        out = self.eapol(key, cert, mac)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        r = self.accounting("Start", session, mac, self.class_of(out), ssid)
        self.assertIn("Received Accounting-Response", r.stdout, r.stdout + r.stderr)
        return key, cert

    def session(self, acct_session_id, live="false"):
        _, body = self.inst.api("GET", f"/sessions?live={live}", expect=200)
        rows = [s for s in body["sessions"] if s["acct_session_id"] == acct_session_id]
        return rows[0] if rows else None

    def test_nas_list_counts_requests_decisions_drops_and_accounting(self):
        _, before = self.inst.api("GET", "/nas", expect=200)
        self.assertEqual([n["name"] for n in before["nas"]], ["loopback"])
        loopback = before["nas"][0]
        self.assertEqual(loopback["transport"], "udp")
        self.assertIsNone(loopback["last_seen"])
        self.assertIsNone(loopback["last_seen_unix"])
        self.assertEqual(loopback["counters"],
                         {"requests": 0, "accepts": 0, "rejects": 0, "dropped": 0, "accounting": 0})
        self.assertEqual(loopback["connections"], 0)

        # A datagram with the wrong secret: dropped, and not "seen" (anyone can spoof the address).
        r = self.accounting("Start", "wrong-secret", "02:00:00:00:10:01", secret="not-the-secret")
        self.assertNotIn("Received Accounting-Response", r.stdout)
        _, after_drop = self.inst.api("GET", "/nas", expect=200)
        self.assertEqual(after_drop["nas"][0]["counters"]["dropped"], 1)
        self.assertIsNone(after_drop["nas"][0]["last_seen"])

        t0 = int(time.time())
        key, cert = self.live_session("console-laptop", "02:00:00:00:10:02", "nas-count-1", "corp-wifi")
        self.inst.cli("devices", "disable", "console-laptop")
        self.assertRegex(self.eapol(key, cert, "02:00:00:00:10:02"), r"(?m)^FAILURE$")

        _, body = self.inst.api("GET", "/nas", expect=200)
        c = body["nas"][0]["counters"]
        self.assertEqual((c["accepts"], c["rejects"], c["accounting"], c["dropped"]), (1, 1, 1, 1), c)
        # Every EAP round trip is a request: two conversations of several each, the accounting
        # request and the dropped one.
        self.assertGreaterEqual(c["requests"], 2 * 4 + 2, c)
        seen = body["nas"][0]["last_seen_unix"]
        self.assertTrue(t0 - 1 <= seen <= time.time() + 1, (t0, seen))
        self.assertTrue(body["nas"][0]["last_seen"].endswith("Z"))

        cli = json.loads(self.inst.cli("--json", "nas", "list").stdout)
        self.assertEqual(cli["nas"][0]["counters"]["accepts"], 1)
        table = self.inst.cli("nas", "list").stdout
        self.assertRegex(table, r"(?m)^NAME\s+TRANSPORT\s+ADDRESS")
        self.assertRegex(table, r"(?m)^loopback\s+udp\s+127\.0\.0\.1")

    def test_an_operator_disconnects_one_session_and_the_nas_acks(self):
        self.live_session("console-phone", "02:00:00:00:20:01", "console-sess-1", "corp-wifi")
        self.live_session("console-tablet", "02:00:00:00:20:02", "console-sess-2", "guest")

        # Accounting reaches the ledger through its writer, a moment after the response.
        row = eventually(lambda: self.session("console-sess-1", "true"), lambda r: r is not None)
        eventually(lambda: self.session("console-sess-2", "true"), lambda r: r is not None)
        self.assertEqual(row["ssid"], "corp-wifi")
        self.assertEqual(row["device"], "console-phone")
        _, by_ssid = self.inst.api("GET", "/sessions?ssid=guest", expect=200)
        self.assertEqual([s["acct_session_id"] for s in by_ssid["sessions"]], ["console-sess-2"])
        _, by_device = self.inst.api("GET", "/sessions?device=console-phone&nas=loopback", expect=200)
        self.assertEqual([s["id"] for s in by_device["sessions"]], [row["id"]])

        self.nas.take()
        status, body = self.inst.api("POST", f"/sessions/{row['id']}/disconnect")
        self.assertEqual(status, 202, body)
        self.assertEqual(body["session"]["acct_session_id"], "console-sess-1")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["packet"][0], DISCONNECT_REQUEST)
        self.assertTrue(got[0]["ra_ok"] and got[0]["ma_ok"])
        self.assertEqual(dict(attributes(got[0]["packet"])).get(ACCT_SESSION_ID), b"console-sess-1")
        done = eventually(lambda: self.session("console-sess-1"), lambda r: r["dynauth"] == "Disconnect ACK")
        self.assertEqual(done["dynauth"], "Disconnect ACK")
        self.assertIsNotNone(done["stopped_at"])
        self.assertIsNone(self.session("console-sess-1", "true"), "an ACKed session leaves the live list")
        self.assertEqual(self.inst.api("POST", f"/sessions/{row['id']}/disconnect")[0], 409)
        self.assertEqual(self.inst.api("POST", "/sessions/999999/disconnect")[0], 404)
        _, audit = self.inst.api("GET", "/audit?action=session.disconnect", expect=200)
        self.assertEqual(audit["entries"][0]["target"], "loopback/console-sess-1")

        # The CLI, for the other session; the other one stays untouched until then.
        other = self.session("console-sess-2", "true")
        self.assertEqual(other["dynauth"], "")
        out = self.inst.cli("sessions", "disconnect", str(other["id"])).stdout
        self.assertIn("Disconnect-Request sent to NAS loopback for session console-sess-2", out)
        self.assertEqual(len(self.nas.wait(1)), 1)
        eventually(lambda: self.session("console-sess-2"), lambda r: r["dynauth"] == "Disconnect ACK")

        # The decision events (stored within a second) say who asked, in words.
        events = eventually(lambda: self.inst.api("GET", "/events?kind=dynauth&device=console-phone", expect=200)[1],
                            lambda body: any(e["outcome"] == "sent" for e in body["events"]))
        sent = [e for e in events["events"] if e["outcome"] == "sent"]
        self.assertEqual(sent[0]["reason"], "operator")
        self.assertIn("operator request by api:", sent[0]["text"])


class RadsecNasListTest(IntegrationTest):
    """`nas list` for a RadSec client: its open connections and what came over them."""

    status_server = staticmethod(test_radius.RadiusTest.status_server)
    radsec_instance = test_radsec.RadsecStreamTest.radsec_instance
    connect = test_radsec.RadsecStreamTest.connect
    read_packets = staticmethod(test_radsec.RadsecStreamTest.read_packets)

    def wlc(self, inst):
        _, body = inst.api("GET", "/nas", expect=200)
        return [n for n in body["nas"] if n["name"] == "wlc-1"][0]

    def test_connections_and_counters_of_a_radsec_client(self):
        inst = self.radsec_instance()
        self.assertEqual(self.wlc(inst)["transport"], "radsec")
        first, second = self.connect(inst), self.connect(inst)
        first.sendall(self.status_server("radsec", identifier=1))
        self.assertEqual(self.read_packets(first, 1)[0][1], 1)
        # Signed with another secret: dropped, and not "seen".
        second.sendall(self.status_server("not-the-radsec-secret", identifier=2))
        second.sendall(self.status_server("radsec", identifier=3))
        self.assertEqual(self.read_packets(second, 1)[0][1], 3)
        wlc = self.wlc(inst)
        self.assertEqual(wlc["connections"], 2)
        self.assertEqual((wlc["counters"]["requests"], wlc["counters"]["dropped"]), (3, 1), wlc)
        self.assertLessEqual(abs(wlc["last_seen_unix"] - time.time()), 5)
        first.close()
        eventually(lambda: self.wlc(inst), lambda n: n["connections"] == 1)
        self.assertEqual(self.wlc(inst)["connections"], 1)
        table = inst.cli("nas", "list").stdout
        self.assertRegex(table, r"(?m)^wlc-1\s+radsec\s")


if __name__ == "__main__":
    main()

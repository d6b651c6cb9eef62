"""Instant revocation at the network edge, end to end with real peers: a device
enrolled with micromdm scepclient authenticates with eapol_test (the policy rule's VLAN in
the Accept), radclient sends its Accounting-Start, then `portcullis revoke` / `devices
disable` makes Portcullis send an RFC 5176 Disconnect-Request (or a CoA-Request with the
quarantine VLAN when the rule says on_disable = "coa") to a NAS stand-in: a small RADIUS
listener in this file that checks the Request Authenticator and Message-Authenticator
(RFC 5176 §3.5) and answers ACK, NAK (Error-Cause 503) or nothing. Also: enable lets a
device back in (a revoked certificate stays out), live sessions survive a restart, and
Accounting-On closes a NAS's sessions."""

import hashlib
import hmac
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import IntegrationTest, eventually, free_port, issue_through_cli, main, run

EAPOL_TIMEOUT = 10
DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK = 40, 41, 42
COA_REQUEST, COA_ACK, COA_NAK = 43, 44, 45
USER_NAME, NAS_IP_ADDRESS, FILTER_ID, CLASS, CALLING_STATION_ID = 1, 4, 11, 25, 31
ACCT_SESSION_ID, EVENT_TIMESTAMP, TUNNEL_TYPE, TUNNEL_MEDIUM_TYPE = 44, 55, 64, 65
MESSAGE_AUTHENTICATOR, TUNNEL_PRIVATE_GROUP_ID, ERROR_CAUSE = 80, 81, 101

POLICY = """
[[rule]]
name = "quarantine-on-disable"
device_groups = ["coa"]
vlan = 30
on_disable = "coa"
coa_vlan = 999
coa_reply = { "Filter-Id" = "quarantine" }

[[rule]]
name = "staff"
vlan = 20
"""


def attributes(packet):
    out, off = [], 20
    while off < len(packet):
        t, n = packet[off], packet[off + 1]
        out.append((t, packet[off + 2:off + n]))
        off += n
    return out


class NasStandIn:
    """A NAS's RFC 5176 Dynamic Authorization Server on 127.0.0.1:port. Records every
    request (with its arrival time and whether its authenticators verify) and answers
    according to `mode`: "ack", "nak503" or "silent"."""

    def __init__(self, secret, port):
        self.secret = secret.encode()
        self.mode = "ack"
        self.received = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()

    def verify(self, packet):
        """RFC 5176 §3.5: Request Authenticator = MD5(Code+Id+Length+16 zeros+Attributes+Secret);
        Message-Authenticator = HMAC-MD5 over the packet with a zero Request Authenticator
        and the attribute's own value zeroed."""
        zeroed_ra = packet[:4] + bytes(16) + packet[20:]
        ra_ok = hmac.compare_digest(hashlib.md5(zeroed_ra + self.secret).digest(), packet[4:20])
        ma_ok, off = False, 20
        while off < len(packet):
            t, n = packet[off], packet[off + 1]
            if t == MESSAGE_AUTHENTICATOR:
                body = bytearray(zeroed_ra)
                body[off + 2:off + 18] = bytes(16)
                ma_ok = hmac.compare_digest(hmac.new(self.secret, bytes(body), hashlib.md5).digest(),
                                            packet[off + 2:off + 18])
            off += n
        return ra_ok, ma_ok

    def reply(self, request, code, attrs=b""):
        # Message-Authenticator first, over the packet with the Request Authenticator in the
        # header (RFC 5176 §3.5), then the Response Authenticator (RFC 2865 §3).
        body = bytes([MESSAGE_AUTHENTICATOR, 18]) + bytes(16) + attrs
        head = struct.pack("!BBH", code, request[1], 20 + len(body))
        ma = hmac.new(self.secret, head + request[4:20] + body, hashlib.md5).digest()
        body = body[:2] + ma + body[18:]
        ra = hashlib.md5(head + request[4:20] + body + self.secret).digest()
        return head + ra + body

    def loop(self):
        while self.running:
            try:
                packet, source = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            ra_ok, ma_ok = self.verify(packet)
            with self.lock:
                self.received.append({"at": time.monotonic(), "packet": packet, "ra_ok": ra_ok, "ma_ok": ma_ok})
                mode = self.mode
            if mode == "silent" or not (ra_ok and ma_ok):
                continue
            ack, nak = (DISCONNECT_ACK, DISCONNECT_NAK) if packet[0] == DISCONNECT_REQUEST else (COA_ACK, COA_NAK)
            if mode == "ack":
                self.sock.sendto(self.reply(packet, ack), source)
            else:
                self.sock.sendto(self.reply(packet, nak, bytes([ERROR_CAUSE, 6]) + struct.pack("!I", 503)), source)

    def take(self):
        with self.lock:
            out, self.received = self.received, []
        return out

    def wait(self, count=1, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    break
            time.sleep(0.005)
        return self.take()


class DynauthTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.coa_port = free_port()
        self.inst = self.instance(start=False)
        with open(self.inst.config) as f:
            text = f.read()
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        text = text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")
        text = text.replace("coa_port = 3799", f"coa_port = {self.coa_port}")
        text = text.replace("dynauth_timeout_ms = 1000", "dynauth_timeout_ms = 300")
        if re.search(r'^\[policy\]', text, re.M):
            text = re.sub(r'(?m)^(\[policy\][^\n]*\n)file = ""', r'\1file = "policy.toml"', text)
        else:
            text += '\n[policy]\nfile = "policy.toml"\n'
        with open(self.inst.config, "w") as f:
            f.write(text)
        with open(os.path.join(self.inst.dir, "policy.toml"), "w") as f:
            f.write(POLICY)
        block = text[text.index("[[radius.clients]]"):]
        self.secret = re.search(r'^secret = "([^"]+)"', block, re.M).group(1)
        self.assertIn(f"coa_port = {self.coa_port}", text)
        self.assertIn("dynauth_timeout_ms = 300", text)
        self.assertIn('file = "policy.toml"', text)
        self.nas = NasStandIn(self.secret, self.coa_port)
        try:
            self.inst.start()
        except AssertionError:
            self.nas.close()
            print(self.inst.log(), file=sys.stderr)
            raise
        self.macs = 0

    def tearDown(self):
        self.nas.close()
        super().tearDown()

    # --- helpers
    def enroll_with_scepclient(self, device, groups=()):
        inst = self.inst
        if groups:
            inst.cli("devices", "add", device, *[a for g in groups for a in ("--group", g)])
        challenge = inst.cli("challenge", "--device", device, "--cn", device, "--ttl", "10m").stdout.strip()
        folder = os.path.join(self.workdir, device)
        os.makedirs(folder)
        ra_der = subprocess.run(["openssl", "x509", "-in", inst.ca("ra.pem"), "-outform", "DER"],
                                capture_output=True, check=True).stdout
        r = subprocess.run(["scepclient", "-server-url", f"http://127.0.0.1:{inst.http_port}/scep",
                            "-ca-fingerprint", hashlib.sha256(ra_der).hexdigest(),
                            "-private-key", os.path.join(folder, "key.pem"), "-cn", device, "-keySize", "2048",
                            "-challenge", challenge], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return os.path.join(folder, "key.pem"), os.path.join(folder, "client.pem")

    def issue(self, device, groups=()):
        """A certificate through the CLI (faster than SCEP, for the devices the SCEP path
        is not the point of)."""
        if groups:
            self.inst.cli("devices", "add", device, *[a for g in groups for a in ("--group", g)])
        return issue_through_cli(self.inst, self.workdir, device)

    def eapol(self, key, cert, mac):
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{self.inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n"
                    f" private_key=\"{key}\"\n fragment_size=1398\n phase1=\"tls_disable_tlsv1_3=0\"\n}}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(self.inst.radius_port), "-s", self.secret,
                    "-t", str(EAPOL_TIMEOUT), "-M", mac], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def authenticate(self, key, cert, vlan):
        """eapol_test SUCCESS with the rule's VLAN (RFC 3580 §3.31: Tunnel-Type 13, Medium 6,
        Private-Group-Id, one tag); returns (Class, MAC)."""
        self.macs += 1
        mac = f"02:00:00:00:00:{self.macs:02x}"
        out = self.eapol(key, cert, mac)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        accept = out[out.rindex("RADIUS message: code=2"):]
        accept = accept[:accept.index("\nSTA ")]  # eapol_test prints each attribute with its value in hex
        values = {int(n): v for n, v in
                  re.findall(r"Attribute (\d+) \([^)]*\) length=\d+\n\s+Value: (\S+)", accept)}
        values = {n: bytes.fromhex(v) for n, v in values.items() if n != 27}  # Session-Timeout is shown in decimal
        self.assertEqual(values.get(TUNNEL_TYPE), bytes([1, 0, 0, 13]), accept[:2000])
        self.assertEqual(values.get(TUNNEL_MEDIUM_TYPE), bytes([1, 0, 0, 6]))
        self.assertEqual(values.get(TUNNEL_PRIVATE_GROUP_ID), bytes([1]) + str(vlan).encode())
        return values[CLASS], mac

    def accounting(self, status, session, token=None, mac=None):
        lines = [f"Acct-Status-Type = {status}", "NAS-IP-Address = 127.0.0.1"]
        if session:
            lines.append(f'Acct-Session-Id = "{session}"')
        if mac:
            lines += [f'Calling-Station-Id = "{mac.replace(":", "-").upper()}"', 'User-Name = "anonymous@example"']
        if token:
            lines.append(f"Class = 0x{token.hex()}")
        r = run(["radclient", "-x", "-r", "1", "-t", "2", "--", f"127.0.0.1:{self.inst.radius_port + 1}", "acct",
                 self.secret], check=False, input="\n".join(lines) + "\n", timeout=30)
        self.assertIn("Received Accounting-Response", r.stdout, r.stdout + r.stderr)

    def live_session(self, key, cert, vlan, session):
        token, mac = self.authenticate(key, cert, vlan)
        self.accounting("Start", session, token, mac)
        return mac

    def device_id(self, name):
        return json.loads(self.inst.cli("--json", "devices", "show", name).stdout)["id"]

    def session_row(self, session):
        deadline = time.time() + 3
        while True:
            with self.inst.ledger() as db:
                row = db.execute("SELECT stopped_at, dynauth FROM radius_sessions WHERE acct_session_id = ?",
                                 (session,)).fetchone()
            if (row and row[1]) or time.time() > deadline:
                return row
            time.sleep(0.05)

    def assert_request(self, req, code, session, mac):
        packet = req["packet"]
        self.assertEqual(packet[0], code)
        self.assertTrue(req["ra_ok"], "Request Authenticator does not verify")
        self.assertTrue(req["ma_ok"], "Message-Authenticator missing or wrong")
        self.assertEqual(packet[20], MESSAGE_AUTHENTICATOR, "Message-Authenticator first")
        attrs = dict(attributes(packet))
        self.assertEqual(attrs.get(NAS_IP_ADDRESS), socket.inet_aton("127.0.0.1"))
        self.assertEqual(attrs.get(ACCT_SESSION_ID), session.encode())
        self.assertEqual(attrs.get(CALLING_STATION_ID), mac.replace(":", "-").upper().encode())
        self.assertEqual(attrs.get(USER_NAME), b"anonymous@example")
        (stamp,) = struct.unpack("!I", attrs[EVENT_TIMESTAMP])
        self.assertLess(abs(stamp - time.time()), 10)
        return attrs

    # --- tests
    def test_revoke_disconnects_within_a_second_and_the_next_attempt_is_rejected(self):
        key, cert = self.enroll_with_scepclient("laptop-1")
        mac = self.live_session(key, cert, 20, "sess-revoke")

        t0 = time.monotonic()
        self.inst.cli("revoke", "--device", "laptop-1", "--reason", "keyCompromise")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1, "exactly one Disconnect-Request for the one live session")
        self.assertLess(got[0]["at"] - t0, 1.0, "Disconnect-Request later than 1 s after the revoke call")
        self.assert_request(got[0], DISCONNECT_REQUEST, "sess-revoke", mac)

        self.assertRegex(self.eapol(key, cert, mac), r"(?m)^FAILURE$")
        stopped_at, outcome = self.session_row("sess-revoke")
        self.assertEqual(outcome, "Disconnect ACK")
        self.assertIsNotNone(stopped_at)
        self.assertIn("-> Disconnect ACK attempts=1", self.inst.log())
        _, listed = self.inst.api("GET", "/sessions?live=false", expect=200)
        row = [x for x in listed["sessions"] if x["acct_session_id"] == "sess-revoke"][0]
        self.assertEqual(row["dynauth"], "Disconnect ACK")
        self.assertEqual(row["nas_address"], "127.0.0.1")
        self.assertEqual(row["rule"], "staff")
        self.assertIsNotNone(row["dynauth_at"])

        # Enabling the device again does not bring a revoked certificate back.
        self.inst.cli("devices", "disable", "laptop-1")
        self.inst.cli("devices", "enable", "laptop-1")
        self.assertRegex(self.eapol(key, cert, mac), r"(?m)^FAILURE$")
        self.assertEqual(self.nas.wait(1, timeout=0.5), [], "nothing to send for a session already ended")

    def test_enrolling_again_disconnects_the_superseded_certificate(self):
        key, cert = self.enroll_with_scepclient("laptop-5")
        mac = self.live_session(key, cert, 20, "sess-superseded")
        # The device is wiped and enrolls again (new key, new challenge): [profiles.device]
        # on_reenroll defaults to "revoke", so the first certificate is superseded.
        os.rename(os.path.join(self.workdir, "laptop-5"), os.path.join(self.workdir, "laptop-5-old"))
        t0 = time.monotonic()
        self.enroll_with_scepclient("laptop-5")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1, "one Disconnect-Request for the superseded certificate's session")
        self.assert_request(got[0], DISCONNECT_REQUEST, "sess-superseded", mac)
        self.assertLess(got[0]["at"] - t0, 30)
        old_cert = os.path.join(self.workdir, "laptop-5-old", "client.pem")
        old_key = os.path.join(self.workdir, "laptop-5-old", "key.pem")
        self.assertRegex(self.eapol(old_key, old_cert, mac), r"(?m)^FAILURE$")
        self.assertEqual(self.session_row("sess-superseded")[1], "Disconnect ACK")

    def test_disable_disconnects_and_enable_lets_the_device_back_in(self):
        key, cert = self.issue("laptop-2")
        mac = self.live_session(key, cert, 20, "sess-disable")
        t0 = time.monotonic()
        self.inst.cli("devices", "disable", "laptop-2")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1)
        self.assertLess(got[0]["at"] - t0, 1.0)
        self.assert_request(got[0], DISCONNECT_REQUEST, "sess-disable", mac)
        self.assertRegex(self.eapol(key, cert, mac), r"(?m)^FAILURE$")

        self.inst.cli("devices", "enable", "laptop-2")
        self.assertEqual(self.nas.wait(1, timeout=0.5), [], "enable sends nothing")
        self.authenticate(key, cert, 20)

    def test_disable_with_on_disable_coa_moves_the_session_to_the_quarantine_vlan(self):
        key, cert = self.issue("laptop-3", groups=["coa"])
        mac = self.live_session(key, cert, 30, "sess-coa")
        t0 = time.monotonic()
        self.inst.cli("devices", "disable", "laptop-3")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1)
        self.assertLess(got[0]["at"] - t0, 1.0)
        attrs = self.assert_request(got[0], COA_REQUEST, "sess-coa", mac)
        self.assertEqual(attrs.get(FILTER_ID), b"quarantine")
        self.assertEqual(attrs.get(TUNNEL_TYPE), bytes([1, 0, 0, 13]))
        self.assertEqual(attrs.get(TUNNEL_MEDIUM_TYPE), bytes([1, 0, 0, 6]))
        self.assertEqual(attrs.get(TUNNEL_PRIVATE_GROUP_ID), b"\x01999")
        _, outcome = self.session_row("sess-coa")
        self.assertEqual(outcome, "CoA ACK")
        self.assertRegex(self.eapol(key, cert, mac), r"(?m)^FAILURE$")

    def test_nak_with_error_cause_and_retries_without_answer(self):
        key, cert = self.issue("laptop-4")
        mac = mac_nak = self.live_session(key, cert, 20, "sess-nak")
        self.nas.mode = "nak503"
        self.inst.cli("revoke", "--device", "laptop-4")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1)
        self.assert_request(got[0], DISCONNECT_REQUEST, "sess-nak", mac)
        stopped_at, outcome = self.session_row("sess-nak")
        self.assertEqual(outcome, "Disconnect NAK 503 (Session-Context-Not-Found)")
        self.assertIsNotNone(stopped_at, "503: the NAS has no such session, so it is not live")
        self.assertIn("-> Disconnect NAK 503 (Session-Context-Not-Found)", self.inst.log())

        # No answer at all: 3 transmissions of the same request, 300 ms then 600 ms apart.
        key, cert = self.issue("laptop-5")
        mac = self.live_session(key, cert, 20, "sess-silent")
        self.nas.mode = "silent"
        self.inst.cli("revoke", "--device", "laptop-5")
        got = self.nas.wait(3, timeout=5)
        self.assertEqual(len(got), 3, "first transmission and two retransmissions")
        self.assertEqual(got[0]["packet"], got[1]["packet"])
        self.assertEqual(got[1]["packet"], got[2]["packet"])
        self.assertGreater(got[2]["at"] - got[1]["at"], (got[1]["at"] - got[0]["at"]) * 1.5, "backoff doubles")
        self.assert_request(got[0], DISCONNECT_REQUEST, "sess-silent", mac)
        time.sleep(1.5)  # the last wait (1.2 s) runs out
        stopped_at, outcome = self.session_row("sess-silent")
        self.assertEqual(outcome, "Disconnect timeout")
        self.assertIsNone(stopped_at, "no answer: the session may still be up")
        self.assertIn("-> Disconnect timeout attempts=3", self.inst.log())

        # Each request and its answer are decision events (kind dynauth).
        def dynauth_events(device):
            return json.loads(self.inst.cli("events", "--kind", "dynauth", "--device", device, "--json").stdout)

        nak = eventually(lambda: dynauth_events("laptop-4"), lambda r: len(r) >= 2)
        self.assertEqual([(e["outcome"], e["reason"]) for e in nak], [("nak", "error_cause:503"), ("sent", "revoked")])
        self.assertIn("Disconnect NAK 503 (Session-Context-Not-Found)", nak[0]["detail"])
        self.assertEqual((nak[0]["mac"], nak[0]["nas"], nak[0]["nas_ip"]), (mac_nak.lower().replace("-", ":"), "loopback", "127.0.0.1"))
        silent = eventually(lambda: dynauth_events("laptop-5"), lambda r: len(r) >= 2)
        self.assertEqual([(e["outcome"], e["reason"]) for e in silent], [("timeout", "timeout"), ("sent", "revoked")])
        self.assertIn("after 3 attempt(s)", silent[0]["detail"])

    def test_live_sessions_survive_a_restart_and_accounting_on_closes_them(self):
        key, cert = self.issue("laptop-6")
        mac = self.live_session(key, cert, 20, "sess-restart")
        key7, cert7 = self.issue("laptop-7")
        self.live_session(key7, cert7, 20, "sess-nas-reboot")

        self.assertEqual(self.inst.stop(), 0)
        self.inst.start()
        self.inst.cli("revoke", "--device", "laptop-6")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1, "the session from before the restart still gets its Disconnect")
        self.assert_request(got[0], DISCONNECT_REQUEST, "sess-restart", mac)

        # RFC 2866 §5.1: Accounting-On from the NAS: it rebooted, its sessions are gone.
        self.accounting("Accounting-On", None)
        # The ledger row is written by the RADIUS ledger writer, after the answer.
        def stopped_at():
            with self.inst.ledger() as db:
                return db.execute("SELECT stopped_at FROM radius_sessions WHERE acct_session_id = ?",
                                  ("sess-nas-reboot",)).fetchone()[0]
        self.assertIsNotNone(eventually(stopped_at, lambda at: at is not None))
        self.inst.cli("revoke", "--device", "laptop-7")
        self.assertEqual(self.nas.wait(1, timeout=1.0), [], "no Disconnect for a session the NAS already dropped")

    def test_bulk_revoke_from_a_list_is_all_or_nothing(self):
        macs = {}
        for name in ("bulk-a", "bulk-b", "bulk-c"):
            key, cert = self.issue(name)
            macs[name] = self.live_session(key, cert, 20, f"sess-{name}")
        listing = os.path.join(self.workdir, "lost.txt")
        # An unknown device in the list: refused, nothing revoked, nothing sent.
        with open(listing, "w") as f:
            f.write("bulk-a\nno-such-device\n")
        r = self.inst.cli("revoke", "--devices-from", listing, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no-such-device", r.stderr)
        self.assertEqual(self.nas.wait(1, timeout=0.5), [])
        valid = json.loads(self.inst.cli("--json", "certs", "list", "--device", "bulk-a", "--status", "valid").stdout)
        self.assertEqual(len(valid), 1)

        with open(listing, "w") as f:
            f.write("# lost in the taxi\nbulk-a\n\nbulk-b\n")
        t0 = time.monotonic()
        r = self.inst.cli("revoke", "--devices-from", listing, "--reason", "keyCompromise")
        self.assertIn("revoked 2 certificate(s) of 2 device(s)", r.stdout)
        got = self.nas.wait(2)
        self.assertEqual(len(got), 2)
        self.assertLess(max(g["at"] for g in got) - t0, 1.0)
        by_session = {dict(attributes(g["packet"]))[ACCT_SESSION_ID]: g for g in got}
        self.assertEqual(set(by_session), {b"sess-bulk-a", b"sess-bulk-b"})
        for name in ("bulk-a", "bulk-b"):
            self.assert_request(by_session[f"sess-{name}".encode()], DISCONNECT_REQUEST, f"sess-{name}", macs[name])

    def test_a_session_known_only_from_its_accept_is_disconnected_too(self):
        key, cert = self.issue("laptop-8")
        _, mac = self.authenticate(key, cert, 20)  # no accounting from this NAS
        self.inst.cli("revoke", "--device", "laptop-8")
        got = self.nas.wait(1)
        self.assertEqual(len(got), 1)
        req = got[0]
        self.assertTrue(req["ra_ok"] and req["ma_ok"])
        attrs = dict(attributes(req["packet"]))
        self.assertEqual(req["packet"][0], DISCONNECT_REQUEST)
        self.assertNotIn(ACCT_SESSION_ID, attrs)
        self.assertEqual(attrs.get(CALLING_STATION_ID), mac.replace(":", "-").upper().encode())
        self.assertEqual(attrs.get(USER_NAME), b"anonymous@example")
        self.assertEqual(attrs.get(NAS_IP_ADDRESS), socket.inet_aton("127.0.0.1"))


if __name__ == "__main__":
    main()

"""RadSec beyond RFC 6614: Disconnect/CoA sent down the NAS's own TLS connection (reverse CoA,
draft-ietf-radext-reverse-coa), and RADIUS/1.1 (RFC 9765, ALPN "radius/1.1": no MD5 at all).

radsecproxy 1.9 cannot be the NAS here: it takes anything a server sends for a reply to
one of its own requests, finds none with that Identifier and drops it ("replyh: no
outstanding request with this id, ignoring reply"; RadsecProxyReverseTest shows it), and it
speaks no ALPN. No Debian package speaks RADIUS/1.1 yet. The NAS is therefore our own, in this file:
a TLS client that relays eapol_test's UDP requests onto its connection (verbatim for
RADIUS/TLS; translated to and from RADIUS/1.1, the MPPE keys re-encrypted for eapol_test so
that eapol_test checks them) and answers the server's own requests on it."""

import hashlib
import hmac
import os
import queue
import re
import select
import socket
import ssl
import struct
import threading
import time

import test_radius
import test_radsec
from harness import IntegrationTest, eventually, free_port, main, run
from test_dynauth import POLICY, NasStandIn
from test_metrics import samples, value

SECRET = b"radsec"  # RFC 6614 §2.3
ACCESS_ACCEPT, ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE = 2, 4, 5
DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK, COA_REQUEST, COA_ACK = 40, 41, 42, 43, 44
PROTOCOL_ERROR = 52  # RFC 7930 §4
USER_NAME, FILTER_ID, REPLY_MESSAGE, CLASS, VENDOR_SPECIFIC, CALLING_STATION_ID = 1, 11, 18, 25, 26, 31
ACCT_STATUS_TYPE, ACCT_SESSION_ID, MESSAGE_AUTHENTICATOR, ERROR_CAUSE = 40, 44, 80, 101
EXTENDED_TYPE_1, ORIGINAL_PACKET_CODE = 241, 4  # RFC 6929 §2.1; 241.4, RFC 7930
MICROSOFT, MPPE_SEND_KEY, MPPE_RECV_KEY = 311, 16, 17


def attributes(packet):
    out, off = [], 20
    while off < len(packet):
        t, n = packet[off], packet[off + 1]
        out.append((t, packet[off + 2:off + n]))
        off += n
    return out


def encode_attributes(attrs):
    return b"".join(bytes([t, 2 + len(v)]) + v for t, v in attrs)


def vendor_value(value):
    """(vendor, type, value) of a Vendor-Specific holding one sub-attribute."""
    vendor, vtype, vlen = struct.unpack("!IBB", value[:6])
    return vendor, vtype, value[6:4 + 2 + vlen]


def mppe_encrypt(key, request_authenticator, salt):
    """RFC 2548 §2.4.2, for eapol_test on the classic side of the translation."""
    plain = bytes([len(key)]) + key
    plain += bytes(-len(plain) % 16)
    out, prev = b"", request_authenticator + salt
    for i in range(0, len(plain), 16):
        b = hashlib.md5(SECRET + prev).digest()
        c = bytes(x ^ y for x, y in zip(plain[i:i + 16], b))
        out += c
        prev = c
    return salt + out


def sign_reply(code, identifier, request_authenticator, attrs):
    """A classic reply: Message-Authenticator first (RFC 3579 §3.2), Response Authenticator (RFC 2865 §3)."""
    body = bytes([MESSAGE_AUTHENTICATOR, 18]) + bytes(16) + encode_attributes(attrs)
    head = struct.pack("!BBH", code, identifier, 20 + len(body))
    ma = hmac.new(SECRET, head + request_authenticator + body, hashlib.md5).digest()
    body = body[:2] + ma + body[18:]
    return head + hashlib.md5(head + request_authenticator + body + SECRET).digest() + body


def accounting_request(identifier, attrs):
    """RFC 2866 §3: Request Authenticator = MD5(Code+Id+Length+16 zeros+Attributes+Secret)."""
    body = encode_attributes(attrs)
    head = struct.pack("!BBH", ACCOUNTING_REQUEST, identifier, 20 + len(body))
    return head + hashlib.md5(head + bytes(16) + body + SECRET).digest() + body


def v11_packet(code, token, attrs):
    """RFC 9765 §4.1: Code, Reserved-1 = 0, Length, Token, 12 zero octets."""
    body = encode_attributes(attrs)
    return struct.pack("!BBHI", code, 0, 20 + len(body), token) + bytes(12) + body


class RadsecNas:
    """Our RadSec NAS. One thread owns the TLS connection (OpenSSL objects are not for two
    threads at once): it relays eapol_test's datagrams from `udp_port` onto the connection,
    the replies back, answers the server's Disconnect/CoA-Requests as `mode` says ("ack",
    "nak504", "silent", "protocol_error<n>": RFC 7930 §4 with Error-Cause n), and hands
    everything else to the test. `answers`, when not empty, is taken first, one a request."""

    def __init__(self, conn):
        self.conn = conn
        self.v11 = conn.selected_alpn_protocol() == "radius/1.1"
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]
        self.mode = "ack"
        self.answers = queue.Queue()
        self.outbox = queue.Queue()
        self.server_requests = queue.Queue()  # the Disconnect/CoA-Requests that came down
        self.direct = queue.Queue()           # replies to what the test sent itself
        self.relayed = {}                     # id or Token -> (eapol_test's address, Identifier, authenticator)
        self.accepts = []                     # Access-Accepts as they came (RADIUS/1.1: before translation)
        self.token = int.from_bytes(os.urandom(4), "big")  # RFC 9765 §4.2.1
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def close(self):
        self.running = False
        self.thread.join()
        self.udp.close()
        self.conn.close()

    def send(self, packet):
        self.outbox.put(packet)

    def next_token(self):
        self.token = (self.token + 1) & 0xFFFFFFFF
        return self.token

    def loop(self):
        buf = b""
        while self.running:
            while not self.outbox.empty():
                self.conn.sendall(self.outbox.get())
            readable = [self.conn] if self.conn.pending() else select.select([self.conn, self.udp], [], [], 0.05)[0]
            if self.udp in readable:
                packet, source = self.udp.recvfrom(4096)
                self.from_eapol(packet, source)
            if self.conn in readable:
                try:
                    chunk = self.conn.recv(65536)
                except (ssl.SSLError, OSError):
                    chunk = b""
                if not chunk:
                    self.server_requests.put(None)
                    self.direct.put(None)
                    return
                buf += chunk
                while len(buf) >= 4 and len(buf) >= int.from_bytes(buf[2:4], "big"):
                    n = int.from_bytes(buf[2:4], "big")
                    self.from_server(buf[:n])
                    buf = buf[n:]

    def from_eapol(self, packet, source):
        if not self.v11:
            self.relayed[packet[1]] = (source, packet[1], packet[4:20])
            self.conn.sendall(packet)
            return
        # RADIUS/1.1 (RFC 9765 §5.2): no Message-Authenticator; the Token instead of the Identifier.
        token = self.next_token()
        self.relayed[token] = (source, packet[1], packet[4:20])
        attrs = [(t, v) for t, v in attributes(packet) if t != MESSAGE_AUTHENTICATOR]
        self.conn.sendall(v11_packet(packet[0], token, attrs))

    def from_server(self, packet):
        if packet[0] in (DISCONNECT_REQUEST, COA_REQUEST):
            self.server_requests.put(packet)
            self.answer(packet)
            return
        key = int.from_bytes(packet[4:8], "big") if self.v11 else packet[1]
        relayed = self.relayed.pop(key, None)
        if relayed is None:
            self.direct.put(packet)
            return
        if packet[0] == ACCESS_ACCEPT:
            self.accepts.append(packet)
        source, identifier, authenticator = relayed
        if not self.v11:
            self.udp.sendto(packet, source)
            return
        attrs = []
        for t, v in attributes(packet):
            if t == VENDOR_SPECIFIC and vendor_value(v)[0] == MICROSOFT and vendor_value(v)[1] in (MPPE_SEND_KEY,
                                                                                                   MPPE_RECV_KEY):
                _, vtype, key = vendor_value(v)
                value = mppe_encrypt(key, authenticator, struct.pack("!H", 0x8000 | vtype))
                v = struct.pack("!IBB", MICROSOFT, vtype, 2 + len(value)) + value
            attrs.append((t, v))
        self.udp.sendto(sign_reply(packet[0], identifier, authenticator, attrs), source)

    def answer(self, request):
        mode = self.mode if self.answers.empty() else self.answers.get()
        if mode == "silent":
            return
        code = request[0] + 1 if mode == "ack" else request[0] + 2
        attrs = [] if mode == "ack" else [(ERROR_CAUSE, struct.pack("!I", 504))]
        if mode.startswith("protocol_error"):
            # RFC 7930 §4: Error-Cause, and Original-Packet-Code (241.4) naming the request's code.
            code = PROTOCOL_ERROR
            attrs = [(ERROR_CAUSE, struct.pack("!I", int(mode[len("protocol_error"):]))),
                     (REPLY_MESSAGE, b"cannot do that here"),
                     (EXTENDED_TYPE_1, bytes([ORIGINAL_PACKET_CODE]) + struct.pack("!I", request[0]))]
        if self.v11:
            self.conn.sendall(v11_packet(code, int.from_bytes(request[4:8], "big"), attrs))
            return
        body = encode_attributes(attrs)
        head = struct.pack("!BBH", code, request[1], 20 + len(body))
        self.conn.sendall(head + hashlib.md5(head + request[4:20] + body + SECRET).digest() + body)


class RadsecNasTestBase(IntegrationTest):
    """An instance with one RadSec client, wlc-1, and our NAS for it."""
    issue = test_radius.RadiusTest.issue
    eapol = test_radius.RadiusTest.eapol
    assert_success = test_radius.RadiusTest.assert_success

    def radsec_instance(self, client_settings="", radsec_settings="", policy=None):
        inst = self.instance()
        self.nas_dir = os.path.join(self.workdir, "nas")
        inst.cli("nas", "certificate", "--name", "wlc-1", "--out", self.nas_dir)
        inst.stop()
        inst.radsec_port = free_port()
        with open(inst.config) as f:
            text = f.read()
        text = text.replace("dynauth_timeout_ms = 1000", "dynauth_timeout_ms = 300")
        if policy:  # as test_dynauth sets it
            with open(os.path.join(inst.dir, "policy.toml"), "w") as f:
                f.write(policy)
            text = re.sub(r'(?m)^(\[policy\][^\n]*\n)file = ""', r'\1file = "policy.toml"', text)
            self.assertIn('file = "policy.toml"', text)
        text += (f"\n[radsec]\nenabled = true\nport = {inst.radsec_port}\n{radsec_settings}"
                 "\n[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\ncertificate_name = \"wlc-1\"\n"
                 f"{client_settings}")
        with open(inst.config, "w") as f:
            f.write(text)
        inst.start()
        return inst

    def tls(self, inst, alpn=None, version=ssl.TLSVersion.TLSv1_3):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.nas_dir, "ca.pem"))
        ctx.load_cert_chain(os.path.join(self.nas_dir, "wlc-1.pem"), os.path.join(self.nas_dir, "wlc-1.key"))
        ctx.minimum_version = ctx.maximum_version = version
        if alpn:
            ctx.set_alpn_protocols(alpn)
        raw = socket.create_connection(("127.0.0.1", inst.radsec_port), timeout=5)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def nas(self, inst, alpn=None):
        nas = RadsecNas(self.tls(inst, alpn))
        self.addCleanup(nas.close)
        return nas

    def session(self, inst, nas, device, mac, session_id, tls_version="TLSv1.3"):
        """EAP-TLS through the NAS, then its Accounting-Start (linked by Class and Calling-Station-Id)."""
        key, cert, serial = self.issue(inst, device)
        out = self.eapol(inst, key, cert, secret=SECRET.decode(), port=nas.udp_port, mac=mac)
        self.assert_success(out, tls_version)
        cls = dict(attributes(nas.accepts[-1]))[CLASS]
        attrs = [(ACCT_STATUS_TYPE, struct.pack("!I", 1)), (ACCT_SESSION_ID, session_id.encode()),
                 (CALLING_STATION_ID, mac.replace(":", "-").upper().encode()), (USER_NAME, b"anonymous@example"),
                 (CLASS, cls)]
        if nas.v11:
            token = nas.next_token()
            nas.send(v11_packet(ACCOUNTING_REQUEST, token, attrs))
        else:
            nas.send(accounting_request(200, attrs))
        response = nas.direct.get(timeout=5)
        self.assertEqual(response[0], ACCOUNTING_RESPONSE)
        if nas.v11:  # RFC 9765 §4.1: the Token echoed, Reserved fields zero, nothing signed
            self.assertEqual(response[:20], struct.pack("!BBHI", ACCOUNTING_RESPONSE, 0, 20, token) + bytes(12))
        return serial

    def outcome(self, inst, session_id, want):
        def row():
            with inst.ledger() as db:
                return db.execute("SELECT dynauth FROM radius_sessions WHERE acct_session_id = ?",
                                  (session_id,)).fetchone()
        self.assertEqual(eventually(row, lambda r: r is not None and r[0] == want, timeout=15), (want,))


class RadsecReverseTest(RadsecNasTestBase):
    def test_disconnect_goes_down_the_nas_connection_ack_and_nak(self):
        inst = self.radsec_instance()
        nas = self.nas(inst)
        self.assertIsNone(nas.conn.selected_alpn_protocol())
        self.session(inst, nas, "laptop-ack", "02:00:00:00:01:01", "rs-ack")
        inst.cli("revoke", "--device", "laptop-ack", "--reason", "keyCompromise")
        request = nas.server_requests.get(timeout=5)
        # RFC 5176 §3.5 with the RadSec secret: the Request Authenticator verifies.
        self.assertEqual(request[0], DISCONNECT_REQUEST)
        self.assertEqual(hashlib.md5(request[:4] + bytes(16) + request[20:] + SECRET).digest(), request[4:20])
        attrs = dict(attributes(request))
        self.assertEqual(attrs[ACCT_SESSION_ID], b"rs-ack")
        self.assertEqual(attrs[CALLING_STATION_ID], b"02-00-00-00-01-01")
        self.outcome(inst, "rs-ack", "Disconnect ACK")
        self.assertIn("-> Disconnect ACK attempts=1", inst.log())

        nas.mode = "nak504"
        self.session(inst, nas, "laptop-nak", "02:00:00:00:01:02", "rs-nak")
        inst.cli("revoke", "--device", "laptop-nak", "--reason", "keyCompromise")
        self.assertEqual(nas.server_requests.get(timeout=5)[0], DISCONNECT_REQUEST)
        self.outcome(inst, "rs-nak", "Disconnect NAK 504 (Session-Context-Not-Removable)")

    def test_coa_goes_down_the_connection_too(self):
        inst = self.radsec_instance(policy=POLICY)
        nas = self.nas(inst, alpn=["radius/1.1"])  # and over RADIUS/1.1
        inst.cli("devices", "add", "laptop-coa", "--group", "coa")
        self.session(inst, nas, "laptop-coa", "02:00:00:00:04:01", "rs-coa")
        inst.cli("devices", "disable", "laptop-coa")
        request = nas.server_requests.get(timeout=5)
        self.assertEqual(request[0], COA_REQUEST)
        self.assertEqual(request[8:20], bytes(12))
        attrs = dict(attributes(request))
        self.assertEqual(attrs[ACCT_SESSION_ID], b"rs-coa")
        self.assertEqual(attrs[FILTER_ID], b"quarantine")
        self.outcome(inst, "rs-coa", "CoA ACK")

    def test_with_the_connection_down_udp_fallback_or_a_clear_outcome(self):
        coa_port = free_port()
        stand_in = NasStandIn("radsec-coa-fallback-secret", coa_port)
        self.addCleanup(stand_in.close)
        inst = self.radsec_instance(f'coa_port = {coa_port}\ncoa_secret = "radsec-coa-fallback-secret"\n')
        nas = self.nas(inst)
        self.session(inst, nas, "laptop-udp", "02:00:00:00:02:01", "rs-udp")
        nas.close()
        time.sleep(0.5)  # the server has seen the close
        inst.cli("revoke", "--device", "laptop-udp", "--reason", "keyCompromise")
        got = stand_in.wait(1)
        self.assertEqual(len(got), 1, "the Disconnect-Request fell back to the NAS's UDP coa_port")
        self.assertTrue(got[0]["ra_ok"] and got[0]["ma_ok"], "signed with coa_secret")
        self.outcome(inst, "rs-udp", "Disconnect ACK")

    def test_with_the_connection_down_and_no_fallback_the_outcome_says_so(self):
        inst = self.radsec_instance()
        nas = self.nas(inst)
        self.session(inst, nas, "laptop-gone", "02:00:00:00:03:01", "rs-gone")
        nas.close()
        time.sleep(0.5)
        inst.cli("revoke", "--device", "laptop-gone", "--reason", "keyCompromise")
        self.outcome(inst, "rs-gone",
                     "Disconnect not sent: no RadSec connection is up and no coa_secret for UDP")


class ProtocolErrorAnswerTest(RadsecNasTestBase):
    """A NAS that cannot process our Disconnect/CoA at all answers with a Protocol-Error
    (RFC 7930 §4; RFC 9765 §6.1 over RADIUS/1.1): the request ends at once, as refused."""

    def dynauth_events(self, inst, count):
        return eventually(lambda: inst.api("GET", "/events?kind=dynauth", expect=200)[1]["events"],
                          lambda e: len(e) >= count)

    def test_over_radius11_a_disconnect_answered_so_ends_at_once(self):
        inst = self.radsec_instance()
        nas = self.nas(inst, alpn=["radius/1.1"])
        self.session(inst, nas, "laptop-pe", "02:00:00:00:12:01", "rs-pe")
        nas.mode = "protocol_error501"
        inst.cli("revoke", "--device", "laptop-pe", "--reason", "keyCompromise")
        self.assertEqual(nas.server_requests.get(timeout=5)[0], DISCONNECT_REQUEST)
        self.outcome(inst, "rs-pe", "Disconnect Protocol-Error 501 (Administratively-Prohibited)")
        done = re.search(r"-> Disconnect Protocol-Error 501 \(Administratively-Prohibited\) attempts=1 ms=(\d+)",
                         inst.log())
        self.assertIsNotNone(done, inst.log())
        # Its answer, not the 300 + 600 + 1200 ms the request would have waited.
        print(f"\n  Disconnect -> Protocol-Error answer: {done.group(1)} ms", flush=True)
        self.assertLess(int(done.group(1)), 2100)
        self.assertRegex(inst.log(), r"radsec: NAS wlc-1 answered our Disconnect-Request with a Protocol-Error, "
                                     r"Error-Cause 501 \(Administratively-Prohibited\): cannot do that here")
        events = self.dynauth_events(inst, 2)
        self.assertEqual((events[0]["outcome"], events[0]["reason"]), ("nak", "protocol_error:501"))
        self.assertIn("Disconnect Protocol-Error 501 (Administratively-Prohibited)", events[0]["detail"])

    def test_over_radsec_a_coa_answered_so_is_refused_and_a_disconnect_follows(self):
        inst = self.radsec_instance(policy=POLICY)
        nas = self.nas(inst)  # RADIUS/TLS: the Protocol-Error's Response Authenticator is checked
        inst.cli("devices", "add", "laptop-pe-coa", "--group", "coa")
        self.session(inst, nas, "laptop-pe-coa", "02:00:00:00:12:02", "rs-pe-coa")
        nas.answers.put("protocol_error406")  # the CoA; the Disconnect after it is ACKed
        inst.cli("devices", "disable", "laptop-pe-coa")
        self.assertEqual(nas.server_requests.get(timeout=5)[0], COA_REQUEST)
        self.assertEqual(nas.server_requests.get(timeout=5)[0], DISCONNECT_REQUEST)
        self.outcome(inst, "rs-pe-coa", "Disconnect ACK")
        self.assertRegex(inst.log(), r"-> CoA Protocol-Error 406 \(Unsupported-Extension\) attempts=1 ms=\d+")
        events = self.dynauth_events(inst, 4)
        self.assertIn(("nak", "protocol_error:406"), [(e["outcome"], e["reason"]) for e in events])


class RadsecProxyReverseTest(RadsecNasTestBase):
    """What radsecproxy 1.9 (Debian) does with a Disconnect-Request sent down its connection."""
    proxy = test_radsec.RadsecProxyTest.proxy

    def setUp(self):
        super().setUp()
        self.proxies = []

    def tearDown(self):
        for proc, log in self.proxies:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
            log.close()
        super().tearDown()

    def session_behind_proxy(self, inst, device, mac, session_id):
        """radsecproxy as wlc-1: EAP-TLS through it, then its Accounting-Start."""
        port = self.proxy(inst, os.path.join(self.nas_dir, "wlc-1.pem"), os.path.join(self.nas_dir, "wlc-1.key"),
                          os.path.join(self.nas_dir, "ca.pem"))
        key, cert, _ = self.issue(inst, device)
        out = self.eapol(inst, key, cert, port=port, secret=test_radsec.UDP_SECRET, mac=mac)
        self.assert_success(out, "TLSv1.3")
        cls = re.search(r"Attribute 25 \(Class\) length=\d+\n\s+Value: ([0-9a-f]+)", out).group(1)
        start = run(["radclient", "-x", "-r", "1", "-t", "5", "--", f"127.0.0.1:{port}", "acct",
                     test_radsec.UDP_SECRET], check=False, timeout=30,
                    input=f"Acct-Status-Type = Start\nAcct-Session-Id = \"{session_id}\"\n"
                          f"Calling-Station-Id = \"{mac.replace(':', '-').upper()}\"\n"
                          f"User-Name = \"anonymous@example\"\nClass = 0x{cls}\n")
        self.assertIn("Received Accounting-Response", start.stdout, start.stdout + start.stderr)

    def proxy_log(self):
        with open(self.proxies[0][1].name, errors="replace") as f:
            return f.read()

    def test_radsecproxy_discards_it_and_the_outcome_is_a_timeout(self):
        # A coa_secret is no way around it: with the connection up nothing falls back to UDP.
        coa_port = free_port()
        stand_in = NasStandIn("radsec-coa-fallback-secret", coa_port)
        self.addCleanup(stand_in.close)
        inst = self.radsec_instance(f'coa_port = {coa_port}\ncoa_secret = "radsec-coa-fallback-secret"\n')
        self.session_behind_proxy(inst, "laptop-proxy", "02:00:00:00:05:01", "rs-proxy")
        inst.cli("revoke", "--device", "laptop-proxy", "--reason", "keyCompromise")
        # 300 + 600 + 1200 ms: the wait UDP would have had.
        self.outcome(inst, "rs-proxy", "Disconnect timeout")
        # It takes whatever comes from a server for a reply, finds no request of its own
        # with that Identifier, and drops it.
        self.assertIn("replyh: no outstanding request with this id, ignoring reply", self.proxy_log())
        self.assertEqual(stand_in.take(), [])

    def test_dynauth_over_connection_off_sends_it_over_udp_at_once(self):
        coa_port = free_port()
        stand_in = NasStandIn("radsec-coa-fallback-secret", coa_port)
        self.addCleanup(stand_in.close)
        inst = self.radsec_instance(f'coa_port = {coa_port}\ncoa_secret = "radsec-coa-fallback-secret"\n'
                                    "dynauth_over_connection = false\n")
        self.session_behind_proxy(inst, "laptop-off", "02:00:00:00:05:02", "rs-proxy-off")
        started = time.monotonic()
        inst.cli("revoke", "--device", "laptop-off", "--reason", "keyCompromise")
        got = stand_in.wait(1)
        self.assertEqual(len(got), 1, "the Disconnect-Request went to the NAS's UDP coa_port")
        self.assertTrue(got[0]["ra_ok"] and got[0]["ma_ok"], "signed with coa_secret")
        self.assertEqual(dict(attributes(got[0]["packet"]))[ACCT_SESSION_ID], b"rs-proxy-off")
        # From the revoke command (a process of its own) to the datagram: far below the 2.1 s
        # the request would have waited on the connection, had it gone there.
        took = got[0]["at"] - started
        print(f"\n  revoke -> Disconnect-Request at the UDP NAS: {took * 1000:.0f} ms", flush=True)
        self.assertLess(took, 1.5)
        self.outcome(inst, "rs-proxy-off", "Disconnect ACK")
        self.assertRegex(inst.log(), r"rs-proxy-off.*: dynauth_over_connection = false; over UDP to port "
                                     f"{coa_port} instead")
        self.assertNotIn("no outstanding request with this id", self.proxy_log(), "nothing went down the connection")


class Radius11Test(RadsecNasTestBase):
    def test_eap_tls13_accounting_and_disconnect_over_radius11_without_md5(self):
        inst = self.radsec_instance()
        nas = self.nas(inst, alpn=["radius/1.0", "radius/1.1"])
        self.assertEqual(nas.conn.selected_alpn_protocol(), "radius/1.1")
        speaks = r"radsec: NAS wlc-1 from 127\.0\.0\.1:\d+ speaks RADIUS/1\.1"
        self.assertRegex(eventually(inst.log, lambda log: re.search(speaks, log)), speaks)
        self.session(inst, nas, "laptop-11", "02:00:00:00:11:01", "rs-11")  # eapol_test: MPPE keys OK
        accept = nas.accepts[-1]
        self.assertEqual(accept[1], 0, "Reserved-1 is zero")
        self.assertEqual(accept[8:20], bytes(12), "Reserved-2 is zero")
        attrs = attributes(accept)
        self.assertNotIn(MESSAGE_AUTHENTICATOR, [t for t, _ in attrs])
        # RFC 9765 §5.1.4: MS-MPPE keys as plain strings (eapol_test found them equal to its MSK
        # halves after the relay re-encrypted them: "MPPE keys OK").
        keys = {vendor_value(v)[1]: vendor_value(v)[2] for t, v in attrs if t == VENDOR_SPECIFIC}
        self.assertEqual(len(keys[MPPE_RECV_KEY]), 32)
        self.assertEqual(len(keys[MPPE_SEND_KEY]), 32)

        inst.cli("revoke", "--device", "laptop-11", "--reason", "keyCompromise")
        request = nas.server_requests.get(timeout=5)
        self.assertEqual(request[0], DISCONNECT_REQUEST)
        self.assertEqual(request[1], 0)
        self.assertEqual(request[8:20], bytes(12), "the Token, then zeros: no MD5 Request Authenticator")
        self.assertNotIn(MESSAGE_AUTHENTICATOR, [t for t, _ in attributes(request)])
        self.assertEqual(dict(attributes(request))[ACCT_SESSION_ID], b"rs-11")
        self.outcome(inst, "rs-11", "Disconnect ACK")

    def test_a_nas_offering_nothing_falls_back_and_unacceptable_offers_are_refused(self):
        inst = self.radsec_instance()
        status = test_radius.RadiusTest.status_server
        # No ALPN, or RADIUS/1.1 offered over TLS 1.2 (RFC 9765 §3.4 wants 1.3): RADIUS/TLS.
        for alpn, version in ((None, ssl.TLSVersion.TLSv1_3), (["radius/1.0", "radius/1.1"], ssl.TLSVersion.TLSv1_2)):
            conn = self.tls(inst, alpn, version)
            self.addCleanup(conn.close)
            self.assertEqual(conn.selected_alpn_protocol(), "radius/1.0" if alpn else None)
            conn.sendall(status("radsec", identifier=9))
            reply = conn.recv(4096)
            self.assertEqual((reply[0], reply[1]), (ACCESS_ACCEPT, 9))
            conn.close()
        # Only names the server cannot speak: the no_application_protocol alert (RFC 7301 §3.2).
        for alpn, version in ((["radius/1.1"], ssl.TLSVersion.TLSv1_2), (["h2"], ssl.TLSVersion.TLSv1_3)):
            with self.assertRaisesRegex(ssl.SSLError, "NO_APPLICATION_PROTOCOL|no application protocol"):
                self.tls(inst, alpn, version)
        refused = r"radsec: connection from 127\.0\.0\.1:\d+ refused: its ALPN offer holds no RADIUS version"
        self.assertEqual(len(re.findall(refused, eventually(inst.log, lambda log: len(re.findall(refused, log)) == 2))),
                         2)

    def test_a_nas_required_to_speak_radius11_is_told_and_closed_without_it(self):
        inst = self.radsec_instance("require_radius_1_1 = true\n")
        conn = self.tls(inst)  # no ALPN
        self.addCleanup(conn.close)
        data = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        # RFC 9765 §3.3.1: a Protocol-Error with a zero Token and Error-Cause 406, then closed.
        self.assertEqual(data[0], PROTOCOL_ERROR)
        self.assertEqual(data[1:2] + data[4:20], bytes(17))
        attrs = dict(attributes(data))
        self.assertEqual(attrs[ERROR_CAUSE], struct.pack("!I", 406))
        self.assertIn(b"RADIUS/1.1", attrs[REPLY_MESSAGE])
        refused = eventually(lambda: inst.api("GET", "/events?kind=radsec", expect=200)[1]["events"],
                             lambda e: any(x["reason"] == "radius_version" for x in e))
        self.assertTrue(any(x["reason"] == "radius_version" and x["outcome"] == "refused" for x in refused), refused)
        # With it, the same NAS is served.
        nas = self.nas(inst, alpn=["radius/1.1"])
        self.assertEqual(nas.conn.selected_alpn_protocol(), "radius/1.1")
        nas.send(v11_packet(12, 77, []))  # Status-Server: no Message-Authenticator in RADIUS/1.1 (§6.2)
        reply = nas.direct.get(timeout=5)
        self.assertEqual(reply, struct.pack("!BBHI", ACCESS_ACCEPT, 0, 20, 77) + bytes(12))
        # RFC 9765 §6.1: a request the server cannot handle (here an attribute with Length 1)
        # is answered with a Protocol-Error carrying its Token and Error-Cause 506.
        nas.send(struct.pack("!BBHI", 1, 0, 23, 78) + bytes(12) + bytes([USER_NAME, 1, 0]))
        error = nas.direct.get(timeout=5)
        self.assertEqual(error[:8], struct.pack("!BBHI", PROTOCOL_ERROR, 0, len(error), 78))
        self.assertEqual(dict(attributes(error))[ERROR_CAUSE], struct.pack("!I", 506))

    def test_a_token_reused_while_outstanding_closes_the_connection(self):
        inst = self.radsec_instance()
        nas = self.nas(inst, alpn=["radius/1.1"])
        # Once answered, a Token may come again.
        for _ in range(2):
            nas.send(v11_packet(12, 0x0A0B0C0D, []))
            self.assertEqual(nas.direct.get(timeout=5), struct.pack("!BBHI", ACCESS_ACCEPT, 0, 20, 0x0A0B0C0D)
                             + bytes(12))
        # Two requests with one Token in one write (one TLS record): the second arrives while
        # the first is outstanding, and the connection is closed (RFC 9765 §4.2.2).
        nas.send(v11_packet(12, 0x01020304, []) + v11_packet(12, 0x01020304, []))
        self.assertIsNone(nas.direct.get(timeout=5), "closed, nothing answered")
        self.assertRegex(inst.log(), r"radsec: NAS wlc-1 from 127\.0\.0\.1:\d+: it sent a request with Token "
                                     r"01020304, the Token of a request not yet answered \(RFC 9765 §4\.2\.2\)")
        events = eventually(lambda: inst.api("GET", "/events?kind=radsec", expect=200)[1]["events"],
                            lambda e: any(x["reason"] == "token_reuse" for x in e))
        reuse = [x for x in events if x["reason"] == "token_reuse"]
        self.assertEqual([(x["outcome"], x["nas"]) for x in reuse], [("refused", "wlc-1")])
        s = samples(inst.http("GET", "/metrics", admin=True)[1].decode())
        self.assertEqual(value(s, "portcullis_radsec_connections_refused_total", reason="token_reuse"), 1)
        self.assertIn("refused: it reused the RADIUS/1.1 Token of a request not yet answered",
                      inst.cli("why", "wlc-1", check=False).stdout)
        # The NAS may connect again.
        again = self.nas(inst, alpn=["radius/1.1"])
        again.send(v11_packet(12, 0x01020304, []))
        self.assertEqual(again.direct.get(timeout=5)[0], ACCESS_ACCEPT)


if __name__ == "__main__":
    main()

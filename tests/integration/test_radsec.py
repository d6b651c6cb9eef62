"""RadSec (RADIUS over TLS, RFC 6614) for NAS clients: the NAS certificates our CA issues
(`portcullis nas certificate`), and EAP-TLS through a real RadSec peer: eapol_test ->
radsecproxy (UDP in, TLS out with the NAS certificate) -> Portcullis's RadSec listener."""

import json
import os
import re
import socket
import ssl
import stat
import subprocess
import time

import test_radius
from harness import IntegrationTest, corporate_root, eventually, free_port, main, run
from test_metrics import samples, value

UDP_SECRET = "eapol-to-radsecproxy-secret"


class NasCertificateTest(IntegrationTest):
    def test_nas_certificate_is_ours_and_ready_for_the_nas(self):
        inst = self.instance()
        out = os.path.join(self.workdir, "nas")
        os.makedirs(out)
        issued = json.loads(inst.cli("--json", "nas", "certificate", "--name", "wlc-1", "--out", out,
                                     "--san", "dns:wlc-1.corp.example").stdout)
        cert, key, ca = (os.path.join(out, f) for f in ("wlc-1.pem", "wlc-1.key", "ca.pem"))
        self.assertEqual((issued["certificate"], issued["key"], issued["ca"]), (cert, key, ca))
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)

        # The file carries the certificate and our intermediates: it verifies against the
        # root alone, as the NAS's peer (us) and any RadSec server would check it.
        verified = run(["openssl", "verify", "-CAfile", ca, "-untrusted", cert, "-purpose", "sslclient", cert])
        self.assertIn(": OK", verified.stdout)
        run(["openssl", "verify", "-CAfile", ca, "-untrusted", cert, "-purpose", "sslserver", cert])
        with open(ca) as f, open(inst.ca("root.pem")) as g:
            self.assertEqual(f.read(), g.read())
        text = run(["openssl", "x509", "-in", cert, "-noout", "-text"]).stdout
        self.assertIn("Subject: CN = wlc-1", text)
        self.assertIn("DNS:wlc-1.corp.example", text)
        self.assertRegex(text, r"TLS Web Client Authentication, TLS Web Server Authentication")
        # The key is the certificate's.
        pub_cert = run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"]).stdout
        pub_key = run(["openssl", "pkey", "-in", key, "-pubout"]).stdout
        self.assertEqual(pub_cert, pub_key)

        # Issued through the one path: in the ledger, profile nas, to the NAS's device.
        listed = json.loads(inst.cli("--json", "certs", "list", "--device", "wlc-1").stdout)
        self.assertEqual([(c["serial"], c["profile"]) for c in listed], [(issued["serial"], "nas")])
        serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip().split("=")[1]
        self.assertEqual(serial.upper(), issued["serial"])

    def test_existing_files_are_not_overwritten_and_nothing_is_issued(self):
        inst = self.instance()
        out = os.path.join(self.workdir, "nas")
        os.makedirs(out)
        with open(os.path.join(out, "wlc-2.key"), "w") as f:
            f.write("the NAS's current key\n")
        refused = inst.cli("nas", "certificate", "--name", "wlc-2", "--out", out, check=False)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("wlc-2.key exists", refused.stderr)
        self.assertEqual(json.loads(inst.cli("--json", "certs", "list", "--device", "wlc-2", check=False).stdout
                                    or "[]"), [])
        with open(os.path.join(out, "wlc-2.key")) as f:
            self.assertEqual(f.read(), "the NAS's current key\n")


class RadsecProxyTest(IntegrationTest):
    # eapol_test and its checks, as the UDP tests use them.
    issue = test_radius.RadiusTest.issue
    eapol = test_radius.RadiusTest.eapol
    assert_success = test_radius.RadiusTest.assert_success
    assert_failure = test_radius.RadiusTest.assert_failure

    def setUp(self):
        super().setUp()
        self.proxies = []

    def tearDown(self):
        for proc, log in self.proxies:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
            log.close()
        if self._failed():
            for proc, log in self.proxies:
                with open(log.name, errors="replace") as f:
                    print(f"\n===== radsecproxy log ({log.name}) =====\n{f.read()}\n===== end =====")
        super().tearDown()

    def radsec_instance(self):
        """A running Portcullis with [radsec] on and one RadSec client, wlc-1, and the NAS
        certificate folder `portcullis nas certificate` wrote for it."""
        inst = self.instance()
        out = os.path.join(self.workdir, "nas")  # created by the command
        inst.cli("nas", "certificate", "--name", "wlc-1", "--out", out)
        inst.stop()
        inst.radsec_port = free_port()
        with open(inst.config, "a") as f:
            f.write(f"\n[radsec]\nenabled = true\nport = {inst.radsec_port}\nidle_timeout_seconds = 30\n"
                    "\n[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\ncertificate_name = \"wlc-1\"\n")
        inst.start()
        return inst, out

    def proxy(self, inst, cert, key, ca):
        """radsecproxy as the NAS: UDP from eapol_test in, RadSec to Portcullis out. Its UDP port."""
        port = free_port()
        conf = os.path.join(self.workdir, f"radsecproxy-{port}.conf")
        with open(conf, "w") as f:
            f.write(f"""ListenUDP 127.0.0.1:{port}
LoopPrevention off
tls nas {{
    CACertificateFile {ca}
    CertificateFile {cert}
    CertificateKeyFile {key}
}}
client eapol {{
    host 127.0.0.1
    type udp
    secret {UDP_SECRET}
}}
server portcullis {{
    host 127.0.0.1
    port {inst.radsec_port}
    type tls
    tls nas
    # Our server certificate names the --hostname given at init (localhost).
    CertificateNameCheck off
}}
realm * {{
    server portcullis
    accountingServer portcullis
}}
""")
        log = open(os.path.join(self.workdir, f"radsecproxy-{port}.log"), "w")
        proc = subprocess.Popen(["radsecproxy", "-f", "-d", "4", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
        self.proxies.append((proc, log))
        time.sleep(0.5)
        self.assertIsNone(proc.poll(), "radsecproxy exited at start")
        return port

    def test_eap_tls_through_radsecproxy_tls13_and_tls12(self):
        inst, nas = self.radsec_instance()
        port = self.proxy(inst, os.path.join(nas, "wlc-1.pem"), os.path.join(nas, "wlc-1.key"),
                          os.path.join(nas, "ca.pem"))
        key, cert, _ = self.issue(inst, "laptop-1")
        self.assert_success(self.eapol(inst, key, cert, tls13=True, port=port, secret=UDP_SECRET), "TLSv1.3")
        self.assert_success(self.eapol(inst, key, cert, tls13=False, port=port, secret=UDP_SECRET), "TLSv1.2")
        self.assertRegex(inst.log(), r"radsec: NAS wlc-1 connected from 127\.0\.0\.1:\d+ \(TLSv1\.[23], our certificate\)")
        # The NAS the events name is the RadSec client, found by its certificate.
        events = eventually(lambda: inst.api("GET", "/events?nas=wlc-1&outcome=accept", expect=200)[1]["events"],
                            lambda e: len(e) >= 2)
        self.assertEqual(len(events), 2, events)

    def test_accounting_through_radsecproxy_is_linked_to_the_certificate(self):
        inst, nas = self.radsec_instance()
        port = self.proxy(inst, os.path.join(nas, "wlc-1.pem"), os.path.join(nas, "wlc-1.key"),
                          os.path.join(nas, "ca.pem"))
        key, cert, serial = self.issue(inst, "phone-4")
        out = self.eapol(inst, key, cert, port=port, secret=UDP_SECRET, mac="02:00:00:aa:bb:04")
        self.assert_success(out, "TLSv1.3")
        token = bytes.fromhex(re.search(r"Attribute 25 \(Class\) length=\d+\n\s+Value: ([0-9a-f]+)", out).group(1))
        start = run(["radclient", "-x", "-r", "1", "-t", "5", "--", f"127.0.0.1:{port}", "acct", UDP_SECRET],
                    check=False, timeout=30,
                    input="Acct-Status-Type = Start\nAcct-Session-Id = \"sess-4\"\n"
                          "Calling-Station-Id = \"02-00-00-AA-BB-04\"\nUser-Name = \"anonymous@example\"\n"
                          f"Class = 0x{token.hex()}\n")
        self.assertIn("Received Accounting-Response", start.stdout, start.stdout + start.stderr)
        sessions = eventually(lambda: inst.api("GET", "/sessions?live=true", expect=200)[1]["sessions"],
                              lambda rows: any(r["acct_session_id"] == "sess-4" for r in rows))
        row = next(r for r in sessions if r["acct_session_id"] == "sess-4")
        self.assertEqual((row["nas"], row["serial"], row["device"]), ("wlc-1", serial, "phone-4"))

    def test_a_nas_certificate_is_no_device_identity_for_eap_tls(self):
        # It carries clientAuth (the NAS is the TLS client of RadSec), but its key on a
        # laptop must not put the laptop on the network as device wlc-1.
        inst, nas = self.radsec_instance()
        self.assert_failure(self.eapol(inst, os.path.join(nas, "wlc-1.key"), os.path.join(nas, "wlc-1.pem")))
        self.assertIn("a NAS certificate (profile nas) is not a device identity", inst.log())

    def test_revoking_the_nas_certificate_closes_its_connection_and_refuses_new_ones(self):
        inst, nas = self.radsec_instance()
        port = self.proxy(inst, os.path.join(nas, "wlc-1.pem"), os.path.join(nas, "wlc-1.key"),
                          os.path.join(nas, "ca.pem"))
        key, cert, _ = self.issue(inst, "laptop-2")
        self.assert_success(self.eapol(inst, key, cert, port=port, secret=UDP_SECRET), "TLSv1.3")
        serial = run(["openssl", "x509", "-in", os.path.join(nas, "wlc-1.pem"), "-noout", "-serial"]
                     ).stdout.strip().split("=")[1]
        inst.cli("revoke", "--serial", serial, "--reason", "keyCompromise")
        closed = eventually(inst.log, lambda log: "no longer good" in log)
        self.assertIn("radsec: connection of NAS wlc-1 from 127.0.0.1", closed)
        self.assert_failure(self.eapol(inst, key, cert, port=port, secret=UDP_SECRET))
        # A NAS that connects afresh with the revoked certificate is refused at the handshake.
        fresh = self.proxy(inst, os.path.join(nas, "wlc-1.pem"), os.path.join(nas, "wlc-1.key"),
                           os.path.join(nas, "ca.pem"))
        self.assert_failure(self.eapol(inst, key, cert, port=fresh, secret=UDP_SECRET))
        self.assertRegex(inst.log(), r"radsec: connection from 127\.0\.0\.1:\d+ refused at TLS: NAS certificate revoked")
        self.assertEqual(inst.log().count("radsec: NAS wlc-1 connected"), 1)
        # The refusal is a decision event naming the certificate, found by its serial.
        refused = eventually(lambda: inst.api("GET", f"/events?kind=radsec&serial={serial.upper()}", expect=200)[1]["events"],
                             lambda e: len(e) >= 1)
        self.assertEqual([(e["outcome"], e["reason"], e["nas_ip"], e["nas"], e["cn"], e["device"]) for e in refused],
                         [("refused", "revoked", "127.0.0.1", "wlc-1", "wlc-1", "wlc-1")])
        self.assertIn("NAS certificate revoked", refused[0]["detail"])
        # `why` explains it by the certificate's serial and by the NAS's name.
        for target in (serial.upper(), "wlc-1"):
            why = inst.cli("why", target, check=False)
            self.assertEqual(why.returncode, 2, why.stdout + why.stderr)
            self.assertIn("RadSec connection from 127.0.0.1", why.stdout)
            self.assertIn(f"NAS certificate {serial.upper()} is revoked", why.stdout)

    def test_a_nas_certificate_from_a_foreign_ca_is_refused_at_tls(self):
        inst, nas = self.radsec_instance()
        d, root_key, root_cert, _ = corporate_root(self.workdir)
        # A certificate that names wlc-1 exactly as ours does, from a CA nobody configured.
        key = os.path.join(d, "wlc-1.key")
        csr = os.path.join(d, "wlc-1.csr")
        cert = os.path.join(d, "wlc-1.pem")
        ext = os.path.join(d, "leaf.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth,serverAuth\n")
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=wlc-1"])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", root_cert, "-CAkey", root_key, "-CAcreateserial",
             "-days", "30", "-extfile", ext, "-out", cert])
        port = self.proxy(inst, cert, key, os.path.join(nas, "ca.pem"))
        dev_key, dev_cert, _ = self.issue(inst, "laptop-3")
        self.assert_failure(self.eapol(inst, dev_key, dev_cert, port=port, secret=UDP_SECRET))
        self.assertRegex(inst.log(), r"radsec: connection from 127\.0\.0\.1:\d+ refused at TLS: certificate 'wlc-1' is "
                                     r"not ours and names no RadSec client with a trusted CA")
        self.assertNotIn("radsec: NAS wlc-1 connected", inst.log())
        # One event, with the foreign certificate's serial and issuer.
        foreign_serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip().split("=")[1]
        refused = eventually(lambda: inst.api("GET", "/events?kind=radsec", expect=200)[1]["events"], lambda e: len(e) >= 1)
        self.assertEqual([(e["outcome"], e["reason"], e["nas_ip"], e["cn"], e["serial"]) for e in refused],
                         [("refused", "unknown_issuer", "127.0.0.1", "wlc-1", foreign_serial.upper())])
        self.assertEqual(refused[0]["issuer"], run(["openssl", "x509", "-in", root_cert, "-noout", "-subject",
                                                    "-nameopt", "RFC2253"]).stdout.strip().split("=", 1)[1])


class RadsecStreamTest(IntegrationTest):
    """Our own RadSec client (Python ssl) for what radsecproxy cannot be made to do: many
    requests in one write, a broken Length, more connections than the caps allow, silence."""

    status_server = staticmethod(test_radius.RadiusTest.status_server)

    def radsec_instance(self, **radsec):
        inst = self.instance()
        self.nas = os.path.join(self.workdir, "nas")
        inst.cli("nas", "certificate", "--name", "wlc-1", "--out", self.nas)
        inst.stop()
        inst.radsec_port = free_port()
        settings = "".join(f"{k} = {v}\n" for k, v in radsec.items())
        with open(inst.config, "a") as f:
            f.write(f"\n[radsec]\nenabled = true\nport = {inst.radsec_port}\n{settings}"
                    "\n[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\ncertificate_name = \"wlc-1\"\n")
        inst.start()
        return inst

    def connect(self, inst, tls_version=ssl.TLSVersion.TLSv1_3, socket_buffer=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.nas, "ca.pem"))
        ctx.load_cert_chain(os.path.join(self.nas, "wlc-1.pem"), os.path.join(self.nas, "wlc-1.key"))
        ctx.minimum_version = ctx.maximum_version = tls_version
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(5)
        if socket_buffer:  # before connect: the window offered is sized from it
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, socket_buffer)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, socket_buffer)
        raw.connect(("127.0.0.1", inst.radsec_port))
        conn = ctx.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(conn.close)
        return conn

    @staticmethod
    def read_packets(conn, count):
        buf = b""
        packets = []
        while len(packets) < count:
            while len(buf) < 4 or len(buf) < int.from_bytes(buf[2:4], "big"):
                chunk = conn.recv(65536)
                if not chunk:
                    raise ConnectionError("closed by the server")
                buf += chunk
            n = int.from_bytes(buf[2:4], "big")
            packets.append(buf[:n])
            buf = buf[n:]
        return packets

    def assert_closed(self, conn, within=5):
        conn.settimeout(within)
        try:
            self.assertEqual(conn.recv(4096), b"")
        except (ConnectionResetError, ssl.SSLError):
            pass

    def test_status_server_watchdog_many_in_flight_and_tls12(self):
        inst = self.radsec_instance()
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            conn = self.connect(inst, version)
            # RFC 6614 §2.6 watchdog: Status-Server, answered Access-Accept (RFC 5997 §3),
            # signed with the fixed secret "radsec"; ten in one write, all answered.
            conn.sendall(b"".join(self.status_server("radsec", identifier=i) for i in range(10)))
            replies = self.read_packets(conn, 10)
            self.assertEqual(sorted(r[1] for r in replies), list(range(10)))
            self.assertTrue(all(r[0] == 2 for r in replies), replies)
            # A retransmission on the same connection gets the cached reply again.
            again = self.status_server("radsec", identifier=77)
            conn.sendall(again)
            first = self.read_packets(conn, 1)[0]
            conn.sendall(again)
            self.assertEqual(self.read_packets(conn, 1)[0], first)
            conn.close()
        # A Status-Server signed with another secret is not answered (and costs nothing).
        conn = self.connect(inst)
        conn.sendall(self.status_server("not-the-radsec-secret", identifier=5))
        conn.sendall(self.status_server("radsec", identifier=6))
        self.assertEqual(self.read_packets(conn, 1)[0][1], 6)

    def test_a_broken_length_closes_the_connection(self):
        inst = self.radsec_instance()
        conn = self.connect(inst)
        conn.sendall(b"\x0c\x01\x13\x89" + bytes(16))  # Length 5001
        self.assert_closed(conn)
        self.assertIn("a packet Length outside 20..4096", inst.log())

    def test_connection_caps_and_idle_timeout(self):
        inst = self.radsec_instance(max_connections_per_nas=2, idle_timeout_seconds=2)
        first, second = self.connect(inst), self.connect(inst)
        third = self.connect(inst)
        self.assert_closed(third)
        self.assertIn("refused: it has 2 connections already", inst.log())
        # The two admitted ones answer; silent for the idle timeout, they are closed.
        for conn in (first, second):
            conn.sendall(self.status_server("radsec", identifier=1))
            self.assertEqual(self.read_packets(conn, 1)[0][0], 2)
        self.assert_closed(first, within=6)
        self.assert_closed(second, within=6)
        self.assertEqual(inst.log().count("closed: idle"), 2)
        # Their places are free again.
        self.connect(inst).sendall(self.status_server("radsec", identifier=3))

    def test_a_nas_that_never_reads_its_replies_is_no_longer_read_and_is_closed(self):
        # Requests whose replies are never read: once the replies in flight and queued reach
        # the per-connection cap (256, RFC 6614 §2.5), the server stops reading, so the
        # NAS's sends block (or it is closed, below) instead of the server's memory filling
        # with replies.
        inst = self.radsec_instance(idle_timeout_seconds=6)
        conn = self.connect(inst, socket_buffer=4096)
        batch = b"".join(self.status_server("radsec", identifier=i % 256) for i in range(256))
        conn.settimeout(1)
        sent, limit, stopped = 0, 16 << 20, None
        rss_before = self.rss_kib(inst)
        while sent < limit and stopped is None:
            try:
                conn.sendall(batch)
                sent += len(batch)
            except (TimeoutError, socket.timeout):
                stopped = "blocked"
            except (ssl.SSLError, OSError):
                # The kernel may free a little of the receive buffer now and then (so no
                # send blocks a whole second) until the server closes the connection.
                stopped = "closed"
        growth = self.rss_kib(inst) - rss_before
        self.assertIsNotNone(stopped, f"{sent} bytes of requests sent and still read; RSS +{growth} KiB")
        self.assertLess(growth, 8 << 10, f"RSS +{growth} KiB after {sent} bytes of requests")
        # Another connection of the same NAS is still answered meanwhile.
        other = self.connect(inst)
        other.sendall(self.status_server("radsec", identifier=9))
        self.assertEqual(self.read_packets(other, 1)[0][:2], b"\x02\x09")
        # The stalled one: no write progress for the idle timeout, closed.
        why = "closed: its replies have not been read for the idle timeout"
        self.assertIn(why, eventually(inst.log, lambda log: why in log, timeout=15))

    def test_metrics_count_connections_refusals_and_packets(self):
        inst = self.radsec_instance(max_connections_per_nas=1, handshake_timeout_seconds=1)
        first = self.connect(inst, ssl.TLSVersion.TLSv1_2)
        first.sendall(b"".join(self.status_server("radsec", identifier=i) for i in range(3)))
        self.read_packets(first, 3)
        self.assert_closed(self.connect(inst))  # over max_connections_per_nas
        silent = socket.create_connection(("127.0.0.1", inst.radsec_port), timeout=5)  # no ClientHello
        self.addCleanup(silent.close)
        events = eventually(lambda: inst.api("GET", "/events?kind=radsec", expect=200)[1]["events"],
                            lambda found: any(e["reason"] == "handshake_timeout" for e in found), timeout=10)
        self.assertEqual(sorted(e["reason"] for e in events), ["handshake_timeout", "nas_cap"])

        status, body = inst.http("GET", "/metrics", admin=True)
        self.assertEqual(status, 200)
        text = body.decode()
        s = samples(text)
        self.assertEqual(value(s, "portcullis_radsec_connections_open"), 1)
        self.assertEqual(value(s, "portcullis_radsec_nas_connections_open", nas="wlc-1"), 1)
        self.assertEqual(value(s, "portcullis_radsec_connections_accepted_total"), 3)
        self.assertEqual(value(s, "portcullis_radsec_connections_admitted_total", tls_version="TLSv1.2"), 1)
        self.assertEqual(value(s, "portcullis_radsec_connections_admitted_total", tls_version="TLSv1.3"), 0)
        self.assertEqual(value(s, "portcullis_radsec_connections_refused_total", reason="nas_cap"), 1)
        self.assertEqual(value(s, "portcullis_radsec_connections_refused_total", reason="handshake_timeout"), 1)
        self.assertEqual(value(s, "portcullis_radsec_packets_total", direction="request"), 3)
        self.assertEqual(value(s, "portcullis_radsec_packets_total", direction="reply"), 3)
        self.assertEqual(value(s, "portcullis_radsec_handshake_seconds_count"), 1)  # the admitted one
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    @staticmethod
    def rss_kib(inst):
        with open(f"/proc/{inst.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def test_our_device_certificate_is_no_nas_certificate(self):
        inst = self.radsec_instance()
        key, cert, _ = test_radius.RadiusTest.issue(self, inst, "wlc-1-laptop")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.nas, "ca.pem"))
        ctx.load_cert_chain(cert, key)
        raw = socket.create_connection(("127.0.0.1", inst.radsec_port), timeout=5)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            conn = ctx.wrap_socket(raw, server_hostname="localhost")
            self.addCleanup(conn.close)
            # TLS 1.3: the client's certificate is judged after its Finished; the alert
            # arrives with the first read.
            conn.sendall(self.status_server("radsec"))
            if conn.recv(4096) == b"":
                raise ConnectionError("closed")
        raw.close()
        # The alert goes out during the handshake, the log line after it: wait for it.
        why = "refused at TLS: certificate of profile 'device', not 'nas'"
        self.assertIn(why, eventually(inst.log, lambda log: why in log))


if __name__ == "__main__":
    main()

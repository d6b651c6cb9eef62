"""RADIUS front end against real peers: eapol_test (wpa_supplicant's EAP-TLS over RADIUS)
with certificates Portcullis issued through its CLI, radclient for Status-Server and
accounting, and a raw UDP sender for what those tools cannot do (a foreign source
address). TLS 1.2 and 1.3, RSA and EC client keys, small and large fragments; every
rejection the issue lists; drops visible in the counters of the admin API."""

import hashlib
import hmac
import json
import os
import re
import socket
import struct

from harness import IntegrationTest, corporate_root, eventually, main, make_key_and_csr, nas_secret, run, sign_sub_ca
from udp_relay import ACCESS_ACCEPT, ACCESS_REJECT, RadiusRelay

EAPOL_TIMEOUT = 10


class RadiusTest(IntegrationTest):
    # --- helpers
    def issue(self, inst, device, key="ec"):
        key_path, csr = make_key_and_csr(self.workdir, device, f"{device}.example.net", key=key)
        pem = inst.cli("issue", "--csr", csr, "--device", device).stdout
        cert = os.path.join(self.workdir, f"{device}.pem")
        with open(cert, "w") as f:
            f.write(pem)
        serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip().split("=")[1]
        return key_path, cert, serial

    def eapol(self, inst, key, cert, tls13=True, fragment=1398, secret=None, mac=None, source=None,
              ca_cert=None, port=None, extra=()):
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}-{fragment}-{int(tls13)}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{ca_cert or inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n"
                    f" private_key=\"{key}\"\n fragment_size={fragment}\n"
                    f" phase1=\"tls_disable_tlsv1_3={0 if tls13 else 1}\"\n}}\n")
        cmd = ["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(port or inst.radius_port),
               "-s", secret or nas_secret(inst), "-t", str(EAPOL_TIMEOUT), *extra]
        if mac:
            cmd += ["-M", mac]
        if source:
            cmd += ["-A", source]
        proc = run(cmd, check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def assert_success(self, out, version):
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        self.assertIn("MPPE keys OK: 1  mismatch: 0", out)
        self.assertIn(f"SSL: Using TLS version {version}", out)

    def assert_failure(self, out):
        self.assertNotRegex(out, r"(?m)^SUCCESS$")
        self.assertRegex(out, r"(?m)^FAILURE$", out[-3000:])

    def live_sessions_when(self, inst, done):
        """Live session ids once `done(ids)` holds (the ledger writer stores them)."""
        def ids():
            return [s["acct_session_id"] for s in inst.api("GET", "/sessions?live=true", expect=200)[1]["sessions"]]
        return eventually(ids, done)

    def counters(self, inst):
        _, body = inst.api("GET", "/radius/counters", expect=200)
        return body["counters"]

    def radclient(self, inst, code, attributes, port=None, secret=None):
        return run(["radclient", "-x", "-r", "1", "-t", "2", "--", f"127.0.0.1:{port or inst.radius_port}", code,
                    secret or nas_secret(inst)], check=False, input=attributes, timeout=30)

    # --- tests
    def test_a_sibling_ca_under_the_enterprise_root_cannot_impersonate_a_device(self):
        """Under an enterprise root, another CA the root signed issues a certificate that
        copies a device's serial and subject and sends itself along as the chain. Only the
        exact certificate we issued is that device (docs/security.md)."""
        d, root_key, root_cert, ext = corporate_root(self.workdir)
        sub_key, sub_csr = make_key_and_csr(d, "sub", "Example Corp Devices CA")
        sub_cert = os.path.join(d, "sub.pem")
        sign_sub_ca(root_key, root_cert, ext, sub_csr, sub_cert)
        sibling_key, sibling_csr = make_key_and_csr(d, "sibling", "Example Corp Other CA")
        sibling_cert = os.path.join(d, "sibling.pem")
        sign_sub_ca(root_key, root_cert, ext, sibling_csr, sibling_cert)
        inst = self.instance(init_args=("--issuing-cert", sub_cert, "--issuing-key", sub_key,
                                        "--issuing-chain", root_cert))
        key, cert, serial = self.issue(inst, "victim")
        self.assert_success(self.eapol(inst, key, cert, ca_cert=root_cert), "TLSv1.3")

        forged_key, forged_csr = make_key_and_csr(self.workdir, "forged", "victim")
        client_ext = os.path.join(d, "client.ext")
        with open(client_ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        forged = os.path.join(self.workdir, "forged.pem")
        run(["openssl", "x509", "-req", "-in", forged_csr, "-CA", sibling_cert, "-CAkey", sibling_key,
             "-set_serial", "0x" + serial, "-days", "30", "-extfile", client_ext,
             "-out", forged])
        with open(forged, "a") as f, open(sibling_cert) as chain:
            f.write(chain.read())
        for tls13, version in ((False, "TLSv1.2"), (True, "TLSv1.3")):
            with self.subTest(version=version):
                out = self.eapol(inst, forged_key, forged, tls13=tls13, ca_cert=root_cert)
                self.assert_failure(out)
        self.assertIn("unknown", inst.log())

    def test_eap_tls_success_matrix(self):
        inst = self.instance()
        clients = {kind: self.issue(inst, f"dev-{kind}", key=kind) for kind in ("rsa2048", "ec")}
        for tls13, version in ((False, "TLSv1.2"), (True, "TLSv1.3")):
            for kind, (key, cert, serial) in clients.items():
                for fragment in (300, 1398):
                    with self.subTest(version=version, key=kind, fragment=fragment):
                        self.assert_success(self.eapol(inst, key, cert, tls13=tls13, fragment=fragment), version)
        log = inst.log()
        self.assertEqual(len(re.findall(r"radius: accept nas=loopback .* tls=TLSv1\.2", log)), 4, log)
        self.assertEqual(len(re.findall(r"radius: accept nas=loopback .* tls=TLSv1\.3", log)), 4, log)
        self.assertIn(f"device=dev-ec serial={clients['ec'][2]}", log)
        self.assertEqual(self.counters(inst)["access_accept"], 8)

    def test_rejections(self):
        inst = self.instance()
        # A certificate from another CA (made with openssl).
        other = os.path.join(self.workdir, "other")
        os.makedirs(other)
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{other}/ca.key", "-out", f"{other}/ca.pem", "-subj", "/CN=Other CA", "-days", "30",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign,cRLSign"])
        fkey, fcsr = make_key_and_csr(other, "foreign", "foreign.example.net")
        fcert = f"{other}/foreign.pem"
        ext = f"{other}/ext.cnf"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
        run(["openssl", "x509", "-req", "-in", fcsr, "-CA", f"{other}/ca.pem", "-CAkey", f"{other}/ca.key",
             "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", fcert])
        self.assert_failure(self.eapol(inst, fkey, fcert))

        # An expired certificate: signed by our own issuing CA with a validity in the past
        # (`openssl ca` can set the dates; the Issuer never would), unknown to the ledger.
        ekey, ecsr = make_key_and_csr(self.workdir, "expired", "expired.example.net")
        ecert = self.sign_expired(inst, ecsr)
        self.assertIn("notAfter=Feb  1 00:00:00 2020 GMT",
                      run(["openssl", "x509", "-in", ecert, "-noout", "-enddate"]).stdout)
        self.assert_failure(self.eapol(inst, ekey, ecert))

        # Revoked through the CLI while the server runs: first SUCCESS, then FAILURE.
        key, cert, serial = self.issue(inst, "to-revoke")
        self.assert_success(self.eapol(inst, key, cert), "TLSv1.3")
        inst.cli("revoke", "--serial", serial, "--reason", "keyCompromise")
        self.assert_failure(self.eapol(inst, key, cert))
        self.assert_failure(self.eapol(inst, key, cert, tls13=False))

        # A disabled device.
        dkey, dcert, dserial = self.issue(inst, "to-disable", key="rsa2048")
        self.assert_success(self.eapol(inst, dkey, dcert, tls13=False), "TLSv1.2")
        inst.cli("devices", "disable", "to-disable")
        self.assert_failure(self.eapol(inst, dkey, dcert, tls13=False))

        # A wrong shared secret: the Message-Authenticator does not verify, nothing comes back.
        wrong = self.eapol(inst, dkey, dcert, secret="this-is-not-the-secret")
        self.assertNotRegex(wrong, r"(?m)^SUCCESS$")

        counters = self.counters(inst)
        self.assertEqual(counters["access_reject"], 5)  # foreign, expired, revoked twice, disabled
        self.assertGreaterEqual(counters["invalid_message_authenticator"], 1)
        audit = eventually(lambda: inst.api("GET", "/audit?action=radius.reject", expect=200)[1],
                           lambda a: {serial, dserial} <= {e["target"] for e in a["entries"]})
        targets = [e["target"] for e in audit["entries"]]
        self.assertIn(serial, targets)
        self.assertIn(dserial, targets)
        self.assertTrue(all(e["actor"] == "radius" for e in audit["entries"]))
        log = inst.log()
        self.assertRegex(log, rf"radius: reject nas=loopback .* serial={serial} .*reason=\"[^\"]*revoked")
        self.assertRegex(log, rf"radius: reject nas=loopback .* serial={dserial} .*reason=\"[^\"]*device_disabled")
        secret = nas_secret(inst)
        self.assertNotIn(secret, log)

    def test_resumption_with_a_real_peer(self):
        # eapol_test -r 2: one full handshake, then two re-authentications in the same
        # process, which offer the TLS session (1.2: session ID; 1.3: PSK with (EC)DHE).
        inst = self.instance()
        key, cert, serial = self.issue(inst, "resumer")
        for tls13, version in ((False, "TLSv1.2"), (True, "TLSv1.3")):
            with self.subTest(version=version):
                out = self.eapol(inst, key, cert, tls13=tls13, extra=["-r", "2"])
                # One part per authentication; wpa_supplicant may report a TLS 1.3 handshake
                # twice (again once the ticket is in), so each part is checked, not counted.
                parts = out.split("eapol_test: Triggering EAP reauthentication")
                self.assertEqual(len(parts), 3, out[-3000:])
                for i, part in enumerate(parts):
                    self.assertIn(f"Handshake finished - resumed={int(i > 0)}", part, part[-3000:])
                    self.assertNotIn(f"Handshake finished - resumed={int(i == 0)}", part, part[-3000:])
                    self.assertIn("CTRL-EVENT-EAP-SUCCESS", part)
                    self.assertIn(f"SSL: Using TLS version {version}", part)
                self.assertIn("MPPE keys OK: 3  mismatch: 0", out)
                self.assertRegex(out, r"(?m)^SUCCESS$")
        log = inst.log()
        for version in ("TLSv1.2", "TLSv1.3"):
            accepts = re.findall(rf"radius: accept nas=loopback .* serial={serial} tls={version} (\(resumed\) )?", log)
            self.assertEqual(sorted(accepts), ["", "(resumed) ", "(resumed) "], log)

    def test_revoked_certificate_never_resumes(self):
        # The certificate is revoked between eapol_test's authentication and its
        # re-authentication (a relay holds the first Access-Accept while the CLI revokes).
        # The re-authentication offers the cached session; the server must re-check the
        # ledger on the restored certificate and reject it right on the ClientHello, the
        # second Access-Request of that conversation, before the peer sends a certificate.
        inst = self.instance()
        for tls13, version in ((False, "TLSv1.2"), (True, "TLSv1.3")):
            with self.subTest(version=version):
                key, cert, serial = self.issue(inst, f"resume-revoked-{int(tls13)}")
                revoke = lambda s=serial: inst.cli("revoke", "--serial", s)  # noqa: E731
                with RadiusRelay(inst.radius_port, before_first_accept=revoke) as relay:
                    out = self.eapol(inst, key, cert, tls13=tls13, port=relay.port, extra=["-r", "1"])
                self.assertEqual(relay.errors, [])
                self.assertEqual(len(relay.conversations), 2, (relay.conversations, out[-3000:]))
                (first_requests, first), (second_requests, second) = relay.conversations
                self.assertEqual(first, ACCESS_ACCEPT)
                self.assertGreater(first_requests, 2)
                self.assertEqual((second_requests, second), (2, ACCESS_REJECT), out[-3000:])
                self.assertNotIn("Handshake finished - resumed=1", out)
                self.assert_failure(out)
                self.assertRegex(inst.log(), rf"radius: reject nas=loopback .* serial={serial} tls={version} "
                                             rf".*reason=\"[^\"]*revoked")

    def sign_expired(self, inst, csr):
        folder = os.path.join(self.workdir, "expired-ca")
        os.makedirs(folder)
        open(os.path.join(folder, "index.txt"), "w").close()
        with open(os.path.join(folder, "serial"), "w") as f:
            f.write("7E57000000000001\n")
        cnf = os.path.join(folder, "ca.cnf")
        with open(cnf, "w") as f:
            f.write(f"[ca]\ndefault_ca=d\n[d]\ndatabase={folder}/index.txt\nnew_certs_dir={folder}\n"
                    f"serial={folder}/serial\ndefault_md=sha256\npolicy=p\nx509_extensions=e\n"
                    "[p]\ncommonName=supplied\n[e]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                    "extendedKeyUsage=clientAuth\n")
        out = os.path.join(folder, "expired.pem")
        run(["openssl", "ca", "-batch", "-config", cnf, "-cert", inst.ca("issuing.pem"), "-keyfile",
             inst.ca("issuing.key"), "-in", csr, "-out", out, "-notext", "-startdate", "20200101000000Z",
             "-enddate", "20200201000000Z"])
        return out

    def test_message_authenticator_status_server_and_unknown_nas(self):
        inst = self.instance()
        secret = nas_secret(inst)
        # RFC 5997 Status-Server with Message-Authenticator: Access-Accept.
        status = self.radclient(inst, "status", "Message-Authenticator = 0x00\n")
        self.assertIn("Received Access-Accept", status.stdout, status.stdout + status.stderr)

        # BlastRADIUS: radclient 3.2.1 sends a plain Access-Request without
        # Message-Authenticator: no answer, counted.
        before = self.counters(inst)["missing_message_authenticator"]
        plain = self.radclient(inst, "auth", "User-Name = x, EAP-Message = 0x0201000a01616263\n")
        self.assertNotIn("Received Access", plain.stdout)
        self.assertIn("No reply", plain.stdout + plain.stderr)
        self.assertGreater(self.counters(inst)["missing_message_authenticator"], before)

        # An unknown NAS address: a correctly signed Status-Server from 127.0.0.2 is dropped.
        before = self.counters(inst)["unknown_nas"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.2", 0))
            s.settimeout(2)
            s.sendto(self.status_server(secret), ("127.0.0.1", inst.radius_port))
            with self.assertRaises(socket.timeout):
                s.recvfrom(4096)
            # The same packet from a known address is answered, so the drop was the address.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(5)
            s.sendto(self.status_server(secret), ("127.0.0.1", inst.radius_port))
            reply, _ = s.recvfrom(4096)
            self.assertEqual(reply[0], 2)  # Access-Accept
            self.assertEqual(reply[20], 80)  # Message-Authenticator first
        key, cert, _ = self.issue(inst, "elsewhere")
        self.assertNotRegex(self.eapol(inst, key, cert, source="127.0.0.2"), r"(?m)^SUCCESS$")
        self.assertGreaterEqual(self.counters(inst)["unknown_nas"], before + 2)

        # Truncated and garbage datagrams: dropped, counted, the server keeps answering.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for junk in (b"\x01", b"\x01\x02\x00\x14", os.urandom(3000), b"\x01\x02\x10\x00" + bytes(16) + b"\x4f\x01"):
                s.sendto(junk, ("127.0.0.1", inst.radius_port))
        status = self.radclient(inst, "status", "Message-Authenticator = 0x00\n")
        self.assertIn("Received Access-Accept", status.stdout)
        c = self.counters(inst)
        self.assertGreaterEqual(c["malformed_truncated"] + c["malformed_bad_length"] + c["malformed_bad_attribute"], 3)

    @staticmethod
    def status_server(secret, identifier=42):
        auth = os.urandom(16)
        attrs = bytes([80, 18]) + bytes(16)
        packet = bytearray(struct.pack("!BBH", 12, identifier, 20 + len(attrs)) + auth + attrs)
        packet[22:38] = hmac.new(secret.encode(), bytes(packet), hashlib.md5).digest()
        return bytes(packet)

    def test_accounting_start_stop_linked_to_the_certificate(self):
        inst = self.instance()
        key, cert, serial = self.issue(inst, "phone-7")
        out = self.eapol(inst, key, cert, mac="02:00:00:aa:bb:07")
        self.assert_success(out, "TLSv1.3")
        token = bytes.fromhex(re.search(r"Attribute 25 \(Class\) length=\d+\n\s+Value: ([0-9a-f]+)", out).group(1))
        self.assertTrue(token.startswith(b"pc1:"))

        acct = inst.radius_port + 1
        start = self.radclient(inst, "acct", "Acct-Status-Type = Start\nAcct-Session-Id = \"sess-7\"\n"
                               "Calling-Station-Id = \"02-00-00-AA-BB-07\"\nUser-Name = \"anonymous@example\"\n"
                               f"Class = 0x{token.hex()}\n", port=acct)
        self.assertIn("Received Accounting-Response", start.stdout, start.stdout + start.stderr)
        # BlastRADIUS: Message-Authenticator in the Accounting-Response too, first, and one
        # radclient (libfreeradius 3.2.1) verifies: it drops a reply whose MAC is wrong.
        self.assertRegex(start.stdout, r"Received Accounting-Response[^\n]*\n\s+Message-Authenticator = 0x[0-9a-f]{32}")
        # A second session whose NAS does not echo Class: linked by Calling-Station-Id.
        other = self.radclient(inst, "acct", "Acct-Status-Type = Start\nAcct-Session-Id = \"sess-8\"\n"
                               "Calling-Station-Id = \"02-00-00-aa-bb-07\"\n", port=acct)
        self.assertIn("Received Accounting-Response", other.stdout)

        self.live_sessions_when(inst, lambda ids: set(ids) == {"sess-7", "sess-8"})
        live = json.loads(inst.cli("--json", "sessions").stdout)
        by_id = {s["acct_session_id"]: s for s in live}
        self.assertEqual(set(by_id), {"sess-7", "sess-8"})
        self.assertEqual(by_id["sess-7"]["serial"], serial)
        self.assertEqual(by_id["sess-7"]["device"], "phone-7")
        self.assertEqual(by_id["sess-7"]["nas"], "loopback")
        self.assertIsNone(by_id["sess-7"]["stopped_at"])
        table = inst.cli("sessions").stdout
        self.assertIn("sess-7", table)
        self.assertIn("phone-7", table)

        stop = self.radclient(inst, "acct", "Acct-Status-Type = Stop\nAcct-Session-Id = \"sess-7\"\n"
                              "Calling-Station-Id = \"02-00-00-AA-BB-07\"\n"
                              f"Class = 0x{token.hex()}\nAcct-Session-Time = 42\n", port=acct)
        self.assertIn("Received Accounting-Response", stop.stdout)
        self.assertEqual(self.live_sessions_when(inst, lambda ids: ids == ["sess-8"]), ["sess-8"])
        everything = json.loads(inst.cli("--json", "sessions", "--all").stdout)
        stopped = [s for s in everything if s["acct_session_id"] == "sess-7"]
        self.assertEqual(len(stopped), 1)
        self.assertIsNotNone(stopped[0]["stopped_at"])

        # A wrong secret on accounting: no response, nothing recorded, counted.
        bad = self.radclient(inst, "acct", "Acct-Status-Type = Start\nAcct-Session-Id = \"sess-9\"\n", port=acct,
                             secret="wrong-secret-wrong-secret")
        self.assertNotIn("Received Accounting-Response", bad.stdout)
        self.assertGreaterEqual(self.counters(inst)["acct_bad_authenticator"], 1)
        self.assertNotIn("sess-9", inst.cli("sessions", "--all").stdout)


if __name__ == "__main__":
    main()

"""Decision events against real peers: each outcome a real client can produce ends in one
event with its reason, read back with `portcullis events --json` (GET /api/v1/events).
eapol_test (wpa_supplicant) for EAP-TLS: accept, a foreign CA's certificate, revoked and
disabled devices, a client that does not trust our server, no client certificate, a
client that proposes PEAP, a conversation abandoned half-way, a policy reject; radclient
for NAS-level drops; micromdm scepclient for SCEP: issued, a wrong and a reused
challenge, a renewal."""

import base64
import hashlib
import json
import os
import re
import subprocess

from harness import IntegrationTest, eventually, main, make_key_and_csr, nas_secret, run
from udp_relay import RadiusRelay

EAPOL_TIMEOUT = 10
MAC = "02:00:5e:10:00:01"


class EventsTest(IntegrationTest):
    # --- helpers
    def edit_config(self, inst, fn):
        with open(inst.config) as f:
            text = f.read()
        with open(inst.config, "w") as f:
            f.write(fn(text))

    def issue(self, inst, device, group=None):
        if group:
            inst.cli("devices", "add", device, "--group", group)
        key, csr = make_key_and_csr(self.workdir, device, f"{device}.example.net")
        pem = inst.cli("issue", "--csr", csr, "--device", device).stdout
        cert = os.path.join(self.workdir, f"{device}.pem")
        with open(cert, "w") as f:
            f.write(pem)
        serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip().split("=")[1]
        return key, cert, serial

    def foreign_ca(self):
        other = os.path.join(self.workdir, "other")
        os.makedirs(other, exist_ok=True)
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{other}/ca.key", "-out", f"{other}/ca.pem", "-subj", "/CN=Other CA", "-days", "30",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign,cRLSign"])
        return other

    def foreign_cert(self, other):
        key, csr = make_key_and_csr(other, "foreign", "foreign.example.net")
        cert = f"{other}/foreign.pem"
        ext = f"{other}/ext.cnf"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
        run(["openssl", "x509", "-req", "-in", csr, "-CA", f"{other}/ca.pem", "-CAkey", f"{other}/ca.key",
             "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", cert])
        return key, cert

    def eapol(self, inst, network, tag, mac=MAC, port=None, timeout=EAPOL_TIMEOUT, extra=()):
        conf = os.path.join(self.workdir, f"eapol-{tag}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n" + "".join(f" {line}\n" for line in network) + "}\n")
        cmd = ["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(port or inst.radius_port), "-s",
               nas_secret(inst), "-t", str(timeout), "-M", mac, *extra]
        proc = run(cmd, check=False, timeout=timeout + 20)
        return proc.stdout + proc.stderr

    def tls_network(self, inst, key=None, cert=None, ca_cert=None, tls13=True):
        lines = ["eap=TLS", 'identity="anonymous@example"', f'ca_cert="{ca_cert or inst.ca("root.pem")}"',
                 f'phase1="tls_disable_tlsv1_3={0 if tls13 else 1}"']
        if cert:
            lines += [f'client_cert="{cert}"', f'private_key="{key}"']
        return lines

    def events(self, inst, *filters):
        proc = inst.cli("events", *filters, "--json")
        return json.loads(proc.stdout)

    def new_event(self, inst, known, *filters, timeout=10):
        """The one event matching `filters` that is not in `known` (ids), once written."""
        rows = eventually(lambda: [e for e in self.events(inst, *filters) if e["id"] not in known],
                          lambda r: len(r) >= 1, timeout=timeout)
        self.assertEqual(len(rows), 1, rows)
        known.add(rows[0]["id"])
        return rows[0]

    def assert_failure(self, out):
        self.assertNotRegex(out, r"(?m)^SUCCESS$")

    def assert_why(self, inst, target, words, code=2, where=r"On NAS loopback at \S+Z: "):
        """`portcullis why target` exits `code` and says `words` (after `where`)."""
        proc = inst.cli("why", target, check=False)
        self.assertEqual(proc.returncode, code, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, where + re.escape(words))
        return proc.stdout

    # --- tests
    def test_each_eap_tls_outcome_is_one_event_with_its_reason(self):
        inst = self.instance()
        known = set()

        key, cert, serial = self.issue(inst, "laptop-7")
        out = self.eapol(inst, self.tls_network(inst, key, cert), "ok",
                         extra=["-N30:s:02-00-00-00-00-99:corp-wifi"])
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-2000:])
        # The MAC in another usual form than the NAS sent.
        e = self.new_event(inst, known, "--mac", "0200.5E10.0001")
        self.assertEqual((e["kind"], e["outcome"], e["reason"]), ("radius", "accept", "ok"))
        self.assertEqual(e["device"], "laptop-7")
        self.assertEqual(e["serial"], serial)
        self.assertEqual(e["mac"], MAC)
        self.assertEqual(e["ssid"], "corp-wifi")
        self.assertEqual(e["nas"], "loopback")
        self.assertEqual(e["nas_ip"], "127.0.0.1")
        self.assertEqual(e["tls_version"], "TLSv1.3")
        self.assertEqual(e["rule"], "default")
        self.assertIsInstance(e["duration_ms"], int)

        # A certificate from another CA.
        other = self.foreign_ca()
        fkey, fcert = self.foreign_cert(other)
        self.assert_failure(self.eapol(inst, self.tls_network(inst, fkey, fcert), "foreign"))
        e = self.new_event(inst, known, "--outcome", "reject")
        self.assertEqual(e["reason"], "unknown_issuer")
        self.assertEqual(e["issuer"], "CN=Other CA")
        self.assertEqual(e["device"], "")
        self.assert_why(inst, MAC, "it presented a certificate from another CA (issuer CN=Other CA); it needs one "
                                   "from this CA: enroll it (`portcullis challenge --device NAME`) and make its "
                                   "Wi-Fi profile select that certificate.")
        _, body = inst.api("GET", "/why/" + MAC.replace(":", "-"), expect=200)
        self.assertEqual((body["looked_up_as"], body["verdict"]), ("mac", "rejected"))
        self.assertEqual((body["latest"][0]["reason"], body["latest"][0]["nas"]), ("unknown_issuer", "loopback"))
        self.assertIn("(issuer CN=Other CA)", body["latest"][0]["explanation"])
        self.assertEqual(body["latest"][1]["outcome"], "accept")  # the SSID corp-wifi's latest
        self.assertIsNone(body["enrollment"])

        # A client whose profile installed another root: it does not trust our server, and
        # says so before it sends its certificate, so only the MAC tells who it was.
        self.assert_failure(self.eapol(inst, self.tls_network(inst, key, cert, ca_cert=f"{other}/ca.pem"), "distrust"))
        e = self.new_event(inst, known, "--mac", MAC, "--outcome", "reject")
        self.assertEqual(e["reason"], "tls_alert:unknown_ca")
        self.assertEqual(e["device"], "")
        self.assertIn("the client sent TLS alert unknown_ca", e["detail"])

        # No client certificate: wpa_supplicant does not start EAP-TLS without a certificate
        # and key, it Naks the method with no alternative. (A TLS client that sends an empty
        # Certificate is no_client_certificate: the unit tests' peer does that.)
        self.assert_failure(self.eapol(inst, self.tls_network(inst), "nocert"))
        e = self.new_event(inst, known, "--kind", "radius", "--outcome", "reject")
        self.assertEqual(e["reason"], "eap_method")
        self.assertIn("proposes no other method", e["detail"])
        self.assert_why(inst, MAC, "it refused EAP-TLS without proposing another method, which is what a client "
                                   "with no client certificate and key installed does: install its certificate "
                                   "(enroll it: `portcullis challenge --device NAME`)")

        # A client configured for PEAP: it Naks EAP-TLS and names what it wants.
        peap = ["eap=PEAP", 'identity="alice"', 'password="secret"', 'phase2="auth=MSCHAPV2"',
                f'ca_cert="{inst.ca("root.pem")}"']
        self.assert_failure(self.eapol(inst, peap, "peap"))
        e = self.new_event(inst, known, "--kind", "radius", "--outcome", "reject")
        self.assertEqual(e["reason"], "eap_method")
        self.assertIn("PEAP (25)", e["detail"])
        self.assertEqual(e["user_name"], "alice")
        self.assert_why(inst, MAC, "it is set up for PEAP (25), not EAP-TLS, which is the only method this server "
                                   "offers: its Wi-Fi profile must use EAP-TLS with the device's certificate.")

        # Revoked, then a disabled device.
        inst.cli("revoke", "--serial", serial, "--reason", "keyCompromise")
        self.assert_failure(self.eapol(inst, self.tls_network(inst, key, cert), "revoked"))
        e = self.new_event(inst, known, "--serial", serial, "--outcome", "reject")
        self.assertEqual(e["reason"], "revoked")
        self.assertEqual(e["device"], "laptop-7")
        dkey, dcert, _ = self.issue(inst, "phone-3")
        inst.cli("devices", "disable", "phone-3")
        self.assert_failure(self.eapol(inst, self.tls_network(inst, dkey, dcert, tls13=False), "disabled"))
        e = self.new_event(inst, known, "--device", "phone-3")
        self.assertEqual((e["outcome"], e["reason"], e["tls_version"]), ("reject", "device_disabled", "TLSv1.2"))
        self.assert_why(inst, "phone-3", "the device is disabled; to let it back in: "
                                         "`portcullis devices enable phone-3`.")

        # The table view shows the same, newest first.
        table = inst.cli("events", "--mac", "02-00-5e-10-00-01", "--limit", "3").stdout
        self.assertRegex(table.splitlines()[1], r"radius\s+reject\s+device_disabled")
        # Filters are checked by the service.
        bad = inst.cli("events", "--mac", "02:00:5e", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("MAC address", bad.stderr)

    def test_why_says_what_happened_and_what_to_do(self):
        inst = self.instance()
        self.assertEqual(inst.cli("why", "laptop-9", check=False).returncode, 1)  # never seen

        key, cert, serial = self.issue(inst, "laptop-9")
        self.assertRegex(self.eapol(inst, self.tls_network(inst, key, cert), "why-ok",
                                    extra=["-N30:s:02-00-00-00-00-99:corp-wifi"]), r"(?m)^SUCCESS$")
        ok = eventually(lambda: inst.cli("why", "laptop-9", check=False), lambda p: p.returncode == 0)
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("On NAS loopback (SSID corp-wifi)", ok.stdout)
        self.assertIn(f"accepted (rule default, certificate {serial})", ok.stdout)

        inst.cli("revoke", "--serial", serial, "--reason", "keyCompromise")
        self.assert_failure(self.eapol(inst, self.tls_network(inst, key, cert), "why-revoked",
                                       extra=["-N30:s:02-00-00-00-00-99:corp-wifi"]))
        for target in ("laptop-9", serial, "02-00-5E-10-00-01"):
            rejected = eventually(lambda: inst.cli("why", target, check=False), lambda p: p.returncode == 2)
            self.assertEqual(rejected.returncode, 2, rejected.stdout + rejected.stderr)
            self.assertRegex(rejected.stdout, rf"certificate {serial} was revoked on \S+Z by api:\S+ \(keyCompromise\); "
                                              r"to let the device back in, issue a new one: "
                                              r"`portcullis challenge --device laptop-9`")
        body = json.loads(inst.cli("why", serial, "--json", check=False).stdout)
        self.assertEqual((body["looked_up_as"], body["verdict"]), ("serial", "rejected"))
        self.assertEqual(body["latest"][0]["reason"], "revoked")

        # A device that does not trust the server: known by its MAC only.
        other = self.foreign_ca()
        self.assert_failure(self.eapol(inst, self.tls_network(inst, key, cert, ca_cert=f"{other}/ca.pem"),
                                       "why-distrust", mac="02:00:5e:10:00:02"))
        distrust = eventually(lambda: inst.cli("why", "02:00:5e:10:00:02", check=False), lambda p: p.returncode == 2)
        self.assertIn("the device does not trust this server's certificate (it sent alert unknown_ca): its profile "
                      "must install ca/root.pem", distrust.stdout)

    def test_a_peer_that_goes_silent_half_way_is_abandoned(self):
        inst = self.instance(start=False)
        self.edit_config(inst, lambda t: t.replace("eap_timeout_seconds = 60", "eap_timeout_seconds = 2"))
        inst.start()
        key, cert, _ = self.issue(inst, "sleepy")
        # Identity, ClientHello, then the client's certificate flight never arrives.
        with RadiusRelay(inst.radius_port, silent_after=2) as relay:
            self.assert_failure(self.eapol(inst, self.tls_network(inst, key, cert, tls13=False), "silent",
                                           port=relay.port, timeout=4))
        rows = eventually(lambda: self.events(inst, "--outcome", "abandoned"), lambda r: len(r) >= 1, timeout=10)
        self.assertEqual(len(rows), 1, rows)
        e = rows[0]
        self.assertEqual((e["kind"], e["reason"], e["mac"], e["nas"]), ("radius", "peer_silent", MAC, "loopback"))
        self.assertIn("stopped answering in EAP state TLS", e["detail"])
        self.assertEqual(e["tls_version"], "TLSv1.2")
        self.assert_why(inst, MAC, "the device stopped answering half-way (the peer stopped answering in EAP state "
                                   "TLS")
        # Nothing else ended that conversation.
        self.assertEqual([r for r in self.events(inst, "--kind", "radius") if r["outcome"] != "abandoned"], [])

    def test_policy_reject_names_the_rule(self):
        inst = self.instance(start=False)
        with open(os.path.join(inst.dir, "policy.toml"), "w") as f:
            f.write('[[rule]]\nname = "lost"\ndevice_groups = ["lost"]\naction = "reject"\nreason = "reported lost"\n')
        self.edit_config(inst, lambda t: re.sub(r'(?m)^file = "[^"]*"', 'file = "policy.toml"', t, count=1))
        inst.start()
        key, cert, serial = self.issue(inst, "lost-phone", group="lost")
        self.assert_failure(self.eapol(inst, self.tls_network(inst, key, cert), "lost"))
        rows = eventually(lambda: self.events(inst, "--device", "lost-phone"), lambda r: len(r) >= 1)
        self.assertEqual(len(rows), 1, rows)
        e = rows[0]
        self.assertEqual((e["outcome"], e["reason"], e["rule"]), ("reject", "policy:lost", "lost"))
        self.assertEqual(e["detail"], "policy: reported lost")
        self.assertEqual(e["serial"], serial)
        self.assert_why(inst, "lost-phone", "the policy rule 'lost' rejected it (reported lost); to let it in, change "
                                            "the device's groups (`portcullis devices show lost-phone`) or the rule "
                                            "in the policy file and reload it (SIGHUP).")

    def test_nas_level_drops_are_aggregated_per_source_and_minute(self):
        inst = self.instance()
        # A wrong shared secret, five times: one event now (the rest are counted for the
        # end of the minute).
        for _ in range(5):
            run(["radclient", "-r", "1", "-t", "1", "--", f"127.0.0.1:{inst.radius_port}", "status",
                 "not-the-secret"], check=False, input="Message-Authenticator = 0x00\n", timeout=30)
        rows = eventually(lambda: self.events(inst, "--kind", "nas"), lambda r: len(r) >= 1)
        self.assertEqual(len(rows), 1, rows)
        e = rows[0]
        self.assertEqual((e["outcome"], e["reason"], e["nas"], e["nas_ip"], e["count"]),
                         ("drop", "bad_message_authenticator", "loopback", "127.0.0.1", 1))
        self.assertIn("wrong shared secret", e["detail"])
        self.assertEqual(self.events(inst, "--nas", "loopback", "--kind", "nas"), rows)
        _, body = inst.api("GET", "/service/counters", expect=200)
        counters = body["counters"]
        self.assertEqual(counters["events_written"], 1)
        self.assertEqual(counters["events_emitted"], 1)
        self.assertEqual(counters["events_dropped"], 0)

    def test_scep_outcomes_with_scepclient(self):
        inst = self.instance(start=False)
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        self.edit_config(inst, lambda t: t.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true"))
        inst.start()
        url = f"http://127.0.0.1:{inst.http_port}/scep"
        with open(inst.ca("ra.pem")) as f:
            der = base64.b64decode("".join(line for line in f.read().splitlines() if "-----" not in line))
        ra_fingerprint = hashlib.sha256(der).hexdigest()

        def scepclient(folder, cn, challenge=None, renew=False):
            folder = os.path.join(self.workdir, folder)
            os.makedirs(folder, exist_ok=True)
            cmd = ["scepclient", "-server-url", url, "-ca-fingerprint", ra_fingerprint, "-private-key",
                   os.path.join(folder, "key.pem"), "-cn", cn, "-keySize", "2048"]
            if challenge is not None:
                cmd += ["-challenge", challenge]
            if renew:
                cmd += ["-certificate", os.path.join(folder, "client.pem")]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

        known = set()
        challenge = inst.cli("challenge", "--device", "ipad-7", "--cn", "ipad-7", "--ttl", "10m").stdout.strip()
        r = scepclient("first", "ipad-7", challenge)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e = self.new_event(inst, known, "--kind", "scep", "--device", "ipad-7")
        self.assertEqual((e["outcome"], e["reason"], e["cn"]), ("issued", "ok", "ipad-7"))
        self.assertEqual(e["requester"], "127.0.0.1")
        self.assertTrue(e["transaction_id"])
        serial = e["serial"]
        self.assertEqual(inst.cli("--json", "certs", "list", "--device", "ipad-7").stdout.count(serial), 1)

        # The same challenge again: refused, and the event says it was already used.
        r = scepclient("again", "ipad-7", challenge)
        self.assertNotEqual(r.returncode, 0)
        e = self.new_event(inst, known, "--kind", "scep", "--outcome", "reject")
        self.assertEqual((e["reason"], e["device"], e["cn"]), ("challenge_used", "ipad-7", "ipad-7"))
        self.assertEqual(e["detail"], "badRequest: challenge already used")
        scep_at = r"Enrollment \(SCEP\) at \S+Z from 127\.0\.0\.1 for CN ipad-7: "
        self.assert_why(inst, "ipad-7", "the challenge it sent was already used (each is good for one enrollment); "
                                        "mint a new one: `portcullis challenge --device ipad-7`.", where=scep_at)

        # A wrong challenge.
        r = scepclient("wrong", "ipad-8", "0123456789abcdef0123456789abcdef")
        self.assertNotEqual(r.returncode, 0)
        e = self.new_event(inst, known, "--kind", "scep", "--outcome", "reject")
        self.assertEqual((e["reason"], e["cn"], e["device"]), ("challenge_wrong", "ipad-8", ""))
        self.assertEqual(e["detail"], "badRequest: wrong challenge")
        # It names no device: `why` finds it by the CN it asked for.
        self.assert_why(inst, "ipad-8", "the challenge it sent is not one this CA minted (mistyped, or from another "
                                        "server); mint a new one: `portcullis challenge --device ipad-8`.",
                        where=scep_at.replace("ipad-7", "ipad-8"))
        _, body = inst.api("GET", "/why/ipad-8", expect=200)
        self.assertEqual((body["looked_up_as"], body["verdict"], body["latest"]), ("device", "rejected", []))
        self.assertEqual((body["enrollment"]["reason"], body["enrollment"]["cn"], body["enrollment"]["requester"]),
                         ("challenge_wrong", "ipad-8", "127.0.0.1"))

        # A renewal signed by the first certificate.
        r = scepclient("first", "ipad-7", renew=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e = self.new_event(inst, known, "--kind", "scep", "--outcome", "renewed")
        self.assertEqual(e["device"], "ipad-7")
        self.assertNotEqual(e["serial"], serial)
        self.assert_why(inst, "ipad-7", f"certificate {e['serial']} was issued to device ipad-7 (a renewal).", code=0,
                        where=scep_at)


if __name__ == "__main__":
    main()

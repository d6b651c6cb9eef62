"""Access policy against real peers: eapol_test authenticates with certificates
Portcullis issued, and its debug dump of the Access-Accept shows the rule's VLAN attributes
(RFC 3580 tunnel attributes, tag 1) or the rule's rejection; `portcullis policy test`
answers offline; rule reloads (admin API and SIGHUP) under continuous authentication lose
nothing, a broken file is refused with its line while the old rules keep deciding, the NAS
table (groups, secrets) reloads on SIGHUP, and GET /api/v1/policy shows match counters."""

import json
import os
import re
import signal
import threading
import time

from harness import IntegrationTest, eventually, main, make_key_and_csr, nas_secret, run

EAPOL_TIMEOUT = 10
SSID_ARGS = ["-N30:s:02-00-00-00-00-99:corp-wifi", "-N61:d:19"]  # Called-Station-Id "MAC:SSID", NAS-Port-Type

POLICY_A = """
[[rule]]
name = "lost"
device_groups = ["lost"]
action = "reject"
reason = "reported lost"

[[rule]]
name = "staff-wifi"
device_groups = ["staff"]
nas_group = ["campus"]
ssid = ["corp-wifi"]
vlan = 20
reply = { "Filter-Id" = "staff" }
"""

POLICY_B = POLICY_A.replace("vlan = 20", "vlan = 30")  # same rule names: their counters carry over

# Line 4 has the typo; the loader must name it.
POLICY_BROKEN = """[[rule]]
name = "typo"
device_groups = ["staff"]
vlann = 40
"""


def vlan_of(out):
    """Tunnel-Private-Group-Id as eapol_test dumps it ("Value: 013230" = tag 1, "20"), or None."""
    m = re.search(r"Attribute 81 \(Tunnel-Private-Group-Id\) length=\d+\n\s+Value: ([0-9a-f]+)", out)
    if not m:
        return None
    raw = bytes.fromhex(m.group(1))
    assert raw[0] == 1, f"tag octet {raw[0]} instead of 1"
    return raw[1:].decode()


class PolicyTest(IntegrationTest):
    # --- helpers
    def edit_config(self, inst, fn):
        with open(inst.config) as f:
            text = f.read()
        with open(inst.config, "w") as f:
            f.write(fn(text))

    def write_policy(self, inst, text, name="policy.toml"):
        with open(os.path.join(inst.dir, name), "w") as f:
            f.write(text)

    def policy_instance(self, policy=POLICY_A, groups='["campus"]'):
        inst = self.instance(start=False)
        self.write_policy(inst, policy)
        self.edit_config(inst, lambda t: re.sub(r'(?m)^file = "[^"]*"', 'file = "policy.toml"', t, count=1)
                         .replace("groups = []", f"groups = {groups}", 1))
        inst.start()
        return inst

    def device(self, inst, name, group):
        inst.cli("devices", "add", name, "--group", group)
        key, csr = make_key_and_csr(self.workdir, name, f"{name}.example.net")
        pem = inst.cli("issue", "--csr", csr, "--device", name).stdout
        cert = os.path.join(self.workdir, f"{name}.pem")
        with open(cert, "w") as f:
            f.write(pem)
        return key, cert

    def eapol(self, inst, client, extra=SSID_ARGS, tag="x"):
        key, cert = client
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}-{tag}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n private_key=\"{key}\"\n"
                    " phase1=\"tls_disable_tlsv1_3=0\"\n}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(inst.radius_port), "-s",
                    nas_secret(inst), "-t", str(EAPOL_TIMEOUT), *extra], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def succeeded(self, out):
        return re.search(r"(?m)^SUCCESS$", out) is not None

    def assert_failure(self, out):
        self.assertNotRegex(out, r"(?m)^SUCCESS$")
        self.assertRegex(out, r"(?m)^FAILURE$", out[-3000:])

    def wait_log(self, inst, pattern, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, inst.log()):
                return
            time.sleep(0.05)
        self.fail(f"log never matched {pattern!r}")

    # --- tests
    def test_vlan_rule_accepts_with_tunnel_attributes_and_reject_rule_fails(self):
        inst = self.policy_instance()
        staff = self.device(inst, "staff-laptop", "staff")
        lost = self.device(inst, "lost-phone", "lost")

        out = self.eapol(inst, staff)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        self.assertIn("MPPE keys OK: 1  mismatch: 0", out)
        # RFC 3580 §3.31 with tag 1: Tunnel-Type VLAN (13), Tunnel-Medium-Type IEEE-802 (6).
        self.assertRegex(out, r"Attribute 64 \(Tunnel-Type\) length=6\n\s+Value: 0100000d")
        self.assertRegex(out, r"Attribute 65 \(Tunnel-Medium-Type\) length=6\n\s+Value: 01000006")
        self.assertEqual(vlan_of(out), "20")
        # Filter-Id (11) = "staff" (eapol_test does not name it).
        self.assertRegex(out, r"Attribute 11 \(.*\) length=7")

        # Another SSID: the staff rule does not match; accepted by default, no VLAN.
        out = self.eapol(inst, staff, extra=["-N30:s:02-00-00-00-00-99:guest"], tag="guest")
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        self.assertIsNone(vlan_of(out))

        out = self.eapol(inst, lost)
        self.assert_failure(out)
        self.assertIn("EAP-Failure", out)
        log = inst.log()
        self.assertRegex(log, r"radius: accept nas=loopback .*device=staff-laptop .*rule=staff-wifi ")
        self.assertRegex(log, r"radius: accept nas=loopback .*device=staff-laptop .*rule=default ")
        self.assertRegex(log, r'radius: reject nas=loopback .*device=lost-phone .*rule=lost reason="policy: reported lost"')
        audit = eventually(lambda: inst.api("GET", "/audit?action=radius.reject", expect=200)[1],
                           lambda a: any("rule=lost" in e["detail"] for e in a["entries"]))
        self.assertTrue(any("rule=lost" in e["detail"] for e in audit["entries"]), audit)
        _, counters = inst.api("GET", "/radius/counters", expect=200)
        self.assertEqual(counters["counters"]["policy_reject"], 1)

        _, pol = inst.api("GET", "/policy", expect=200)
        self.assertEqual([r["name"] for r in pol["rules"]], ["lost", "staff-wifi"])
        self.assertEqual([r["matches"] for r in pol["rules"]], [1, 1])
        self.assertEqual(pol["default_matches"], 1)
        self.assertEqual(pol["rules"][1]["line"], 8)
        self.assertIn("ssid in [corp-wifi]", pol["rules"][1]["summary"])

    def test_policy_test_command_works_offline(self):
        inst = self.policy_instance()
        self.device(inst, "staff-laptop", "staff")
        self.device(inst, "lost-phone", "lost")
        inst.stop()  # no service: the command reads the config, ledger and policy file itself

        out = inst.cli("policy", "test", "--device", "staff-laptop", "--nas", "loopback", "--ssid", "corp-wifi").stdout
        self.assertIn("decision   ACCEPT by rule staff-wifi", out)
        self.assertIn("reply      Tunnel-Private-Group-Id:1 = 20", out)
        self.assertIn("reply      Tunnel-Type:1 = VLAN", out)
        self.assertIn("reply      Filter-Id = staff", out)

        body = json.loads(inst.cli("--json", "policy", "test", "--device", "staff-laptop", "--nas", "loopback",
                                   "--ssid", "guest").stdout)
        self.assertEqual(body["rule"], "default")
        self.assertTrue(body["accept"])
        self.assertEqual(body["reply"], [])
        self.assertLessEqual(body["session_timeout"], 86400)

        rejected = inst.cli("policy", "test", "--device", "lost-phone", check=False)
        self.assertEqual(rejected.returncode, 2, rejected.stdout + rejected.stderr)
        self.assertIn("decision   REJECT by rule lost: reported lost", rejected.stdout)

        # A broken policy file: the error names its line, exit 1.
        self.write_policy(inst, POLICY_BROKEN)
        broken = inst.cli("policy", "test", "--device", "staff-laptop", check=False)
        self.assertEqual(broken.returncode, 1)
        self.assertRegex(broken.stderr, r"policy\.toml:4: rule 'typo': unknown key 'vlann'")

    def test_reload_under_traffic_loses_nothing_and_refuses_broken_files(self):
        inst = self.policy_instance()
        staff = self.device(inst, "staff-laptop", "staff")
        results = []  # (time, success, vlan)
        stop = threading.Event()

        def traffic(tag):
            while not stop.is_set():
                out = self.eapol(inst, staff, tag=tag)
                results.append((time.time(), self.succeeded(out), vlan_of(out)))

        threads = [threading.Thread(target=traffic, args=(f"t{i}",)) for i in range(2)]
        for t in threads:
            t.start()

        def wait_vlan(vlan, timeout=20):
            start = time.time()
            while time.time() - start < timeout:
                if any(ok and v == vlan and at > start for at, ok, v in list(results)):
                    return
                time.sleep(0.05)
            self.fail(f"no authentication got VLAN {vlan}")

        try:
            wait_vlan("20")
            # Admin API reload to rule set B.
            self.write_policy(inst, POLICY_B)
            _, body = inst.api("POST", "/policy/reload", expect=200)
            self.assertEqual(body["rules"], 2)
            wait_vlan("30")
            # A broken file through the API: 422 with the line, B keeps deciding.
            self.write_policy(inst, POLICY_BROKEN)
            status, body = inst.api("POST", "/policy/reload")
            self.assertEqual(status, 422, body)
            self.assertRegex(body["error"], r"policy\.toml:4: rule 'typo': unknown key 'vlann'")
            # ... and through SIGHUP: logged with its line, B keeps deciding.
            inst.proc.send_signal(signal.SIGHUP)
            self.wait_log(inst, r"policy \(SIGHUP\): rules not reloaded, .*policy\.toml:4: rule 'typo'")
            wait_vlan("30")
            # SIGHUP with a good file: back to A.
            self.write_policy(inst, POLICY_A)
            inst.proc.send_signal(signal.SIGHUP)
            wait_vlan("20")
            deadline = time.time() + 30
            while len(results) < 40 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join()

        self.assertGreaterEqual(len(results), 40)
        failed = [r for r in results if not r[1]]
        self.assertEqual(failed, [], f"{len(failed)} of {len(results)} authentications lost during reloads")
        self.assertTrue(all(v in ("20", "30") for _, _, v in results), results)
        _, pol = inst.api("GET", "/policy", expect=200)
        # Counters carry over a reload by rule name: staff-wifi counts every match, under A and B.
        staff_rule = next(r for r in pol["rules"] if r["name"] == "staff-wifi")
        self.assertEqual(staff_rule["matches"], len(results))
        _, audit = inst.api("GET", "/audit?action=policy.reload", expect=200)
        self.assertEqual(len(audit["entries"]), 2)  # the API reloads, one refused

    def test_sighup_reloads_the_nas_table(self):
        inst = self.policy_instance()
        staff = self.device(inst, "staff-laptop", "staff")
        self.assertEqual(vlan_of(self.eapol(inst, staff)), "20")
        # The NAS leaves the "campus" group: the staff rule no longer matches for it.
        self.edit_config(inst, lambda t: t.replace('groups = ["campus"]', 'groups = ["branch"]', 1))
        inst.proc.send_signal(signal.SIGHUP)
        self.wait_log(inst, r"SIGHUP: reloaded .* 1 NAS entries")
        out = self.eapol(inst, staff, tag="after")
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        self.assertIsNone(vlan_of(out))
        # A new secret: the old one is no longer answered, the new one is.
        old = nas_secret(inst)
        new = "a-brand-new-shared-secret-42"
        self.edit_config(inst, lambda t: t.replace(f'secret = "{old}"', f'secret = "{new}"', 1))
        inst.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        self.wait_log(inst, r"(?s)SIGHUP: reloaded .*SIGHUP: reloaded ")
        status = ["radclient", "-x", "-r", "1", "-t", "2", "--", f"127.0.0.1:{inst.radius_port}", "status"]
        stale = run(status + [old], check=False, input="Message-Authenticator = 0x00\n", timeout=30)
        self.assertNotIn("Received Access-Accept", stale.stdout)
        fresh = run(status + [new], check=False, input="Message-Authenticator = 0x00\n", timeout=30)
        self.assertIn("Received Access-Accept", fresh.stdout, fresh.stdout + fresh.stderr)
        self.assertRegex(self.eapol(inst, staff, tag="new-secret"), r"(?m)^SUCCESS$")


if __name__ == "__main__":
    main()

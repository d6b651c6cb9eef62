"""The admin CLI end to end against a running service: devices add/list/show/disable/
enable, certs list filters, revoke --device, tables for people and --json for scripts,
and the admin API over TLS."""

import json
import os
import re
import subprocess

from harness import SERVICE_DEVICE, SERVICE_PROFILES, IntegrationTest, main, make_key_and_csr, run


class CliTest(IntegrationTest):
    def test_device_and_certificate_commands(self):
        inst = self.instance()
        added = inst.cli("devices", "add", "phone-7", "--display-name", "Ana's phone", "--owner", "ana",
                         "--group", "staff", "--group", "byod")
        self.assertIn("phone-7", added.stdout)
        inst.cli("devices", "add", "kiosk-1", "--owner", "facilities")

        table = inst.cli("devices", "list").stdout.splitlines()
        self.assertRegex(table[0], r"^ID\s+NAME\s+OWNER\s+GROUPS\s+ENABLED$")
        self.assertTrue(any(re.search(r"phone-7\s+ana\s+byod,staff\s+yes", line) for line in table), table)
        listed = json.loads(inst.cli("--json", "devices", "list", "--search", "kiosk").stdout)
        self.assertEqual([d["name"] for d in listed], ["kiosk-1"])
        # --config and --json after the subcommand, as users type them.
        after = run([inst.bin, "devices", "list", "--search", "kiosk", "--config", inst.config, "--json"])
        self.assertEqual([d["name"] for d in json.loads(after.stdout)], ["kiosk-1"])

        serials = []
        for n in range(2):
            _, csr = make_key_and_csr(self.workdir, f"p{n}", f"phone-7-{n}.example", key="rsa2048")
            issued = json.loads(inst.cli("--json", "issue", "--csr", csr, "--device", "phone-7").stdout)
            self.assertFalse(issued["device_created"])
            serials.append(issued["serial"])
        _, csr = make_key_and_csr(self.workdir, "k", "kiosk-1.example")
        kiosk_serial = json.loads(inst.cli("--json", "issue", "--csr", csr, "--device", "kiosk-1").stdout)["serial"]

        shown = inst.cli("devices", "show", "phone-7").stdout
        self.assertIn("display_name:", shown)
        for s in serials:
            self.assertIn(s, shown)

        inst.cli("devices", "disable", "phone-7")
        self.assertFalse(json.loads(inst.cli("--json", "devices", "show", "phone-7").stdout)["enabled"])
        _, ident = inst.api("GET", f"/identity/{serials[0]}", expect=200)
        self.assertEqual(ident["verdict"], "device_disabled")
        disabled = json.loads(inst.cli("--json", "devices", "list", "--disabled").stdout)
        self.assertEqual([d["name"] for d in disabled], ["phone-7"])
        inst.cli("devices", "enable", "phone-7")
        _, ident = inst.api("GET", f"/identity/{serials[0]}", expect=200)
        self.assertEqual(ident["verdict"], "good")

        revoked = inst.cli("revoke", "--device", "phone-7", "--reason", "cessationOfOperation").stdout
        for s in serials:
            self.assertIn(s, revoked)
        valid = json.loads(inst.cli("--json", "certs", "list", "--status", "valid").stdout)
        self.assertEqual([c["serial"] for c in valid if c["profile"] not in SERVICE_PROFILES], [kiosk_serial])
        self.assertEqual(sorted(c["profile"] for c in valid if c["profile"] in SERVICE_PROFILES),
                         sorted(SERVICE_PROFILES))
        gone = json.loads(inst.cli("--json", "certs", "list", "--status", "revoked").stdout)
        self.assertEqual(sorted(c["serial"] for c in gone), sorted(serials))
        self.assertEqual(json.loads(inst.cli("--json", "certs", "list", "--expiring-before", "2000-01-01").stdout), [])
        soon = json.loads(inst.cli("--json", "certs", "list", "--expiring-before", "2199-01-01").stdout)
        self.assertEqual(len(soon), 3 + len(SERVICE_PROFILES))
        cert_table = inst.cli("certs", "list", "--device", "phone-7").stdout.splitlines()
        self.assertRegex(cert_table[0], r"^SERIAL\s+DEVICE\s+PROFILE\s+STATUS")
        # The DEVICE column names the device, as every other command does, not its id.
        self.assertEqual([line.split()[1] for line in cert_table[1:]], ["phone-7", "phone-7"])
        self.assertEqual(sum("revoked" in line for line in cert_table), 2)
        self.assertIn("BEGIN CERTIFICATE", inst.cli("certs", "show", kiosk_serial).stdout)

        # Usage errors: one line, non-zero.
        proc = inst.cli("revoke", check=False)
        self.assertNotEqual(proc.returncode, 0)
        proc = inst.cli("revoke", "--serial", serials[0], "--device", "phone-7", check=False)
        self.assertNotEqual(proc.returncode, 0)

    def test_overview_without_arguments(self):
        """`portcullis` alone: where the config is, whether the service answers, what next;
        exit 0 whether or not the service runs."""
        inst = self.instance(start=False)
        env = dict(os.environ, PORTCULLIS_CONFIG=inst.config)
        stopped = run([inst.bin], env=env, cwd=self.workdir)
        self.assertIn(f"config   {inst.config} ($PORTCULLIS_CONFIG)", stopped.stdout)
        self.assertRegex(stopped.stdout, rf"service  not reachable \(http://127.0.0.1:{inst.admin_port}/api/v1/health\)")
        self.assertIn(f"portcullis serve --config {inst.config}", stopped.stdout)

        inst.start()
        running = run([inst.bin, "--config", inst.config], cwd=self.workdir)
        self.assertIn(f"config   {inst.config} (--config)", running.stdout)
        self.assertIn(f"service  running (http://127.0.0.1:{inst.admin_port}/api/v1/health)", running.stdout)
        self.assertEqual(len(re.findall(r"^  portcullis ", running.stdout, re.M)), 3, running.stdout)
        self.assertIn(f"portcullis challenge --device NAME --config {inst.config}", running.stdout)
        as_json = json.loads(run([inst.bin, "--json"], env=env, cwd=self.workdir).stdout)
        self.assertEqual(as_json["service"]["state"], "running")
        self.assertEqual(as_json["config"], {"path": inst.config, "source": "$PORTCULLIS_CONFIG", "found": True})

        # No config anywhere: the default path, said to be missing, and how to make one.
        env.pop("PORTCULLIS_CONFIG")
        missing = run([inst.bin], env=env, cwd=self.workdir)
        self.assertIn("config   /etc/portcullis/portcullis.toml (default)", missing.stdout)
        if not os.path.exists("/etc/portcullis/portcullis.toml"):
            self.assertIn("(default): not found", missing.stdout)
            self.assertIn("portcullis init --dir DIR", missing.stdout)
        with open(os.path.join(self.workdir, "portcullis.toml"), "w") as f:
            f.write("[nonsense\n")
        broken = run([inst.bin], env=env, cwd=self.workdir)
        self.assertIn("config   portcullis.toml (./portcullis.toml): cannot be used:", broken.stdout)

    def test_admin_api_over_tls(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        with open(inst.config, "w") as f:
            f.write(text.replace("tls = false ", "tls = true "))
        inst.start(wait=False)
        url = f"https://127.0.0.1:{inst.admin_port}/api/v1/health"
        for _ in range(100):
            if run(["curl", "-fsS", "--cacert", inst.ca("root.pem"), url], check=False).returncode == 0:
                break
            subprocess.run(["sleep", "0.05"])
        # The CLI trusts our root and checks the name; curl without our root must fail.
        self.assertEqual([d["name"] for d in json.loads(inst.cli("--json", "devices", "list").stdout)],
                         [SERVICE_DEVICE])
        self.assertNotEqual(run(["curl", "-fsS", url], check=False).returncode, 0)
        plain = run(["curl", "-fsS", f"http://127.0.0.1:{inst.admin_port}/api/v1/health"], check=False)
        self.assertNotEqual(plain.returncode, 0)
        out = run(["openssl", "s_client", "-connect", f"127.0.0.1:{inst.admin_port}", "-CAfile", inst.ca("root.pem"),
                   "-verify_return_error", "-brief"], input="", check=False)
        self.assertIn("Verification: OK", out.stdout + out.stderr)


if __name__ == "__main__":
    main()

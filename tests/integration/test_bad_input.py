"""Bad input gets a clear error and writes nothing: malformed CSR, CA:true, weak key,
unknown device or serial, wrong or missing token, oversized body, SQL metacharacters.
Malformed requests are 400; well-formed requests that policy refuses (CA:true, weak key) 422."""

import json
import os

from harness import IntegrationTest, main, make_key_and_csr

TABLES = ("devices", "certificates", "audit")


class BadInputTest(IntegrationTest):
    def setUp(self):
        super().setUp()
        self.inst = self.instance()
        _, self.good_csr = make_key_and_csr(self.workdir, "good", "good.example")

    def snapshot(self):
        return {t: self.inst.count(t) for t in TABLES}

    def assert_refused(self, method, path, body, status, needle, **kw):
        before = self.snapshot()
        got, data = self.inst.api(method, path, body, **kw)
        self.assertEqual(got, status, data)
        self.assertIsInstance(data, dict)
        self.assertIn(needle.lower(), data["error"].lower())
        self.assertNotIn("\n", data["error"])
        self.assertEqual(self.snapshot(), before, "a refused request wrote to the ledger")

    def issue_body(self, csr_text, device="dev-1"):
        return {"csr": csr_text, "device": device, "create_device": True}

    def test_malformed_csr(self):
        self.assert_refused("POST", "/certificates", self.issue_body("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                                                     "-----END CERTIFICATE REQUEST-----\n"),
                            400, "csr")
        self.assert_refused("POST", "/certificates", self.issue_body("not a csr at all"), 400, "csr")
        # The CLI says so in one line and exits non-zero.
        bad = os.path.join(self.workdir, "bad.csr")
        with open(bad, "w") as f:
            f.write("garbage\n")
        before = self.snapshot()
        proc = self.inst.cli("issue", "--csr", bad, "--device", "dev-1", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertEqual(self.snapshot(), before)

    def test_csr_asking_for_ca_true(self):
        _, csr = make_key_and_csr(self.workdir, "ca", "evil-ca", extra_config="basicConstraints=critical,CA:TRUE\n")
        with open(csr) as f:
            self.assert_refused("POST", "/certificates", self.issue_body(f.read()), 422, "CA:true")

    def test_weak_rsa_key(self):
        _, csr = make_key_and_csr(self.workdir, "weak", "weak.example", key="rsa1024")
        with open(csr) as f:
            self.assert_refused("POST", "/certificates", self.issue_body(f.read()), 422, "2048")

    def test_unknown_profile(self):
        with open(self.good_csr) as f:
            body = self.issue_body(f.read())
        body["profile"] = "root-ca"
        self.assert_refused("POST", "/certificates", body, 400, "profile")

    def test_unknown_device_and_serial(self):
        with open(self.good_csr) as f:
            body = {"csr": f.read(), "device": "nobody", "create_device": False}
        self.assert_refused("POST", "/certificates", body, 404, "nobody")
        self.assert_refused("GET", "/devices/nobody", None, 404, "nobody")
        self.assert_refused("POST", "/certificates/00DEADBEEF/revoke", {}, 404, "00DEADBEEF")
        self.assert_refused("POST", "/devices/999999/disable", {}, 404, "999999")
        proc = self.inst.cli("revoke", "--serial", "00DEADBEEF", check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("00DEADBEEF", proc.stderr)
        proc = self.inst.cli("devices", "show", "nobody", check=False)
        self.assertEqual(proc.returncode, 1)

    def test_bad_revocation_reason(self):
        with open(self.good_csr) as f:
            _, issued = self.inst.api("POST", "/certificates", self.issue_body(f.read()), expect=201)
        self.assert_refused("POST", f"/certificates/{issued['serial']}/revoke", {"reason": "because"}, 400, "reason")

    def test_wrong_or_missing_token(self):
        self.assert_refused("GET", "/devices", None, 401, "token", auth=False)
        self.assert_refused("GET", "/devices", None, 401, "token", headers={"Authorization": "Bearer wrong"})
        self.assert_refused("POST", "/devices", {"name": "x"}, 401, "token", headers={"Authorization": "Basic eA=="})
        env = dict(os.environ, PORTCULLIS_TOKEN="not-the-token")
        proc = self.inst.cli("devices", "list", check=False, env=env)
        self.assertEqual(proc.returncode, 1)
        self.assertNotIn("not-the-token", proc.stderr)
        self.assertNotIn(self.inst.token, self.inst.log())

    def test_oversized_body(self):
        before = self.snapshot()
        big = json.dumps({"name": "x" * (2 << 20)}).encode()
        try:
            status, _ = self.inst.http("POST", "/api/v1/devices", body=big, admin=True,
                                       headers={"Content-Type": "application/json"})
            self.assertEqual(status, 413)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server may close while we are still sending; what matters is below
        self.assertEqual(self.snapshot(), before)
        self.inst.api("GET", "/devices", expect=200)  # still serving

    def test_invalid_json_and_fields(self):
        self.assert_refused("POST", "/devices", b"{not json", 400, "json",
                            headers={"Content-Type": "application/json"})
        self.assert_refused("POST", "/devices", {"name": ""}, 400, "name")
        self.assert_refused("POST", "/devices", {"name": "a\nb"}, 400, "name")
        self.assert_refused("POST", "/devices", {"name": 42}, 400, "name")
        self.inst.api("POST", "/devices", {"name": "twice"}, expect=201)
        self.assert_refused("POST", "/devices", {"name": "twice"}, 409, "twice")

    def test_sql_metacharacters_are_data(self):
        name = "x'); DROP TABLE devices; --\"%_"
        _, dev = self.inst.api("POST", "/devices", {"name": name, "owner": "o'brien"}, expect=201)
        self.assertEqual(dev["name"], name)
        listed = json.loads(self.inst.cli("--json", "devices", "list", "--search", "DROP TABLE").stdout)
        self.assertEqual([d["name"] for d in listed], [name])
        # '%' and '_' in a search are literal, not wildcards.
        self.assertEqual(json.loads(self.inst.cli("--json", "devices", "list", "--search", "%_").stdout)[0]["name"],
                         name)
        self.assertEqual(json.loads(self.inst.cli("--json", "devices", "list", "--search", "x_)").stdout), [])
        shown = json.loads(self.inst.cli("--json", "devices", "show", name).stdout)
        self.assertEqual(shown["owner"], "o'brien")
        self.assertEqual(self.inst.count("devices"), 1)


if __name__ == "__main__":
    main()

"""init (fresh CA of each key type, imported issuing CA, external root + ca install-cert),
refusals, file modes, and the service's lifecycle: SIGHUP reload, SIGTERM, JSON logs,
a ledger from a newer version refused."""

import json
import os
import re
import signal
import socket
import stat
import time

from harness import BIN, IntegrationTest, corporate_root, main, make_key_and_csr, run, sign_sub_ca


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class InitTest(IntegrationTest):
    def test_fresh_init_layout_and_modes(self):
        inst = self.instance(start=False)
        for key in ("root.key", "issuing.key", "ra.key", "server.key", "admin.key"):
            self.assertEqual(mode(inst.ca(key)), 0o600, key)
        self.assertEqual(mode(inst.config), 0o600)
        self.assertEqual(mode(os.path.join(inst.dir, "admin.token")), 0o600)
        self.assertEqual(mode(inst.dir), 0o700)
        with open(inst.config) as f:
            config = f.read()
        self.assertIn('address = "127.0.0.1/32"', config)
        self.assertRegex(config, r'secret = "[A-Za-z0-9_-]{32}"')
        self.assertNotIn(inst.token, config)  # only its hash is stored
        for name in ("server.pem", "ra.pem", "issuing.pem"):
            out = run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", inst.ca("issuing.pem"),
                       inst.ca(name)]).stdout
            self.assertIn("OK", out)
        ra = run(["openssl", "x509", "-in", inst.ca("ra.pem"), "-noout", "-text"]).stdout
        self.assertIn("Public-Key: (2048 bit)", ra)
        self.assertIn("rsaEncryption", ra)
        self.assertRegex(ra, r"Digital Signature, Key Encipherment")
        server = run(["openssl", "x509", "-in", inst.ca("server.pem"), "-noout", "-text"]).stdout
        self.assertIn("TLS Web Server Authentication", server)
        self.assertIn("DNS:localhost", server)
        self.assertIn("prime256v1", server)
        root = run(["openssl", "x509", "-in", inst.ca("root.pem"), "-noout", "-text"]).stdout
        self.assertIn("CA:TRUE", root)

    def test_refuses_existing_dir(self):
        existing = os.path.join(self.workdir, "existing")
        os.makedirs(existing)
        marker = os.path.join(existing, "keep.txt")
        with open(marker, "w") as f:
            f.write("mine")
        proc = run([BIN, "init", "--dir", existing], check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("refusing", proc.stderr)
        self.assertEqual(os.listdir(existing), ["keep.txt"])

    def test_other_key_types(self):
        for key_type, needle in (("rsa2048", "rsaEncryption"), ("ec-p384", "secp384r1")):
            inst = self.instance(init_args=("--key-type", key_type), start=False)
            text = run(["openssl", "x509", "-in", inst.ca("issuing.pem"), "-noout", "-text"]).stdout
            self.assertIn(needle, text, key_type)
            inst.start()
            _, csr = make_key_and_csr(self.workdir, f"k-{key_type}", "kt.example")
            cert = inst.cli("issue", "--csr", csr, "--device", "kt").stdout
            path = os.path.join(self.workdir, f"kt-{key_type}.pem")
            with open(path, "w") as f:
                f.write(cert)
            run(["openssl", "verify", "-CAfile", inst.ca("root.pem"), "-untrusted", inst.ca("issuing.pem"), path])

    def issue_and_verify(self, inst, trust_root):
        _, csr = make_key_and_csr(self.workdir, "corp-dev", "corp-dev.example")
        path = os.path.join(self.workdir, "corp-dev.pem")
        with open(path, "w") as f:
            f.write(inst.cli("issue", "--csr", csr, "--device", "corp-dev").stdout)
        run(["openssl", "verify", "-CAfile", trust_root, "-untrusted", inst.ca("issuing.pem"), path])

    def test_external_root_then_install_cert(self):
        d, root_key, root_cert, ext = corporate_root(self.workdir)
        inst = self.instance(init_args=("--external-root",), start=False)
        self.assertTrue(os.path.exists(inst.ca("issuing.csr")))
        proc = run([BIN, "--config", inst.config, "serve"], check=False, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("install-cert", proc.stderr)
        signed = os.path.join(d, "issuing.pem")
        sign_sub_ca(root_key, root_cert, ext, inst.ca("issuing.csr"), signed)
        inst.cli("ca", "install-cert", "--cert", signed, "--chain", root_cert)
        self.assertFalse(os.path.exists(inst.ca("issuing.csr")))
        inst.start()
        self.issue_and_verify(inst, root_cert)
        run(["openssl", "verify", "-CAfile", root_cert, "-untrusted", inst.ca("issuing.pem"), inst.ca("server.pem")])

    def test_imported_issuing_ca(self):
        d, root_key, root_cert, ext = corporate_root(self.workdir)
        sub_key, sub_csr = make_key_and_csr(d, "sub", "Example Corp Devices CA")
        sub_cert = os.path.join(d, "sub.pem")
        sign_sub_ca(root_key, root_cert, ext, sub_csr, sub_cert)
        # A key that does not match the certificate is refused, and nothing is left behind.
        other_key, _ = make_key_and_csr(d, "other", "other")
        bad_dir = os.path.join(self.workdir, "bad")
        proc = run([BIN, "init", "--dir", bad_dir, "--issuing-cert", sub_cert, "--issuing-key", other_key,
                    "--issuing-chain", root_cert], check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertFalse(os.path.exists(bad_dir))
        inst = self.instance(init_args=("--issuing-cert", sub_cert, "--issuing-key", sub_key,
                                        "--issuing-chain", root_cert))
        self.issue_and_verify(inst, root_cert)


class ServiceLifecycleTest(IntegrationTest):
    def test_newer_ledger_is_refused(self):
        inst = self.instance(start=False)
        with inst.ledger() as db:
            db.execute("PRAGMA user_version = 999")
        proc = run([BIN, "--config", inst.config, "serve"], check=False, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertRegex(proc.stderr, r"newer")

    def test_a_private_key_others_can_read_stops_the_start(self):
        # As OpenSSH does for identity files: refused by name, with the fix in the message.
        inst = self.instance(start=False)
        with open(inst.config) as f:
            config = f.read()
        with open(inst.config, "w") as f:
            f.write(config.replace("tls = false", "tls = true", 1))  # so serve loads admin.key too
        for name, bad_mode in (("issuing.key", 0o644), ("ra.key", 0o640), ("server.key", 0o604), ("admin.key", 0o660)):
            key = inst.ca(name)
            os.chmod(key, bad_mode)
            proc = run([BIN, "--config", inst.config, "serve"], check=False, timeout=30)
            self.assertNotEqual(proc.returncode, 0, name)
            self.assertIn(f"chmod 600 {key}", proc.stderr, name)
            self.assertNotIn("PRIVATE KEY", proc.stderr, name)
            os.chmod(key, 0o600)
        with open(inst.config, "w") as f:
            f.write(config)  # the harness speaks plain HTTP to the admin API
        inst.start()  # every key fixed as told: it serves
        inst.api("GET", "/devices", expect=200)

    def test_public_connection_caps_leave_the_admin_api_answering(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            config = f.read()
        config = config.replace("max_connections = 512", "max_connections = 6", 1)
        config = config.replace("max_connections_per_address = 64", "max_connections_per_address = 3", 1)
        with open(inst.config, "w") as f:
            f.write(config)
        inst.start()

        def connect(source):
            s = socket.socket()
            s.bind((source, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", inst.http_port))
            return s

        held = [connect("127.0.0.1") for _ in range(3)]
        over_address = connect("127.0.0.1")
        self.assertEqual(over_address.recv(16), b"", "the 4th connection from one address must be closed")
        held += [connect("127.0.0.2") for _ in range(3)]
        # Full (3 + 3): a newcomer from 127.0.0.3 takes the place of the busiest address's
        # longest-waiting idle connection, twice, until every address holds two.
        held.append(connect("127.0.0.3"))
        self.assertEqual(held[0].recv(16), b"", "127.0.0.1's oldest idle connection must make room")
        held.append(connect("127.0.0.3"))
        self.assertEqual(held[3].recv(16), b"", "then 127.0.0.2's oldest")
        over_total = connect("127.0.0.3")
        self.assertEqual(over_total.recv(16), b"", "with 2 + 2 + 2 open, the next one must be closed")
        # The public listener is full; the admin API is not.
        _, body = inst.api("GET", "/service/counters", expect=200)
        counters = body["counters"]
        self.assertEqual(counters["http_public_open"], 6)
        self.assertEqual(counters["http_public_refused_address_cap"], 1)
        self.assertEqual(counters["http_public_refused_total_cap"], 1)
        self.assertEqual(counters["http_public_reclaimed"], 2)
        self.assertEqual(counters["handler_exceptions"], 0)
        for s in held + [over_address, over_total]:
            s.close()
        deadline = time.time() + 5
        status = None
        while time.time() < deadline and status != 200:  # the places are given back as the sessions end
            try:
                status, _ = inst.http("GET", "/crl")
            except OSError:  # closed at accept: not yet
                time.sleep(0.05)
        self.assertEqual(status, 200)

    def test_sighup_reloads_tokens_and_sigterm_stops_cleanly(self):
        inst = self.instance()
        inst.api("GET", "/devices", expect=200)
        second = "second-token-for-the-reload-test-0123456789"
        sha = run(["sh", "-c", f"printf %s '{second}' | sha256sum"]).stdout.split()[0]
        with open(inst.config, "a") as f:
            f.write(f'\n[[admin.tokens]]\nname = "robot"\nsha256 = "{sha}"\n')
        inst.api("GET", "/devices", expect=401, headers={"Authorization": "Bearer " + second})
        inst.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "SIGHUP: reloaded" not in inst.log():
            time.sleep(0.05)
        inst.api("GET", "/devices", expect=200, headers={"Authorization": "Bearer " + second})
        # A broken config on SIGHUP keeps the running one.
        with open(inst.config, "a") as f:
            f.write("\n[nonsense\n")
        inst.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "config not reloaded" not in inst.log():
            time.sleep(0.05)
        self.assertIn("config not reloaded", inst.log())
        inst.api("GET", "/devices", expect=200)
        self.assertEqual(inst.stop(signal.SIGTERM), 0)
        self.assertIn("stopped cleanly", inst.log())
        self.assertNotIn(second, inst.log())
        self.assertNotIn(inst.token, inst.log())

    def test_json_logs(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            text = f.read()
        with open(inst.config, "w") as f:
            f.write(text.replace('log_format = "text"', 'log_format = "json"'))
        inst.start()
        inst.api("GET", "/devices", expect=200)
        self.assertEqual(inst.stop(), 0)
        lines = [l for l in inst.log().splitlines() if l.strip()]
        self.assertGreater(len(lines), 2)
        for line in lines:
            entry = json.loads(line)
            self.assertIn(entry["level"], ("trace", "debug", "info", "warning", "error", "critical"))
            self.assertTrue(re.match(r"\d{4}-\d\d-\d\dT", entry["time"]))


if __name__ == "__main__":
    main()

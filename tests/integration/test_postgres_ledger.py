"""The PostgreSQL ledger end to end: `portcullis init --ledger postgresql://…` on a real
PostgreSQL 15 (tests/integration/postgres.py), then the service enrolls a device with
micromdm scepclient and `portcullis issue`, authenticates it with eapol_test, and rejects
it once revoked; everything is in PostgreSQL and no password is in the config or the log.
Then two nodes on one ledger: a certificate issued on A authenticates on B, and once A
revokes it B rejects it within a second."""

import hashlib
import os
import re
import subprocess
import threading
import time

from harness import Instance, eventually, free_port, main, make_key_and_csr, nas_secret, run
from postgres import PostgresTest

EAPOL_TIMEOUT = 10


def sha256_der_fingerprint(pem_path):
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    return hashlib.sha256(der).hexdigest().upper()


class JoinedNode(Instance):
    """A second node made with `portcullis init --dir B --join A` on its own ports, named
    after its folder (two nodes on one machine would otherwise both take its hostname)."""

    def __init__(self, workdir, source, node_name=None):  # pylint: disable=super-init-not-called
        self.bin = source.bin
        self.workdir = workdir
        self.dir = os.path.join(workdir, "data")
        self.http_port = free_port()
        self.admin_port = free_port()
        self.radius_port = free_port(2)
        self.log_path = os.path.join(workdir, "serve.log")
        self.proc = None
        self.log_file = None
        self.printed = run([self.bin, "init", "--dir", self.dir, "--join", source.dir, "--http-port",
                            str(self.http_port), "--admin-port", str(self.admin_port), "--radius-port",
                            str(self.radius_port), "--node-name",
                            node_name or os.path.basename(workdir)]).stdout
        self.config = os.path.join(self.dir, "portcullis.toml")
        with open(os.path.join(self.dir, "admin.token")) as f:
            self.token = f.read().strip()


class PostgresLedgerTest(PostgresTest):
    DB_PREFIX = "ledger"

    def eapol(self, inst, key, cert):
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n private_key=\"{key}\"\n}}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(inst.radius_port), "-s", nas_secret(inst),
                    "-t", str(EAPOL_TIMEOUT)], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def test_init_enroll_authenticate_and_revoke_on_postgresql(self):
        inst = self.instance(init_args=["--ledger", self.url, "--ledger-password-file", self.password_file],
                             start=False)
        with open(inst.config) as f:
            config = f.read()
        self.assertIn('backend = "postgresql"', config)
        self.assertIn(self.url, config)
        self.assertNotIn(self.pg.password, config)
        self.assertFalse(os.path.exists(os.path.join(inst.dir, "ledger.db")))
        # The CA's own certificates (RA, EAP server, admin) went into PostgreSQL at init.
        self.assertEqual(self.rows("SELECT count(*) FROM certificates"), "3")
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        with open(inst.config, "w") as f:
            f.write(config.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true"))
        inst.start()

        # SCEP with a one-time challenge: the challenge is spent in PostgreSQL.
        challenge = inst.cli("challenge", "--device", "ipad-7", "--cn", "ipad-7", "--ttl", "10m").stdout.strip()
        folder = os.path.join(self.workdir, "ipad")
        os.makedirs(folder)
        url = f"http://127.0.0.1:{inst.http_port}/scep"
        scep = subprocess.run(["scepclient", "-server-url", url, "-ca-fingerprint",
                               sha256_der_fingerprint(inst.ca("ra.pem")), "-private-key",
                               os.path.join(folder, "key.pem"), "-cn", "ipad-7", "-keySize", "2048",
                               "-challenge", challenge], capture_output=True, text=True, timeout=120)
        self.assertEqual(scep.returncode, 0, scep.stdout + scep.stderr)
        self.assertNotEqual(self.rows("SELECT used_at FROM challenges"), "")
        out = self.eapol(inst, os.path.join(folder, "key.pem"), os.path.join(folder, "client.pem"))
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])

        # `portcullis issue`, then revocation: the next authentication is rejected.
        key, csr = make_key_and_csr(self.workdir, "laptop-1", "laptop-1.example.net")
        cert = os.path.join(self.workdir, "laptop-1.pem")
        with open(cert, "w") as f:
            f.write(inst.cli("issue", "--csr", csr, "--device", "laptop-1").stdout)
        out = self.eapol(inst, key, cert)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
        serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip().split("=")[1]
        inst.cli("revoke", "--serial", serial)
        self.assertNotEqual(self.rows(f"SELECT revoked_at FROM certificates WHERE serial = '{serial}'"), "")
        out = self.eapol(inst, key, cert)
        self.assertRegex(out, r"(?m)^FAILURE$", out[-3000:])

        self.assertEqual(self.rows("SELECT count(*) FROM certificates"), "5")
        self.assertEqual(self.rows("SELECT count(*) FROM audit WHERE action = 'issue'"), "5")
        self.assertNotIn(self.pg.password, inst.log())

    def test_two_nodes_revoke_on_a_rejects_on_b_within_a_second(self):
        a = self.instance(init_args=["--ledger", self.url, "--ledger-password-file", self.password_file],
                          start=False)
        folder = os.path.join(self.workdir, "node-b")
        os.makedirs(folder)
        b = JoinedNode(folder, a)
        self.instances.append(b)
        self.assertIn(self.url, b.printed)
        with open(b.config) as f:
            config = f.read()
        self.assertIn(f"auth_port = {b.radius_port}", config)
        self.assertIn(f":{b.http_port}\"", config)
        self.assertEqual(os.stat(b.ca("issuing.key")).st_mode & 0o777, 0o600)
        a.start()
        b.start()

        # Issued on A after B loaded its index: B learns of it from the change feed.
        key, csr = make_key_and_csr(self.workdir, "roamer", "roamer.example.net")
        cert = os.path.join(self.workdir, "roamer.pem")
        with open(cert, "w") as f:
            f.write(a.cli("issue", "--csr", csr, "--device", "roamer").stdout)
        serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip().split("=")[1]
        time.sleep(1.0)
        out = self.eapol(b, key, cert)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])

        a.cli("revoke", "--serial", serial)
        time.sleep(1.0)
        out = self.eapol(b, key, cert)
        self.assertRegex(out, r"(?m)^FAILURE$", out[-3000:])
        out = self.eapol(a, key, cert)
        self.assertRegex(out, r"(?m)^FAILURE$", out[-3000:])

    def test_join_refuses_a_sqlite_node_and_a_ledger_of_another_ca(self):
        binary = os.environ.get("PORTCULLIS_BIN", "portcullis")
        local = self.instance(start=False)
        bad = run([binary, "init", "--dir", os.path.join(self.workdir, "x"), "--join", local.dir], check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("can only join a PostgreSQL ledger", bad.stderr)
        # A's folder pointing at a database that holds another CA's certificates.
        a = self.instance(init_args=["--ledger", self.url, "--ledger-password-file", self.password_file],
                          start=False)
        other = self.pg.create_database(f"other_{self.databases}")
        self.instance(init_args=["--ledger", other, "--ledger-password-file", self.password_file], start=False)
        with open(a.config) as f:
            text = f.read()
        with open(a.config, "w") as f:
            f.write(text.replace(self.url, other))
        bad = run([binary, "init", "--dir", os.path.join(self.workdir, "y"), "--join", a.dir], check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("does not hold the CA of", bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "y")))

    def test_database_stopped_and_started_mid_run(self):
        """RADIUS decides from the index while PostgreSQL is down; issuance fails at once
        with an error and writes nothing; once PostgreSQL is back both work again."""
        inst = self.instance(init_args=["--ledger", self.url, "--ledger-password-file", self.password_file])
        key, csr = make_key_and_csr(self.workdir, "steady", "steady.example.net")
        cert = os.path.join(self.workdir, "steady.pem")
        with open(cert, "w") as f:
            f.write(inst.cli("issue", "--csr", csr, "--device", "steady").stdout)
        self.pg.stop()
        try:
            out = self.eapol(inst, key, cert)
            self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])
            _, csr2 = make_key_and_csr(self.workdir, "during", "during.example.net")
            started = time.monotonic()
            failed = inst.cli("issue", "--csr", csr2, "--device", "during", check=False)
            self.assertNotEqual(failed.returncode, 0, failed.stdout)
            self.assertIn("ledger database is unavailable", failed.stderr)
            self.assertLess(time.monotonic() - started, 20)
            self.assertTrue(eventually(lambda: "cannot follow other nodes' changes" in inst.log(), bool, timeout=10))
        finally:
            self.pg.start()
        self.assertEqual(self.rows("SELECT count(*) FROM devices WHERE name = 'during'"), "0")
        _, csr3 = make_key_and_csr(self.workdir, "after", "after.example.net")
        inst.cli("issue", "--csr", csr3, "--device", "after")
        self.assertEqual(self.rows("SELECT count(*) FROM devices WHERE name = 'after'"), "1")
        self.assertTrue(eventually(lambda: "caught up with the ledger" in inst.log(), bool, timeout=15))
        out = self.eapol(inst, key, cert)
        self.assertRegex(out, r"(?m)^SUCCESS$", out[-3000:])

    def connections(self):
        """This database's Portcullis connections now: (statement connections, listening ones).
        pg_stat_activity.query is a connection's last statement; the change follower's
        connection only ever ran LISTEN."""
        row = self.rows("SELECT count(*) FILTER (WHERE query NOT LIKE 'LISTEN %'), "
                        "count(*) FILTER (WHERE query LIKE 'LISTEN %') FROM pg_stat_activity "
                        f"WHERE datname = '{self.db}' AND application_name = 'portcullis'")
        statements, listening = row.split("|")
        return int(statements), int(listening)

    def test_pool_size_bounds_the_connections_a_node_holds_under_load(self):
        """[ledger] pool_size = 2 under 12 concurrent admin clients (4 admin workers, each
        writing a challenge): the node fills its pool and never opens a third statement
        connection; the change follower's LISTEN connection is the one more."""
        inst = self.instance(init_args=["--ledger", self.url, "--ledger-password-file", self.password_file],
                             start=False)
        with open(inst.config) as f:
            config = f.read()
        with open(inst.config, "w") as f:
            f.write(config.replace("[ledger]\n", "[ledger]\npool_size = 2\n", 1))
        inst.start()
        seen = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                seen.append(self.connections())

        def client(n):
            for i in range(40):
                inst.api("POST", "/challenges", {"device": f"load-{n}-{i}", "ttl_seconds": 600}, expect=201)

        sampler = threading.Thread(target=sample)
        sampler.start()
        clients = [threading.Thread(target=client, args=(n,)) for n in range(12)]
        try:
            for c in clients:
                c.start()
            for c in clients:
                c.join()
        finally:
            stop.set()
            sampler.join()
        self.assertEqual(self.rows("SELECT count(*) FROM challenges"), str(12 * 40))
        self.assertGreater(len(seen), 5)
        self.assertEqual(max(s for s, _ in seen), 2, seen)
        self.assertEqual(max(listening for _, listening in seen), 1, seen)

    def test_init_refuses_a_database_that_holds_a_ca(self):
        self.instance(init_args=["--ledger", self.url, "--ledger-password-file", self.password_file], start=False)
        again = run([os.environ.get("PORTCULLIS_BIN", "portcullis"), "init", "--dir",
                     os.path.join(self.workdir, "second"), "--ledger", self.url, "--ledger-password-file",
                     self.password_file], check=False)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("already holds certificates", again.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "second")))

    def test_password_from_pgpassfile_and_clear_errors(self):
        binary = os.environ.get("PORTCULLIS_BIN", "portcullis")
        # libpq's own password file (https://www.postgresql.org/docs/15/libpq-pgpass.html).
        pgpass = os.path.join(self.workdir, "pgpass")
        fd = os.open(pgpass, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"127.0.0.1:{self.pg.port}:*:portcullis:{self.pg.password}\n")
        env = dict(os.environ, PGPASSFILE=pgpass)
        ok = run([binary, "init", "--dir", os.path.join(self.workdir, "a"), "--ledger", self.url], env=env)
        self.assertIn(self.url, ok.stdout)
        # No password: libpq's message, and the folder is not left half-made.
        other = self.pg.create_database("ledger_nopass")
        env = dict(os.environ, PGPASSFILE=os.path.join(self.workdir, "missing"))
        bad = run([binary, "init", "--dir", os.path.join(self.workdir, "b"), "--ledger", other], env=env, check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("cannot connect to PostgreSQL", bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "b")))
        # A password in the url is refused and not repeated.
        leaky = other.replace("portcullis@", "portcullis:s3cr3t-pw@")
        bad = run([binary, "init", "--dir", os.path.join(self.workdir, "c"), "--ledger", leaky], check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("must not contain a password", bad.stderr)
        self.assertNotIn("s3cr3t-pw", bad.stderr + bad.stdout)
        self.assertIsNone(re.search(r"s3cr3t", bad.stderr))


if __name__ == "__main__":
    main()

"""`portcullis ledger migrate --to postgresql://…` on a real PostgreSQL 15
(tests/integration/postgres.py): a working SQLite node (a scepclient enrollment, issued and
revoked certificates, RADIUS events, audit rows) is copied; the table it prints matches a
checksum computed here from the SQLite file by the documented definition; the node then
runs on PostgreSQL, where the same certificates authenticate with eapol_test and the
revoked one stays rejected. A second migrate into the filled target is refused, and a
migrate killed half-way leaves the target empty and runs again."""

import contextlib
import hashlib
import os
import pty
import re
import signal
import sqlite3
import subprocess
import time

from harness import eventually, issue_through_cli, main, nas_secret, run, serial_of
from postgres import PostgresTest

EAPOL_TIMEOUT = 10
EVENTS = 200000


def sha256_der_fingerprint(pem_path):
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    return hashlib.sha256(der).hexdigest().upper()


def canonical_field(value):
    """docs/operations.md, "Moving the ledger to PostgreSQL": the checksum's text form."""
    if value is None:
        return "\\N"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))


def sqlite_checksums(path):
    """{table: (rows, sha256)} of every table of the SQLite ledger."""
    out = {}
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite%'")]
        for table in tables:
            info = list(db.execute(f'PRAGMA table_info("{table}")'))
            columns = [r[1] for r in info]
            key = [name for _, name in sorted((r[5], r[1]) for r in info if r[5] > 0)] or columns
            digest = hashlib.sha256()
            rows = 0
            sql = f'SELECT {", ".join(columns)} FROM "{table}" ORDER BY {", ".join(key)}'
            for row in db.execute(sql):
                digest.update(("\t".join(canonical_field(v) for v in row) + "\n").encode())
                rows += 1
            out[table] = (rows, digest.hexdigest())
    return out


def printed_table(stdout):
    """{table: (sqlite rows, postgresql rows, check, sha256)} from migrate's table."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s+(\d+)\s+(same|DIFFERENT)\s+(\S+)", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
    return rows


class LedgerMigrateTest(PostgresTest):
    DB_PREFIX = "migrated"

    def migrate(self, inst, check=True, **kw):
        return inst.cli("ledger", "migrate", "--to", self.url, "--password-file", self.password_file, check=check,
                        **kw)

    def eapol(self, inst, key, cert):
        conf = os.path.join(self.workdir, f"eapol-{os.path.basename(cert)}.conf")
        with open(conf, "w") as f:
            f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                    f" ca_cert=\"{inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n private_key=\"{key}\"\n}}\n")
        proc = run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(inst.radius_port), "-s", nas_secret(inst),
                    "-t", str(EAPOL_TIMEOUT)], check=False, timeout=EAPOL_TIMEOUT + 20)
        return proc.stdout + proc.stderr

    def assert_authenticates(self, inst, key, cert, verdict):
        out = self.eapol(inst, key, cert)
        self.assertRegex(out, rf"(?m)^{verdict}$", out[-3000:])

    def enroll_with_scepclient(self, inst):
        challenge = inst.cli("challenge", "--device", "ipad-7", "--cn", "ipad-7", "--ttl", "10m").stdout.strip()
        folder = os.path.join(self.workdir, "ipad")
        os.makedirs(folder)
        scep = subprocess.run(["scepclient", "-server-url", f"http://127.0.0.1:{inst.http_port}/scep",
                               "-ca-fingerprint", sha256_der_fingerprint(inst.ca("ra.pem")), "-private-key",
                               os.path.join(folder, "key.pem"), "-cn", "ipad-7", "-keySize", "2048",
                               "-challenge", challenge], capture_output=True, text=True, timeout=120)
        self.assertEqual(scep.returncode, 0, scep.stdout + scep.stderr)
        return os.path.join(folder, "key.pem"), os.path.join(folder, "client.pem")

    def issue(self, inst, name):
        key, cert = issue_through_cli(inst, self.workdir, name, cn=f"{name}.example.net")
        return key, cert, serial_of(cert)

    def switch_to_postgresql(self, inst):
        with open(inst.config) as f:
            config = f.read()
        config, n = re.subn(r'(?m)^backend = "sqlite".*\npath = "ledger.db"$',
                            f'backend = "postgresql"\nurl = "{self.url}"\npassword_file = "{self.password_file}"',
                            config)
        self.assertEqual(n, 1)
        with open(inst.config, "w") as f:
            f.write(config)

    def test_migrate_a_working_node_and_serve_from_postgresql(self):
        inst = self.instance(start=False)
        with open(inst.config) as f:
            config = f.read()
        # micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1.
        with open(inst.config, "w") as f:
            f.write(config.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true"))
        inst.start()
        ipad = self.enroll_with_scepclient(inst)
        kept = self.issue(inst, "laptop-1")
        revoked = self.issue(inst, "laptop-2")
        inst.cli("revoke", "--serial", revoked[2])
        self.assert_authenticates(inst, *ipad, "SUCCESS")
        self.assert_authenticates(inst, kept[0], kept[1], "SUCCESS")
        self.assert_authenticates(inst, revoked[0], revoked[1], "FAILURE")
        ledger = os.path.join(inst.dir, "ledger.db")
        self.assertTrue(eventually(lambda: inst.count("events") >= 3, bool, timeout=10))
        # A running node's later writes would not be copied: refused until it stops.
        busy = self.migrate(inst, check=False)
        self.assertNotEqual(busy.returncode, 0)
        self.assertIn("stop it first", busy.stderr)
        self.assertEqual(inst.stop(), 0)
        # Text a row's canonical form must escape (tab, newline, backslash).
        with contextlib.closing(sqlite3.connect(ledger)) as db:
            db.execute("INSERT INTO radius_sessions (serial, nas, acct_session_id, user_name, started_at, updated_at) "
                       "VALUES (?, 'loopback', 'sess\t1', 'tab\there\nnew\\line', 1700000000, 1700000000)",
                       (kept[2],))
            db.commit()
        expected = sqlite_checksums(ledger)
        for table in ("audit", "certificates", "challenges", "devices", "events", "scep_transactions", "event_counts",
                      "nodes"):
            self.assertGreater(expected[table][0], 0, table)

        done = self.migrate(inst)
        self.assertNotIn(self.pg.password, done.stdout + done.stderr)
        printed = printed_table(done.stdout)
        self.assertEqual(set(printed), set(expected))
        for table, (rows, digest) in expected.items():
            self.assertEqual(printed[table], (rows, rows, "same", digest), table)
            # Counted by PostgreSQL itself (meta: its schema_version row is PostgreSQL's own).
            where = " WHERE key <> 'schema_version'" if table == "meta" else ""
            self.assertEqual(self.rows(f"SELECT count(*) FROM {table}{where}"), str(rows), table)
        self.assertIn('backend = "postgresql"', done.stdout)
        self.assertIn(self.url, done.stdout)
        self.assertIn(self.password_file, done.stdout)
        # No progress bar on a pipe: one plain line per table.
        self.assertNotIn("\r", done.stdout)
        self.assertIn(f"copied certificates: {expected['certificates'][0]} rows", done.stdout)

        # A second migrate into the now filled database is refused and changes nothing.
        again = self.migrate(inst, check=False)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("of this CA", again.stderr)
        self.assertEqual(self.rows("SELECT count(*) FROM certificates"), str(expected["certificates"][0]))
        # So is one of another CA's node.
        other = self.instance(start=False)
        foreign = self.migrate(other, check=False)
        self.assertNotEqual(foreign.returncode, 0)
        self.assertIn("of another CA", foreign.stderr)

        # The node on PostgreSQL: the same certificates authenticate, the revoked one does not.
        self.switch_to_postgresql(inst)
        inst.start()
        self.assert_authenticates(inst, *ipad, "SUCCESS")
        self.assert_authenticates(inst, kept[0], kept[1], "SUCCESS")
        self.assert_authenticates(inst, revoked[0], revoked[1], "FAILURE")
        # Ids continue after the copied ones (the sequences were set past them).
        old_audit = int(self.rows("SELECT max(id) FROM audit"))
        old_device = int(self.rows("SELECT max(id) FROM devices"))
        fresh = self.issue(inst, "laptop-3")
        self.assert_authenticates(inst, fresh[0], fresh[1], "SUCCESS")
        self.assertGreater(int(self.rows("SELECT min(id) FROM audit WHERE target = 'laptop-3' OR detail LIKE "
                                         f"'%{fresh[2]}%'") or "0"), old_audit)
        self.assertEqual(int(self.rows("SELECT id FROM devices WHERE name = 'laptop-3'")), old_device + 1)
        self.assertNotIn(self.pg.password, inst.log())

    def test_killed_migrate_leaves_the_target_empty_and_runs_again(self):
        inst = self.instance(start=False)
        ledger = os.path.join(inst.dir, "ledger.db")
        # Enough events that the copy is still running when it is killed.
        with contextlib.closing(sqlite3.connect(ledger)) as db:
            db.executemany("INSERT INTO events (at, kind, outcome, detail) VALUES (?, 'radius', 'reject', ?)",
                           ((1700000000 + i, f"event {i}") for i in range(EVENTS)))
            db.commit()
        proc = subprocess.Popen([inst.bin, "--config", inst.config, "ledger", "migrate", "--to", self.url,
                                 "--password-file", self.password_file, "--batch-rows", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            seen = ""
            while "copied device_groups" not in seen:   # events are copied after device_groups
                line = proc.stdout.readline()
                if not line:
                    self.fail("migrate ended early:\n" + seen + proc.stderr.read())
                seen += line
            time.sleep(0.2)
            self.assertIsNone(proc.poll(), "the copy ended before it could be killed")
            self.assertGreater(int(self.rows("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                             "'portcullis' AND state = 'idle in transaction' OR "
                                             "(application_name = 'portcullis' AND state = 'active')")), 0)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        # The server rolls the open transaction back: the tables the copy created are empty.
        self.assertTrue(eventually(lambda: self.rows("SELECT count(*) FROM pg_stat_activity WHERE "
                                                     "application_name = 'portcullis'"), lambda n: n == "0",
                                   timeout=10))
        for table in sqlite_checksums(ledger):
            # meta: only the zero counters and the version the new schema starts with.
            where = (" WHERE key NOT IN ('crl_number', 'scep_refusal_rows', 'schema_version') OR "
                     "(key <> 'schema_version' AND value <> 0)") if table == "meta" else ""
            self.assertEqual(self.rows(f"SELECT count(*) FROM {table}{where}"), "0", table)

        # Run again, on a terminal this time: a progress bar redrawn in place.
        expected = sqlite_checksums(ledger)
        output = self.run_on_terminal([inst.bin, "--config", inst.config, "ledger", "migrate", "--to", self.url,
                                       "--password-file", self.password_file])
        self.assertRegex(output, rf"\r  events\s+\[#+\s*\] \d+/{EVENTS}")
        self.assertIn("Every table has the same rows and checksum on both sides", output)
        printed = printed_table(output.replace("\r", "\n"))
        self.assertEqual(printed["events"], (EVENTS, EVENTS, "same", expected["events"][1]))
        self.assertEqual(self.rows("SELECT count(*) FROM events"), str(EVENTS))

    def run_on_terminal(self, argv):
        leader, follower = pty.openpty()
        proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:   # EIO: the terminal's last writer is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        self.assertEqual(proc.wait(timeout=120), 0, b"".join(chunks).decode(errors="replace")[-3000:])
        return b"".join(chunks).decode(errors="replace")


if __name__ == "__main__":
    main()

"""`portcullis init --ledger postgresql://…` that fails part-way leaves nothing half-made:
no data folder, and in a database that had no ledger tables, none (a second init would
otherwise find a CA whose keys are gone and refuse). Where the tables were there before,
the error says what this init left in them. Real PostgreSQL 15 (tests/integration/postgres.py)."""

import os

from harness import BIN, main, run
from postgres import PostgresTest

# Makes the database refuse init's last write (its "ca.init" audit row), after the CA's
# RA, EAP server and admin certificates are in: an event trigger arms a row trigger on
# `audit` as soon as init creates that table.
REFUSE_CA_INIT = """
CREATE FUNCTION refuse_ca_init() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.action = 'ca.init' THEN RAISE EXCEPTION 'the test refuses the ca.init audit row'; END IF;
  RETURN NEW;
END $$;
CREATE FUNCTION arm_refusal() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('public.audit') IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'refuse_ca_init') THEN
    EXECUTE 'CREATE TRIGGER refuse_ca_init BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION refuse_ca_init()';
  END IF;
END $$;
CREATE EVENT TRIGGER arm_refusal ON ddl_command_end EXECUTE FUNCTION arm_refusal();
"""

LEDGER_OBJECTS = ("SELECT (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public') + "
                  "(SELECT count(*) FROM pg_namespace WHERE nspname = 'portcullis_sync')")


class PostgresInitTest(PostgresTest):
    DB_PREFIX = "init"

    def init(self, name, *extra, check=False):
        return run([BIN, "init", "--dir", os.path.join(self.workdir, name), "--ledger", self.url,
                    "--ledger-password-file", self.password_file, *extra], check=check)

    def test_a_failed_import_leaves_no_ledger_tables(self):
        garbage = os.path.join(self.workdir, "not-a-pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        bad = self.init("a", "--issuing-cert", garbage, "--issuing-key", garbage, "--issuing-chain", garbage)
        self.assertNotEqual(bad.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "a")))
        self.assertEqual(self.rows(LEDGER_OBJECTS), "0")
        self.init("b", check=True)
        self.assertEqual(self.rows("SELECT count(*) FROM certificates"), "3")

    def test_a_database_refusing_part_way_keeps_no_certificates(self):
        self.pg.psql(REFUSE_CA_INIT, db=self.db)
        bad = self.init("a")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("the test refuses the ca.init audit row", bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "a")))
        # The RA, server and admin certificates init had issued went with the tables.
        self.assertEqual(self.rows(LEDGER_OBJECTS), "0")
        self.pg.psql("DROP EVENT TRIGGER arm_refusal", db=self.db)
        ok = self.init("b", check=True)
        self.assertIn(self.url, ok.stdout)
        self.assertEqual(self.rows("SELECT count(*) FROM certificates"), "3")

    def test_tables_that_were_there_before_are_kept_and_the_leftovers_named(self):
        self.init("first", check=True)
        # Empty ledger tables from before (the append-only audit log emptied by its owner).
        self.pg.psql("TRUNCATE certificates, devices, device_groups, challenges, scep_transactions, scep_requests, "
                     "radius_sessions, events CASCADE; ALTER TABLE audit DISABLE TRIGGER audit_no_truncate; "
                     "TRUNCATE audit; ALTER TABLE audit ENABLE TRIGGER audit_no_truncate;" + REFUSE_CA_INIT +
                     "CREATE TRIGGER refuse_ca_init BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION refuse_ca_init();",
                     db=self.db)
        bad = self.init("second")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("the test refuses the ca.init audit row", bad.stderr)
        self.assertIn(f"the ledger at {self.url} keeps the 3 certificates this init issued before it failed",
                      bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "second")))
        self.assertNotIn(self.pg.password, bad.stdout + bad.stderr)


if __name__ == "__main__":
    main()

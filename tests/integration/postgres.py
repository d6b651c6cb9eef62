"""A throw-away PostgreSQL 15 (Debian's `postgresql` package) for the ledger tests: a
cluster in a temporary folder on a free loopback port, stopped and removed afterwards.

One helper for both test suites: the Python integration tests use PostgresServer directly.
The C++ unit tests (tests/unit/support/postgres_server.cpp) use one server for the whole
ctest run, started by the `postgres.start` fixture (`postgres.py start --state FILE`)
and removed by `postgres.stop`; a test binary run by hand runs `python3 postgres.py
serve`, reads the one JSON line it prints, and closes its stdin to stop it (so a
crashed test binary still leaves nothing running).

initdb refuses to run as root, and CI runs as root: the cluster then belongs to the
`postgres` system user, and initdb and postgres run as that user (Popen(user=...), so the
pid we hold is the postmaster's own). Connections over the socket in the temporary folder
are trusted (the tests' own set-up); TCP connections from 127.0.0.1 need the role's
password (scram-sha-256), which is how Portcullis connects, so its password handling is
exercised. fsync is off: the cluster is discarded, and tests should not wait for disks.

Python standard library only."""

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IntegrationTest, free_port  # noqa: E402

PG_BIN = os.environ.get("PORTCULLIS_PG_BIN", "/usr/lib/postgresql/15/bin")
ROLE = "portcullis"


def _as_cluster_owner():
    """Popen keyword arguments that run a command as the cluster's owner."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


class PostgresServer:
    """start() -> url(db) / password / create_database(); stop() and start() again keep
    the data (a database restart mid-test); close() stops and removes everything."""

    def __init__(self, durable=False):
        # durable: fsync on, as in production (the benchmarks); the tests do without.
        self.durable = durable
        self.root = tempfile.mkdtemp(prefix="portcullis-pg-")
        self.data = os.path.join(self.root, "data")
        self.socket_dir = self.root
        self.password = secrets.token_hex(16)
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.root, "postgres.log")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        self._initdb()

    def _initdb(self):
        pwfile = os.path.join(self.root, "pwfile")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            subprocess.run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", ROLE, "--pwfile", pwfile,
                            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                            "--no-sync"],
                           check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.root,
                           **_as_cluster_owner())
        except subprocess.CalledProcessError as e:
            raise RuntimeError("initdb failed:\n" + e.stdout.decode(errors="replace")) from e
        finally:
            os.unlink(pwfile)

    # --- process
    def start(self, timeout=30):
        for _ in range(5):  # the port may be taken between free_port() and the bind
            self.port = self.port or free_port()
            log = open(self.log_path, "ab")
            if os.geteuid() == 0:
                shutil.chown(self.log_path, "postgres", "postgres")
            self.proc = subprocess.Popen(
                [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port), "-k", self.socket_dir,
                 "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "log_min_messages=warning",
                 *([] if self.durable else ["-c", "fsync=off", "-c", "full_page_writes=off"])],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True,
                **_as_cluster_owner())
            log.close()
            if self._wait_ready(timeout):
                return self
            self._reap()
            self.port = None
        raise RuntimeError("postgres did not start:\n" + self.log())

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            ready = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                                    str(self.port)], check=False)
            if ready.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def _reap(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: rolls back, disconnects
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self):
        """Stops the server, keeping its data and port: start() brings it back."""
        self._reap()

    def close(self):
        self._reap()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # --- databases
    def psql(self, sql, db="postgres"):
        """Runs SQL as the superuser over the trusted socket; returns stdout."""
        out = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                              "-h", self.socket_dir, "-p", str(self.port), "-U", ROLE, "-d", db, "-c", sql],
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return out.stdout.decode()

    def create_database(self, name):
        # `name` is the caller's identifier ([a-z0-9_]), quoted anyway.
        self.psql('CREATE DATABASE "%s"' % name.replace('"', '""'))
        return self.url(name)

    def url(self, db="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (ROLE, self.port, db)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class PostgresTest(IntegrationTest):
    """One throw-away PostgreSQL server per test class; each test gets a fresh database
    (`self.db`, `self.url`) and the server's password in a 0600 file (`self.password_file`)."""

    DB_PREFIX = "ledger"

    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresServer().start()
        cls.databases = 0

    @classmethod
    def tearDownClass(cls):
        cls.pg.close()

    def setUp(self):
        super().setUp()
        type(self).databases += 1
        self.db = f"{self.DB_PREFIX}_{self.databases}"
        self.url = self.pg.create_database(self.db)
        self.password_file = os.path.join(self.workdir, "ledger.password")
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.pg.password + "\n")

    def rows(self, sql):
        return self.pg.psql(sql, db=self.db).strip()


def _state(server):
    return {"port": server.port, "url": server.url(), "password": server.password,
            "socket_dir": server.socket_dir, "role": ROLE, "root": server.root, "pid": server.proc.pid}


def start_detached(state_path):
    """For ctest's fixture: start, write the state file, leave the server running."""
    server = PostgresServer()
    try:
        server.start()
    except Exception:
        server.close()
        raise
    fd = os.open(state_path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(_state(server), f)
    os.replace(state_path + ".tmp", state_path)
    server.proc = None  # not ours to stop any more: stop_detached does


def stop_detached(state_path):
    try:
        with open(state_path) as f:
            state = json.load(f)
    except FileNotFoundError:
        return
    pid = state["pid"]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises ProcessLookupError once it is gone
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(state["root"], ignore_errors=True)
    os.unlink(state_path)


def serve():
    """For the C++ tests: start, print one JSON line, stop when stdin closes."""
    server = PostgresServer()
    try:
        server.start()
        print(json.dumps(_state(server)), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            sys.stdin.read()
    finally:
        server.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["serve"]:
        serve()
    elif len(args) == 3 and args[0] in ("start", "stop") and args[1] == "--state":
        (start_detached if args[0] == "start" else stop_detached)(args[2])
    else:
        sys.exit("usage: postgres.py serve | start --state FILE | stop --state FILE")

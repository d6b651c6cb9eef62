#!/usr/bin/env python3
"""SCEP enrollment benchmark: Portcullis next to micromdm's scepserver (docs/performance.md).

  python3 tests/bench/run_scep_bench.py [--build build] [--runs 5] [--count 1000]
          [--concurrency 16] [--skip-portcullis] [--skip-micromdm] [--no-one-time] [--keep]
          [--baseline-bin PATH] [--postgresql [--pool-size N [N ...]]] [--http-workers N]

1. `portcullis init` into a temp folder on free ports (issuing CA P-256, SCEP RA RSA-2048,
   the defaults) and `serve`; `scepserver ca -init -keySize 2048` (micromdm, Debian `scep`:
   its RSA-2048 CA is also its RA) and `scepserver -challenge S` on another free port.
   Both get the same static challenge.
2. For each run and server, bench_scep_load (the same client for both) prepares --count
   PKCSReq messages (RSA-2048 keys, distinct transactionIDs and CNs) before the timed phase,
   POSTs them with --concurrency threads, and reads the server's utime+stime from
   /proc/PID/stat just before and after. Every reply is checked (signature, SUCCESS,
   the certificate is for the request's key and CN, no duplicate serial).
   Portcullis also runs with one-time challenges (minted over the admin API before the
   timed phase), which adds the challenge lookup and redemption to each enrollment.
3. Reported: medians over the runs of server CPU ms per enrollment, enrollments/s, and the
   ratio Portcullis/micromdm; load average before and after.
   With --postgresql, a second Portcullis instance on a PostgreSQL 15 ledger (a throw-away
   cluster, fsync on, tests/integration/postgres.py) takes turns with the SQLite one, and
   the PostgreSQL server's own CPU (the postmaster and its backends) is reported beside it.
   --pool-size 8 16 makes one PostgreSQL node per [ledger] pool_size, each on its own
   database of the same cluster, all taking turns with the SQLite one in every run; for
   each, the connections it holds after the run (its pool's high-water mark: idle
   connections stay open, + the change follower's LISTEN one), and per enrollment the
   cluster's writing transactions, WAL bytes and WAL syncs (pg_stat_wal, read 11 s after
   the run, once the backends have published their statistics).
   --http-workers sets [service] http_workers (the public handler threads that run SCEP;
   0 = four per I/O thread, one I/O thread per core) on every Portcullis node.
   With --baseline-bin, another `portcullis` binary (an earlier build) runs as a third
   server, its own instance, in turn with the others in every run: an A/B of two builds in
   one session, reported as the median of the per-run ratios (the machine's speed drifts
   between runs, less within one).
Benchmarks, not tests: nothing here asserts a timing. Loopback only. Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402  (free ports, init/serve/CLI of the real binary)
from peer_process import PeerProcess  # noqa: E402
from postgres import PostgresServer  # noqa: E402


def log(msg):
    print(msg, flush=True)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Micromdm:
    name = "micromdm"

    def __init__(self, workdir, challenge):
        self.depot = os.path.join(workdir, "micromdm-depot")
        self.port = harness.free_port()
        self.challenge = challenge
        self.process = PeerProcess("scepserver", os.path.join(workdir, "scepserver.out"))
        subprocess.run(["scepserver", "ca", "-init", "-depot", self.depot, "-keySize", "2048",
                        "-organization", "bench", "-country", "US"], check=True, capture_output=True, timeout=120)

    def start(self):
        self.process.start(["scepserver", "-depot", self.depot, "-port", str(self.port), "-challenge", self.challenge,
                            "-allowrenew", "0"], ready=lambda: port_open(self.port))

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        self.process.stop()


def tree_cpu_seconds(pid):
    """utime + stime of `pid` and its children (PostgreSQL's backends), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:   # fields[1]: ppid
            total += int(fields[11]) + int(fields[12])
    return total / tick


class Portcullis:
    def __init__(self, workdir, name="Portcullis", binary=None, init_args=(), database=None, db_name=None,
                 pool_size=None, http_workers=None):
        self.name = name
        self.database = database   # the PostgresServer under a PostgreSQL ledger
        self.db_name = db_name     # its database there
        os.makedirs(workdir, exist_ok=True)
        self.inst = harness.Instance(workdir, init_args, binary=binary)
        with open(self.inst.config) as f:
            config = f.read()
        self.challenge = re.search(r'^static_challenge = "([^"]+)"', config, re.M).group(1)
        if pool_size is not None:
            if "[ledger]\n" not in config:
                raise RuntimeError(f"no [ledger] section in {self.inst.config}")
            config = config.replace("[ledger]\n", f"[ledger]\npool_size = {pool_size}\n", 1)
        if http_workers is not None:
            config, n = re.subn(r"^http_workers = \d+", f"http_workers = {http_workers}", config, count=1, flags=re.M)
            if n != 1:
                raise RuntimeError(f"no http_workers line in {self.inst.config}")
        with open(self.inst.config, "w") as f:
            f.write(config)
        self.port = self.inst.http_port

    def start(self):
        self.inst.start()

    @property
    def pid(self):
        return self.inst.proc.pid

    def mint(self, count, path):
        """One-time challenges over the admin API, one per request, before the timed phase."""
        with open(path, "w") as f:
            for i in range(count):
                _, body = self.inst.api("POST", "/challenges", {"device": f"otc-{os.getpid()}-{time.time_ns()}-{i}",
                                                                "ttl_seconds": 3600}, expect=201)
                f.write(body["challenge"] + "\n")

    def stop(self):
        self.inst.stop()


# PostgreSQL 15's backends publish their statistics (pg_stat_wal) when idle, at most
# every 10 s (PGSTAT_IDLE_INTERVAL in src/backend/utils/activity/pgstat.c).
STATS_SETTLE_S = 11


def pg_counters(server):
    """Cluster-wide: transactions that wrote (transaction ids handed out), WAL bytes, and
    WAL syncs (pg_stat_wal). The other nodes are idle meanwhile but for their heartbeats."""
    out = server.database.psql("SELECT pg_snapshot_xmax(pg_current_snapshot()), "
                               "pg_current_wal_lsn() - '0/0'::pg_lsn, (SELECT wal_sync FROM pg_stat_wal)").strip()
    xids, wal_bytes, syncs = out.split("|")
    return int(xids), int(float(wal_bytes)), int(syncs)


def pg_connections(server):
    """The node's connections now: its pool's high-water mark (+ the follower's LISTEN one)."""
    return int(server.database.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'portcullis' "
                                    f"AND datname = '{server.db_name}'").strip())


def load(gen, server, count, concurrency, prefix, challenge=None, challenges_file=None):
    database = getattr(server, "database", None)
    db_cpu = tree_cpu_seconds(database.proc.pid) if database else None
    counters = pg_counters(server) if database else None
    cmd = [gen, "--port", str(server.port), "--count", str(count), "--concurrency", str(concurrency),
           "--server-pid", str(server.pid), "--cn-prefix", prefix, "--max-seconds", "900"]
    cmd += ["--challenges-file", challenges_file] if challenges_file else ["--challenge", challenge]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    result = None
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    if result is None:
        raise RuntimeError(f"bench_scep_load gave no RESULT (exit {p.returncode}): {p.stdout}\n{p.stderr}")
    result["exit"] = p.returncode
    if database and result["issued"] > 0:
        result["db_cpu_ms_per_enrollment"] = (tree_cpu_seconds(database.proc.pid) - db_cpu) * 1000 / result["issued"]
        result["connections"] = pg_connections(server)
        time.sleep(STATS_SETTLE_S)
        after = pg_counters(server)
        result["commits_per_enrollment"] = (after[0] - counters[0]) / result["issued"]
        result["wal_kib_per_enrollment"] = (after[1] - counters[1]) / 1024 / result["issued"]
        result["wal_syncs_per_enrollment"] = (after[2] - counters[2]) / result["issued"]
    return result


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--skip-portcullis", action="store_true")
    ap.add_argument("--skip-micromdm", action="store_true")
    ap.add_argument("--no-one-time", action="store_true", help="skip the one-time-challenge Portcullis rows")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    ap.add_argument("--baseline-bin", help="another portcullis binary to run alongside, for an A/B of two builds")
    ap.add_argument("--postgresql", action="store_true",
                    help="also a Portcullis on a PostgreSQL ledger (needs Debian's postgresql package)")
    ap.add_argument("--pool-size", type=int, nargs="+", metavar="N",
                    help="with --postgresql: one PostgreSQL node per [ledger] pool_size (default: one, pool_size unset)")
    ap.add_argument("--http-workers", type=int, help="[service] http_workers of every Portcullis node")
    args = ap.parse_args()
    if args.pool_size and not args.postgresql:
        ap.error("--pool-size needs --postgresql")
    if any(n < 1 or n > 256 for n in args.pool_size or []):
        ap.error("--pool-size takes values 1..256, as [ledger] pool_size does")

    build = os.path.abspath(args.build)
    harness.BIN = os.environ.get("PORTCULLIS_BIN", os.path.join(build, "app", "portcullis"))
    gen = os.path.join(build, "tests", "bench", "bench_scep_load")
    for path in (harness.BIN, gen):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: build the portcullis and bench_scep_load targets first")
    if not args.skip_micromdm and shutil.which("scepserver") is None:
        sys.exit("scepserver not found (Debian package `scep`, deploy/install-deps.sh)")

    workdir = tempfile.mkdtemp(prefix="portcullis-scep-bench-")
    servers = []
    pg = None
    try:
        portcullis = Portcullis(workdir, http_workers=args.http_workers)
        if not args.skip_portcullis:
            servers.append(portcullis)
        if args.postgresql:
            pg = PostgresServer(durable=True).start()
            password_file = os.path.join(workdir, "pg.password")
            with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(pg.password + "\n")
            for size in args.pool_size or [None]:
                name = "PostgreSQL" if size is None else f"PG-pool-{size}"
                db = "bench" if size is None else f"bench_pool_{size}"
                servers.append(Portcullis(os.path.join(workdir, name.lower()), name,
                                          init_args=["--ledger", pg.create_database(db), "--ledger-password-file",
                                                     password_file], database=pg, db_name=db, pool_size=size,
                                          http_workers=args.http_workers))
        if args.baseline_bin:
            servers.append(Portcullis(os.path.join(workdir, "baseline"), "baseline", os.path.abspath(args.baseline_bin),
                                      http_workers=args.http_workers))
        if not args.skip_micromdm:
            servers.append(Micromdm(workdir, portcullis.challenge))
        for s in servers:
            s.start()
            log(f"{s.name}: pid {s.pid}, port {s.port}")

        rows = {}   # (server, mode) -> list of results
        log(f"load average before: {loadavg()}")
        for run in range(args.runs):
            # The Portcullis nodes (two builds of an A/B, or the SQLite node and the
            # PostgreSQL ones) take turns going first.
            order = list(servers)
            nodes = [s for s in servers if isinstance(s, Portcullis)]
            if len(nodes) > 1:
                shift = run % len(nodes)
                order = nodes[shift:] + nodes[:shift] + [s for s in servers if not isinstance(s, Portcullis)]
            for s in order:
                modes = ["static"]
                if isinstance(s, Portcullis) and not args.no_one_time:
                    modes.append("one-time")
                for mode in modes:
                    prefix = f"{s.name.lower()}-r{run}-{mode}"
                    if mode == "one-time":
                        path = os.path.join(workdir, f"challenges-{run}.txt")
                        s.mint(args.count, path)
                        r = load(gen, s, args.count, args.concurrency, prefix, challenges_file=path)
                    else:
                        r = load(gen, s, args.count, args.concurrency, prefix, challenge=s.challenge
                                 if isinstance(s, Portcullis) else portcullis.challenge)
                    rows.setdefault((s.name, mode), []).append(r)
                    log(f"run {run + 1}/{args.runs} {s.name} {mode}: ok {r['ok']}/{r['count']} (issued {r['issued']}) "
                        f"server CPU {r.get('server_cpu_ms_per_enrollment', float('nan')):.3f} ms/enrollment, "
                        f"{r['per_s']:.0f}/s, client CPU {r['client_cpu_s']:.2f} s, load {loadavg()}"
                        + (f", PostgreSQL CPU {r['db_cpu_ms_per_enrollment']:.3f} ms/enrollment, "
                           f"{r['commits_per_enrollment']:.2f} writing transactions, "
                           f"{r['wal_kib_per_enrollment']:.1f} KiB WAL and {r['wal_syncs_per_enrollment']:.2f} WAL "
                           f"syncs/enrollment, {r['connections']} connections held"
                           if "db_cpu_ms_per_enrollment" in r else "")
                        + (f", failures {r['failures']}" if r["failed"] else ""))
        log(f"load average after: {loadavg()}")

        log("\nmedians over %d runs, %d enrollments each, concurrency %d:" % (args.runs, args.count, args.concurrency))
        med = {}
        for (name, mode), results in rows.items():
            # The CPU figure counts every reply that carried a valid certificate (the
            # server's work), duplicate serials included; those are reported beside it.
            timed = [r for r in results if r["issued"] > 0]
            if not timed:
                log(f"  {name} {mode}: no certificate issued in any run; no figure")
                continue
            cpu = statistics.median(r["server_cpu_ms_per_enrollment"] for r in timed)
            rate = statistics.median(r["per_s"] for r in timed)
            med[(name, mode)] = cpu
            failures = {}
            for r in results:
                for why, n in r["failures"].items():
                    failures[why] = failures.get(why, 0) + n
            db = [r["db_cpu_ms_per_enrollment"] for r in timed if "db_cpu_ms_per_enrollment" in r]
            db_text = ""
            if db:
                db_text = (f" + PostgreSQL {statistics.median(db):.3f} ms, "
                           f"{statistics.median(r['commits_per_enrollment'] for r in timed):.2f} writing "
                           f"transactions, {statistics.median(r['wal_kib_per_enrollment'] for r in timed):.1f} KiB WAL and "
                           f"{statistics.median(r['wal_syncs_per_enrollment'] for r in timed):.2f} WAL syncs per "
                           f"enrollment, at most {max(r['connections'] for r in timed)} connections held")
            log(f"  {name:10} {mode:8}: server CPU {cpu:.3f} ms/enrollment{db_text}, {rate:.0f} enrollments/s; "
                f"{sum(r['ok'] for r in results)}/{sum(r['count'] for r in results)} correct"
                + (f", failures over all runs: {failures}" if failures else ""))
        base = med.get(("micromdm", "static"))
        for (name, mode), cpu in med.items():
            if name == "Portcullis" and base:
                log(f"  ratio Portcullis {mode} / micromdm static: {cpu / base:.2f}")
        for s in servers:
            if getattr(s, "database", None) is None or ("Portcullis", "static") not in rows:
                continue
            pairs = list(zip(rows[("Portcullis", "static")], rows[(s.name, "static")]))
            rates = [b["per_s"] / a["per_s"] for a, b in pairs if a["issued"] > 0 and b["issued"] > 0]
            cpus = [b["server_cpu_ms_per_enrollment"] / a["server_cpu_ms_per_enrollment"] for a, b in pairs
                    if a["issued"] > 0 and b["issued"] > 0]
            if rates:
                log(f"  {s.name} / SQLite, static, per run: enrollments/s {' '.join(f'{x:.3f}' for x in rates)}, "
                    f"median {statistics.median(rates):.3f}; Portcullis CPU per enrollment median "
                    f"{statistics.median(cpus):.3f}")
        if ("Portcullis", "static") in rows and ("baseline", "static") in rows:
            pairs = zip(rows[("Portcullis", "static")], rows[("baseline", "static")])
            ratios = [a["server_cpu_ms_per_enrollment"] / b["server_cpu_ms_per_enrollment"] for a, b in pairs
                      if a["issued"] > 0 and b["issued"] > 0]
            if ratios:
                log(f"  Portcullis / baseline, static, per run: {' '.join(f'{x:.3f}' for x in ratios)}; "
                    f"median {statistics.median(ratios):.3f}, lower in {sum(x < 1 for x in ratios)} of {len(ratios)}")
        failed = any(r["failed"] for results in rows.values() for r in results)
        return 1 if failed else 0
    finally:
        for s in servers:
            s.stop()
        if pg:
            pg.close()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Start-up: loading the in-memory identity index from 1 M certificates, SQLite vs
PostgreSQL (docs/performance.md).

  python3 tests/bench/run_index_load_bench.py [--build build] [--count 1000000] [--runs 5]

1. `portcullis init` twice: one node on SQLite, one on a throw-away PostgreSQL 15
   (tests/integration/postgres.py, fsync on). Both ledgers get the same rows by one bulk
   SQL statement each (a recursive CTE in SQLite, generate_series in PostgreSQL; not
   issuance): 1,000 devices (1 % disabled) and --count certificates (1 % revoked, 5 %
   expired, 704-byte DER), then VACUUM ANALYZE / ANALYZE.
2. bench_index_load, a fresh process each time, opens the ledger and times
   IdentityIndex::load (what `serve` does at start) and its RSS growth. One untimed load
   per backend warms the caches; then the backends take turns, --runs times each.
3. Reported: medians per backend and the ratio PostgreSQL/SQLite.
Benchmarks, not tests: nothing here asserts a timing. Standard library only.
"""

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from postgres import PostgresServer  # noqa: E402

DEVICES = 1000


def certificate_rows(now, sql_dialect):
    """The SELECT list of one certificate row numbered i; the same values in both dialects."""
    if sql_dialect == "sqlite":
        serial = "'4' || printf('%031X', i)"
        fingerprint = "printf('%064X', i)"
        der = "randomblob(704)"
        text = "CAST(i AS TEXT)"
    else:
        serial = "'4' || lpad(upper(to_hex(i)), 31, '0')"
        fingerprint = "lpad(upper(to_hex(i)), 64, '0')"
        der = "decode(repeat(md5(i::text), 44), 'hex')"
        text = "i::text"
    device = f"(i % {DEVICES})"
    return (f"{serial}, (SELECT id FROM devices WHERE name = 'bench-device-' || {device}), 'device', "
            f"'CN=bench-device-' || {text} || ',O=Portcullis Bench', '[]', {fingerprint}, {now - 86400}, "
            f"CASE WHEN i % 20 = 7 THEN {now - 3600} ELSE {now + 365 * 86400} END, {now - 86400}, "
            f"CASE WHEN i % 100 = 3 THEN {now - 60} END, CASE WHEN i % 100 = 3 THEN 1 END, {der}")


COLUMNS = ("serial, device_id, profile, subject, sans, sha256_fingerprint, not_before, not_after, issued_at, "
           "revoked_at, revocation_reason, der")


def fill_sqlite(path, count, now):
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA synchronous = OFF")
        db.execute(f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {DEVICES - 1}) "
                   f"INSERT INTO devices (name, enabled, created_at) "
                   f"SELECT 'bench-device-' || i, i % 100 <> 0, {now} FROM s")
        db.execute(f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) "
                   f"INSERT INTO certificates ({COLUMNS}) SELECT {certificate_rows(now, 'sqlite')} FROM s")
    with sqlite3.connect(path) as db:
        db.execute("ANALYZE")


def fill_postgresql(pg, db, count, now):
    pg.psql(f"INSERT INTO devices (name, enabled, created_at) SELECT 'bench-device-' || i, i % 100 <> 0, {now} "
            f"FROM generate_series(0, {DEVICES - 1}) i;"
            f"INSERT INTO certificates ({COLUMNS}) SELECT {certificate_rows(now, 'postgresql')} "
            f"FROM generate_series(1, {count}) i;", db=db)
    pg.psql("VACUUM ANALYZE", db=db)


def load(tool, args):
    p = subprocess.run([tool, *args], capture_output=True, text=True, timeout=1800)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"bench_index_load gave no RESULT (exit {p.returncode}): {p.stdout}{p.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--count", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    binary = os.path.join(build, "app", "portcullis")
    tool = os.path.join(build, "tests", "bench", "bench_index_load")
    for path in (binary, tool):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: build the portcullis and bench_index_load targets first")

    workdir = tempfile.mkdtemp(prefix="portcullis-index-load-")
    pg = PostgresServer(durable=True).start()
    try:
        now = int(time.time())
        password_file = os.path.join(workdir, "pg.password")
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(pg.password + "\n")
        url = pg.create_database("bench")
        subprocess.run([binary, "init", "--dir", os.path.join(workdir, "sqlite")], check=True, capture_output=True)
        subprocess.run([binary, "init", "--dir", os.path.join(workdir, "postgresql"), "--ledger", url,
                        "--ledger-password-file", password_file], check=True, capture_output=True)
        ledger = os.path.join(workdir, "sqlite", "ledger.db")
        started = time.monotonic()
        fill_sqlite(ledger, args.count, now)
        print(f"SQLite filled in {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        fill_postgresql(pg, "bench", args.count, now)
        print(f"PostgreSQL filled in {time.monotonic() - started:.1f} s", flush=True)

        backends = {"sqlite": ["--sqlite", ledger],
                    "postgresql": ["--postgresql", url, "--password-file", password_file]}
        for name, a in backends.items():
            warm = load(tool, a)
            print(f"warm-up {name}: {warm}", flush=True)
        results = {name: [] for name in backends}
        print(f"load average before: {os.getloadavg()}", flush=True)
        for run in range(args.runs):
            order = list(backends) if run % 2 == 0 else list(backends)[::-1]
            for name in order:
                r = load(tool, backends[name])
                results[name].append(r)
                print(f"run {run + 1}/{args.runs} {name}: {r['certificates']} certificates, load {r['load_s']:.3f} s, "
                      f"RSS +{r['rss_growth_kib'] / 1024:.1f} MiB", flush=True)
        print(f"load average after: {os.getloadavg()}")
        med = {name: (statistics.median(r["load_s"] for r in rs), statistics.median(r["rss_growth_kib"] for r in rs))
               for name, rs in results.items()}
        print(f"\nmedians of {args.runs} runs, {args.count} certificates:")
        for name, (seconds, kib) in med.items():
            print(f"  {name:10}: index load {seconds:.3f} s ({args.count / seconds:,.0f} rows/s), "
                  f"RSS growth {kib / 1024:.1f} MiB")
        ratios = [p["load_s"] / s["load_s"] for s, p in zip(results["sqlite"], results["postgresql"])]
        print(f"  PostgreSQL/SQLite load time per run: {' '.join(f'{x:.2f}' for x in ratios)}; "
              f"median {statistics.median(ratios):.2f}")
        return 0
    finally:
        pg.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

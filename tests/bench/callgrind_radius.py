#!/usr/bin/env python3
"""Server instructions per EAP-TLS handshake, counted by callgrind (docs/performance.md).

  python3 tests/bench/callgrind_radius.py [--build build] [--count 50] [--modes full-1.3,...]
          [--server portcullis|freeradius] [--events on|off|on,off] [--keep] [--annotate N]
          [--ledger sqlite|postgresql|sqlite,postgresql]

CPU-time figures on a shared 2-core machine move with the load; instruction counts do not.
This starts `portcullis serve` under `valgrind --tool=callgrind`, issues a P-256 client
certificate, and for each mode (full/resumed x TLS 1.3/1.2) runs bench_eap_load (every
conversation checked: Access-Accept, EAP-Success, MPPE keys = MSK) between two
`callgrind_control --dump` calls, so each dump holds exactly one mode's conversations.
Reported: instructions (Ir) per conversation, all threads of the server, kernel excluded.
--server freeradius counts FreeRADIUS 3.2 the same way (run_radius_bench.py's private
configuration with the same certificates; Portcullis then runs normally, only to issue the
client certificate), so the two servers can be compared whatever the machine's load.

A resumed run starts with one full handshake (concurrency 1: one slot, one warm-up); its
instructions, taken from the full run of the same TLS version, are subtracted (FreeRADIUS is
offered its warm-up session every time: run_radius_bench.py, FreeRadius.resume_flags).
--events off runs Portcullis with `[events] enabled = false`; --events on,off runs it once
each way (a fresh instance each) and prints what the events cost per conversation: the A/B
of docs/performance.md on one build.
--ledger sqlite,postgresql runs Portcullis once on each ledger (PostgreSQL: a throw-away
PostgreSQL 15, tests/integration/postgres.py) and prints what the PostgreSQL ledger changes
per conversation. The count is the Portcullis process only, all its threads: its ledger
writer threads and the change-feed follower (which reads the ledger at least once a second)
included, the PostgreSQL server excluded.
--annotate N prints the N most expensive functions (inclusive) of each dump.
Needs valgrind (Debian `valgrind`). A benchmark, not a test: nothing is asserted.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import run_radius_bench as bench  # noqa: E402
from postgres import PostgresServer  # noqa: E402

MODES = {"full-1.3": ("full", "1.3"), "full-1.2": ("full", "1.2"),
         "resumed-1.3": ("resumed", "1.3"), "resumed-1.2": ("resumed", "1.2")}


def dump_totals(path):
    """The `totals:`/`summary:` Ir of one callgrind dump file."""
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def dump(pid, outdir, before):
    # The events of the conversations just run are written by the event writer's thread
    # every second: let it catch up, so each dump holds its own mode's rows.
    time.sleep(2.5)
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True, timeout=120)
    deadline = time.time() + 60
    while time.time() < deadline:
        new = set(glob.glob(os.path.join(outdir, "callgrind.out*"))) - before
        if new:
            time.sleep(0.5)  # let callgrind finish writing
            return sorted(new)
        time.sleep(0.2)
    raise RuntimeError("callgrind did not write a dump")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--server", choices=("portcullis", "freeradius"), default="portcullis")
    ap.add_argument("--modes", default="full-1.3,full-1.2,resumed-1.3,resumed-1.2")
    ap.add_argument("--annotate", type=int, default=0)
    ap.add_argument("--events", default="on", help="on, off, or on,off for an A/B")
    ap.add_argument("--ledger", default="sqlite", help="sqlite, postgresql, or sqlite,postgresql for an A/B")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    modes = [m for m in a.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}; one of {', '.join(MODES)}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind/callgrind_control not found (Debian package valgrind)", file=sys.stderr)
        return 2

    harness.BIN = os.path.join(a.build, "app", "portcullis")
    settings = [e for e in a.events.split(",") if e]
    if any(e not in ("on", "off") for e in settings) or not settings:
        ap.error("--events takes on, off or on,off")
    if a.server == "freeradius" and settings != ["on"]:
        ap.error("--events is for --server portcullis")
    ledgers = [x for x in a.ledger.split(",") if x]
    if any(x not in ("sqlite", "postgresql") for x in ledgers) or not ledgers:
        ap.error("--ledger takes sqlite, postgresql or sqlite,postgresql")
    if len(ledgers) > 1 and len(settings) > 1:
        ap.error("one A/B at a time: --events on,off or --ledger sqlite,postgresql")
    if len(ledgers) > 1:
        per_ledger = {}
        for ledger in ledgers:
            print(f"ledger {ledger}:", flush=True)
            per_ledger[ledger] = run_once(a, modes, settings[0] == "on", ledger)
        print("what the PostgreSQL ledger changes (postgresql vs sqlite):")
        for m in modes:
            pg, lite = per_ledger["postgresql"][m], per_ledger["sqlite"][m]
            print(f"{m:<12} {pg / 1e6:8.3f} M vs {lite / 1e6:8.3f} M  {pg - lite:+9.0f} instructions  "
                  f"{100.0 * (pg - lite) / lite:+6.2f} %", flush=True)
        return 0
    results = {}
    for events in settings:
        if len(settings) > 1:
            print(f"events {events}:", flush=True)
        results[events] = run_once(a, modes, events == "on", ledgers[0])
    if len(results) == 2:
        print("what the events add (on vs off):")
        for m in modes:
            on, off = results["on"][m], results["off"][m]
            print(f"{m:<12} {on / 1e6:8.3f} M vs {off / 1e6:8.3f} M  {on - off:+9.0f} instructions  "
                  f"{100.0 * (on - off) / off:+6.2f} %", flush=True)
    return 0


def disable_events(config):
    """`[events] enabled = false` in an `init`-written config."""
    with open(config) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^(\[events\][^\n]*\n)enabled = true", r"\1enabled = false", text)
    if n != 1:
        raise RuntimeError("no `enabled = true` under [events] in " + config)
    with open(config, "w") as f:
        f.write(text)


def run_once(a, modes, events_enabled, ledger="sqlite"):
    harness.BIN = os.path.join(a.build, "app", "portcullis")
    gen = os.path.join(a.build, "tests", "bench", "bench_eap_load")
    workdir = tempfile.mkdtemp(prefix="portcullis-callgrind-")
    outdir = os.path.join(workdir, "cg")
    os.makedirs(outdir)
    pg = None
    init_args = []
    if ledger == "postgresql":
        pg = PostgresServer(durable=True).start()
        password_file = os.path.join(workdir, "pg.password")
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(pg.password + "\n")
        init_args = ["--ledger", pg.create_database("bench"), "--ledger-password-file", password_file]
    inst = harness.Instance(os.path.join(workdir, "pc"), init_args)
    if not events_enabled:
        disable_events(inst.config)
    proc = None
    try:
        log = open(os.path.join(workdir, "server.log"), "ab")
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={outdir}/callgrind.out.%p"]
        server = bench.Portcullis(inst)
        if a.server == "portcullis":
            proc = subprocess.Popen([*valgrind, harness.BIN, "--config", inst.config, "serve"], stdout=log,
                                    stderr=subprocess.STDOUT)
            inst.proc = proc  # bench.load() reads the pid from here
        else:
            inst.start()
        deadline = time.time() + 180
        while not bench.status_server_ok(server.port, server.secret, timeout=5):
            if inst.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"portcullis did not start; see {workdir}")
            time.sleep(1)
        # The CLI issues through the admin API of the running server.
        key, csr = harness.make_key_and_csr(workdir, "client", "bench-client")
        client = os.path.join(workdir, "client.pem")
        with open(client, "w") as f:
            f.write(inst.cli("issue", "--csr", csr, "--device", "bench-device").stdout)
        certs = {"root": inst.ca("root.pem"), "issuing": inst.ca("issuing.pem"), "chain": inst.ca("chain.pem"),
                 "server": inst.ca("server.pem"), "server_key": inst.ca("server.key"),
                 "client": client, "client_key": key}
        if a.server == "freeradius":
            server = bench.FreeRadius(workdir, harness.free_port(), server.secret, certs)
            proc = subprocess.Popen([*valgrind, "freeradius", "-f", "-d", server.dir], stdout=log,
                                    stderr=subprocess.STDOUT)
            server.process.proc = proc
            deadline = time.time() + 300
            while not bench.status_server_ok(server.port, server.secret, timeout=5):
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"freeradius under callgrind did not start; see {workdir}/server.log")
                time.sleep(1)
        # Warm every lazy initialisation (provider fetches, caches) before counting.
        for tls in ("1.3", "1.2"):
            bench.load(gen, server, certs, tls, 4, 1, extra=["--timeout-ms", "20000"])
        seen = set(dump(proc.pid, outdir, set()))
        per = {}
        for m in modes:
            kind, tls = MODES[m]
            r = bench.load(gen, server, certs, tls, a.count, 1, resume=(kind == "resumed"),
                           extra=["--timeout-ms", "20000"])
            files = dump(proc.pid, outdir, seen)
            seen |= set(files)
            if r["exit"] != 0 or r["completed"] != a.count:
                raise RuntimeError(f"{m}: {r['completed']}/{a.count} completed, failures {r['failures']}")
            total = sum(dump_totals(p) for p in files)
            ir = total / a.count
            note = ""
            if kind == "resumed":
                full = per.get(f"full-{tls}")
                if full is not None:
                    ir = (total - full) / a.count
                    note = " (minus the one warm-up full handshake)"
                else:
                    note = " (includes one warm-up full handshake; run full-" + tls + " first to subtract it)"
            per[m] = ir
            print(f"{m:<12} {ir / 1e6:8.3f} M instructions per conversation{note}  [{a.count} conversations]",
                  flush=True)
            if a.annotate:
                for p in files:
                    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", p], capture_output=True, text=True)
                    lines = [ln for ln in ann.stdout.splitlines() if re.match(r"^\s*[\d,]+ \(", ln)]
                    print("\n".join(lines[:a.annotate]))
        return per
    finally:
        if a.server == "freeradius" and inst.proc is not None:
            inst.stop()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if pg is not None:
            pg.close()
        if a.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

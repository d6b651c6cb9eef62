#!/usr/bin/env python3
"""kill -9 of `portcullis serve` during a mixed burst, again and again.

  python3 tests/faults/kill9.py [--kills 20] [--bin build/app/portcullis] [--keep]

The workload (workload.py) runs SCEP enrollments (scepclient), admin-API issuances and
revocations, EAP-TLS authentications (eapol_test) and accounting (radclient) without pause.
Every 1.5-4 s (random) the service gets SIGKILL; with it down, the ledger is checked against
everything the clients were told so far:
  - PRAGMA integrity_check is ok (and foreign_key_check is empty);
  - every certificate a client received is in the ledger exactly once, with the DER it got;
    no serial was received twice;
  - every revocation the admin API answered 2xx is in the ledger;
  - every Accounting-Response older than ACCT_GRACE s is a stored row (younger ones may be
    lost: the response precedes the disk write by design, radius/accounting.hpp).
Then the service is restarted and the next round begins. At the end, with the service up,
the identity index agrees: each received certificate is known, each acknowledged revocation holds,
and EAP-TLS succeeds again after every restart. Exit status 0 when everything held.
The suite runs the short form (ctest faults_kill9, 3 kills); the issue's full form is
--kills 20."""

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time

from workload import Workload, enable_legacy_scep, eapol, harness
import ledger_checks

ACCT_GRACE = 2.0


def log(msg):
    print(msg, flush=True)


def check_down(inst, work, kills):
    """The ledger checks with the service down; returns (problems, accounting lost in the window)."""
    with work.acks.lock:
        received = dict(work.acks.certificates)
        duplicates = list(work.acks.duplicates)
        revoked = dict(work.acks.revoked)
        acked = dict(work.acks.accounting)
    with ledger_checks.open_ledger(os.path.join(inst.dir, "ledger.db")) as db:
        problems = ledger_checks.integrity(db)
        problems += ledger_checks.certificates(db, received, duplicates)
        problems += ledger_checks.revocations(db, revoked)
        acct_problems, window_lost = ledger_checks.accounting(db, acked, kills, ACCT_GRACE)
    return problems + acct_problems, window_lost


def check_up(inst, work):
    """With the service up: its identity index agrees with what clients were told."""
    problems = []
    with work.acks.lock:
        received = dict(work.acks.certificates)
        revoked = set(work.acks.revoked)
    for serial in received:
        _, ident = inst.api("GET", f"/identity/{serial}", expect=200)
        # A revocation whose answer a kill cut off may or may not have been done.
        allowed = {"revoked"} if serial in revoked else {"good", "revoked"}
        if ident["verdict"] not in allowed:
            problems.append(f"identity {serial}: {ident['verdict']}, expected {' or '.join(sorted(allowed))}")
    return problems


def eap_after_restart(inst, work):
    """One EAP-TLS authentication right after a restart must succeed (a retry or two while
    the workload's own attempts compete for the two cores)."""
    for _ in range(3):
        if eapol(inst, work.eap_conf, timeout=10)[1]:
            return []
    return ["EAP-TLS fails after the restart"]


def run(kills, workdir):
    inst = harness.Instance(workdir)
    enable_legacy_scep(inst)
    inst.start()
    try:
        return run_started(inst, kills, workdir)
    except BaseException:
        if inst.proc is not None:  # no server left behind when the script itself fails
            inst.proc.kill()
            inst.proc.wait()
        raise


def run_started(inst, kills, workdir):
    work = Workload(inst, os.path.join(workdir, "load")).start()
    problems, lost_total, rounds, kill_times = [], 0, [], []
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    try:
        for i in range(kills):
            time.sleep(rng.uniform(1.5, 4.0))
            inst.proc.send_signal(signal.SIGKILL)
            inst.proc.wait()
            kill_times.append(time.time())
            time.sleep(0.5)  # answers already sent reach their clients
            found, lost_total = check_down(inst, work, kill_times)
            started = time.time()
            inst.stop()
            inst.start()
            restart_s = time.time() - started
            found += eap_after_restart(inst, work)
            rounds.append(restart_s)
            log(f"kill {i + 1}/{kills}: {work.acks.summary()}; restart {restart_s:.2f} s; "
                f"acknowledged accounting lost so far: {lost_total}; problems: {len(found)}")
            problems += [f"kill {i + 1}: {p}" for p in found]
            if found:
                break
        time.sleep(1.0)
    finally:
        work.stop_event.set()
    work.stop()
    if not problems:
        problems += check_up(inst, work)
        inst.proc.send_signal(signal.SIGKILL)  # and once more after the load stopped
        inst.proc.wait()
        kill_times.append(time.time())
        found, lost_total = check_down(inst, work, kill_times)
        problems += found
    inst.stop()
    acks = work.acks
    log(f"{kills} kills: {acks.summary()}; restart median {sorted(rounds)[len(rounds) // 2]:.2f} s, "
        f"max {max(rounds):.2f} s; EAP-TLS {acks.eap_latency()}; acknowledged accounting lost in the {ACCT_GRACE} s before a kill: {lost_total}")
    if not (acks.certificates and acks.revoked and acks.accounting and acks.eap["success"]):
        problems.append("the workload did not get going: " + acks.summary())
    if not any(s.startswith("scep") for s in os.listdir(os.path.join(workdir, "load"))):
        problems.append("no SCEP enrollment was attempted")
    return problems, inst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--bin", default=os.environ.get("PORTCULLIS_BIN", "build/app/portcullis"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    harness.BIN = os.path.abspath(args.bin)
    workdir = tempfile.mkdtemp(prefix="portcullis-kill9-")
    problems, inst = run(args.kills, workdir)
    if problems:
        print("\n".join(["FAILED:"] + problems[:50]), file=sys.stderr)
        print(f"server log: {inst.log_path}", file=sys.stderr)
        return 1
    log("held: integrity, every received certificate once, every acknowledged revocation")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The disk under the ledger fills up while the service runs, then space is freed.

  python3 tests/faults/disk_full.py [--bin build/app/portcullis] [--keep]

The ledger (ledger.db and its WAL) lives on its own small tmpfs (`mount -t tmpfs`, which
needs root with CAP_SYS_ADMIN; where mount is refused the script exits 77, which ctest reports
as skipped, saying why). A tmpfs rather than RLIMIT_FSIZE: the limit would also cut the
server's log and could not be lifted from outside to show recovery. A filler file takes every free block;
then, with the disk full:
  - admin-API issuance and revocation answer 503 with a clear error (never 500, never a
    crash) and write nothing: no certificate, no device, no revocation;
  - SCEP enrollment (scepclient) gets a pkiStatus FAILURE and no certificate;
  - EAP-TLS with an existing certificate still authenticates (reads need no space);
  - accounting is not answered once a write has found the disk full (RFC 2866 §2; the
    first record after the disk filled is answered before its write fails, and lost);
  - the process stays up and GET /api/v1/health answers.
The filler is deleted and, without a restart, issuance, revocation and SCEP work again and
the NAS's retransmission of the unanswered accounting record is answered and stored;
PRAGMA integrity_check is ok and every certificate a client received is in the ledger
exactly once."""

import argparse
import contextlib
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from workload import Workload, eapol, enable_legacy_scep, fingerprint, harness, serial_of_pem
import ledger_checks

FS_SIZE = "4m"
NO_MOUNT = 77  # the exit status when this environment cannot mount (ctest SKIP_RETURN_CODE)


def log(msg):
    print(msg, flush=True)


def mount_tmpfs(path, size):
    os.makedirs(path)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"SKIPPED: cannot mount a tmpfs for the ledger (root with CAP_SYS_ADMIN needed): {r.stderr.strip()}",
              file=sys.stderr)
        sys.exit(NO_MOUNT)


def fill(path):
    """Writes `path` until the file system refuses one more byte; returns its size."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            block = b"\0" * chunk
            while True:
                try:
                    n = f.write(block)  # a short write when the file system is nearly full
                    written += n
                    if n < chunk:
                        break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return written


def move_ledger(inst, fs):
    """ledger.db onto the tmpfs; the config names it there."""
    for suffix in ("", "-wal", "-shm"):
        src = os.path.join(inst.dir, "ledger.db" + suffix)
        if os.path.exists(src):
            shutil.move(src, os.path.join(fs, "ledger.db" + suffix))
    with open(inst.config) as f:
        text = f.read()
    text = re.sub(r'(?m)^(\[ledger\](?:\n[^\[].*)*?\npath = )"[^"]*"', rf'\1"{fs}/ledger.db"', text)
    with open(inst.config, "w") as f:
        f.write(text)
    return os.path.join(fs, "ledger.db")


def ledger_rows(db_path):
    with ledger_checks.open_ledger(db_path) as db:
        return {"certificates": db.execute("SELECT count(*) FROM certificates").fetchone()[0],
                "revoked": db.execute("SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL").fetchone()[0],
                "devices": db.execute("SELECT count(*) FROM devices").fetchone()[0]}


class Check:
    def __init__(self):
        self.problems = []

    def that(self, ok, what):
        log(("held:   " if ok else "BROKEN: ") + what)
        if not ok:
            self.problems.append(what)


def issue(work, device):
    status, body = work._admin("POST", "/certificates", {"csr": work.csr, "device": device, "create_device": True})
    if status == 201:
        answer = json.loads(body)
        work.acks.certificate(answer["serial"], fingerprint(answer["certificate"]))
        return status, answer["serial"]
    return status, body.decode(errors="replace")


def accounting(work, session):
    """One radclient Accounting-Request Start (no retry): answered or not."""
    r = subprocess.run(["radclient", "-r", "1", "-t", "1", "--", f"127.0.0.1:{work.inst.radius_port + 1}", "acct",
                        work.secret], input=f'Acct-Status-Type = Start\nAcct-Session-Id = "{session}"\n',
                       capture_output=True, text=True, timeout=20)
    return "Received Accounting-Response" in r.stdout


def stored_sessions(db_path):
    with ledger_checks.open_ledger(db_path) as db:
        return {row[0] for row in db.execute("SELECT acct_session_id FROM radius_sessions")}


def scep(work, n):
    before = len(work.acks.certificates)
    work._scep(n)
    return len(work.acks.certificates) > before


def while_full(inst, work, db_path, check, victim):
    pid = inst.proc.pid
    rows = ledger_rows(db_path)
    answers = [issue(work, f"full-{i}") for i in range(5)]
    check.that(all(s == 503 and "disk is full" in b for s, b in answers),
               f"admin issuance answers 503 'disk is full': {[(s, b[:80]) for s, b in answers]}")
    status, body = work._admin("POST", f"/certificates/{victim}/revoke", {"reason": "superseded"})
    check.that(status == 503, f"admin revocation answers 503: {status} {body[:120]!r}")
    check.that(not scep(work, 1), "SCEP enrollment (scepclient) gets no certificate")
    check.that("PKIOperation not done, the ledger's disk is full" in inst.log(),
               "SCEP answered 503 'ledger is full' (server log), not 500")
    check.that(eapol(inst, work.eap_conf, timeout=10)[1],
               "EAP-TLS with an existing certificate succeeds")
    # The first record after the disk filled is answered before its write fails (the
    # answer does not wait for the disk); from then on none is (RFC 2866 §2).
    accounting(work, "full-0")
    time.sleep(0.5)
    check.that(not any(accounting(work, "full-1") for _ in range(2)),
               "accounting is not answered once a write found the disk full (the NAS retransmits)")
    status, _ = inst.http("GET", "/api/v1/health", admin=True, auth=False)
    check.that(status == 200 and inst.proc.poll() is None and inst.proc.pid == pid, "the process is up and healthy")
    after = ledger_rows(db_path)
    check.that(after == rows, f"nothing half-written: ledger rows {rows} -> {after}")


def after_freed(inst, work, db_path, check, victim, pid):
    status, serial = issue(work, "after-full")
    check.that(status == 201, f"admin issuance works again without a restart: {status} {serial!r:.120}")
    status, body = work._admin("POST", f"/certificates/{victim}/revoke", {"reason": "superseded"})
    if 200 <= status < 300:
        work.acks.revoked[victim] = time.time()
    check.that(200 <= status < 300, f"admin revocation works again: {status} {body[:120]!r}")
    check.that(scep(work, 2), "SCEP enrollment (scepclient) works again")
    answered = any(accounting(work, "full-1") or time.sleep(0.3) for _ in range(5))
    time.sleep(0.5)
    check.that(answered and "full-1" in stored_sessions(db_path),
               "the accounting retransmission is answered and stored once space is freed")
    check.that(inst.proc.pid == pid and inst.proc.poll() is None, "same process throughout (no restart)")
    with ledger_checks.open_ledger(db_path) as db:
        found = ledger_checks.integrity(db)
        found += ledger_checks.certificates(db, work.acks.certificates, work.acks.duplicates)
        found += ledger_checks.revocations(db, work.acks.revoked)
    check.that(not found, f"integrity_check ok, every received certificate once, revocation holds: {found[:5]}")


def run(workdir):
    inst = harness.Instance(workdir)
    enable_legacy_scep(inst)
    fs = os.path.join(workdir, "fs")
    mount_tmpfs(fs, FS_SIZE)
    check = Check()
    try:
        db_path = move_ledger(inst, fs)
        inst.start()
        pid = inst.proc.pid
        work = Workload(inst, os.path.join(workdir, "load"), kinds=())
        status, victim = issue(work, "before-full")
        check.that(status == 201 and scep(work, 0), "issuance and SCEP work before the disk fills")
        filler = os.path.join(fs, "filler")
        log(f"filler: {fill(filler)} bytes; the {FS_SIZE} tmpfs is full")
        while_full(inst, work, db_path, check, victim)
        os.remove(filler)
        after_freed(inst, work, db_path, check, victim, pid)
        code = inst.stop()
        check.that(code == 0, f"clean stop (exit {code})")
    finally:
        with contextlib.suppress(AssertionError):
            inst.stop()
        subprocess.run(["umount", fs], check=False)
    return check.problems, inst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.environ.get("PORTCULLIS_BIN", "build/app/portcullis"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    harness.BIN = os.path.abspath(args.bin)
    workdir = tempfile.mkdtemp(prefix="portcullis-diskfull-")
    problems, inst = run(workdir)
    if problems:
        print(f"FAILED ({len(problems)}); server log: {inst.log_path}", file=sys.stderr)
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

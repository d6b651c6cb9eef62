"""What a fault may not break in the ledger, checked against what clients were told
(workload.Acks). Each check returns a list of problems (empty: held)."""

import contextlib
import sqlite3


def open_ledger(path):
    return contextlib.closing(sqlite3.connect(path, timeout=10))


def integrity(db):
    result = [row[0] for row in db.execute("PRAGMA integrity_check")]
    fk = db.execute("PRAGMA foreign_key_check").fetchall()
    problems = [] if result == ["ok"] else [f"integrity_check: {result[:5]}"]
    if fk:
        problems.append(f"foreign_key_check: {fk[:5]}")
    return problems


def certificates(db, received, duplicates):
    """Every certificate a client received is in the ledger exactly once, with the DER it
    received; no serial was handed out twice."""
    problems = [f"serial {s} received by two clients" for s in duplicates]
    rows = {}
    for serial, fp in db.execute("SELECT serial, lower(sha256_fingerprint) FROM certificates"):
        rows.setdefault(serial.upper(), []).append(fp.replace(":", ""))
    fps = {}
    for fp_list in rows.values():
        for fp in fp_list:
            fps[fp] = fps.get(fp, 0) + 1
    for serial, fp in received.items():
        found = rows.get(serial.upper(), [])
        if len(found) != 1:
            problems.append(f"serial {serial}: {len(found)} ledger rows")
        elif found[0] != fp:
            problems.append(f"serial {serial}: ledger fingerprint {found[0]} is not the received {fp}")
    problems += [f"fingerprint {fp} in {n} rows" for fp, n in fps.items() if n > 1]
    return problems


def revocations(db, revoked):
    """Every revocation the admin API acknowledged is in the ledger."""
    problems = []
    for serial in revoked:
        row = db.execute("SELECT revoked_at FROM certificates WHERE serial = ?", (serial,)).fetchone()
        if row is None or row[0] is None:
            problems.append(f"revocation of {serial} acknowledged but not in the ledger")
    return problems


def accounting(db, acked, faults, grace):
    """Accounting records are stored once, and every one acknowledged is stored unless it
    was answered within `grace` s before one of the `faults` (times): the response goes out
    once the record is queued for the ledger writer, milliseconds before it is on disk, by
    design (radius/accounting.hpp). Returns (problems, number lost in such a window)."""
    stored = {}
    for session, n in db.execute("SELECT acct_session_id, count(*) FROM radius_sessions GROUP BY nas, acct_session_id"):
        stored[session] = stored.get(session, 0) + n
    problems = [f"accounting session {s} in {n} rows" for s, n in stored.items() if n > 1]
    window_lost = 0
    for session, (sent, answered) in acked.items():
        if session in stored:
            continue
        # The answer left the service between `sent` and `answered` (the client notes it
        # after radclient exits, possibly after the fault).
        if any(sent <= fault and fault - answered < grace for fault in faults):
            window_lost += 1
        else:
            problems.append(f"accounting session {session} acknowledged, not stored, and not within {grace} s "
                            "before a fault")
    return problems, window_lost

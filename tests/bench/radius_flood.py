#!/usr/bin/env python3
"""A flood of rejected RADIUS requests: does the server's memory stay bounded? (docs/performance.md)

  python3 tests/bench/radius_flood.py [--build build] [--rate 10000] [--seconds 20] [--sockets 64]

Starts `portcullis serve` with the `init` defaults and sends it Access-Requests from the
loopback NAS at --rate per second for --seconds, from --sockets source ports, each request
new (its own Request Authenticator, so the duplicate cache never answers for it):
  - half carry a valid Message-Authenticator and no EAP-Message (PAP): each is an
    Access-Reject, a `radius` decision event (reason eap_method) and an audit row;
  - half carry a Message-Authenticator made with another secret: each is a NAS-level drop
    (bad_message_authenticator), aggregated per source and minute.
The server's RSS (/proc/PID/status VmRSS) is sampled every 0.5 s before, during and after.
Reported: the rate reached, Access-Rejects received, RSS before / at its peak / per 5 s of
the flood / after, and the event counters (emitted, written, dropped because the queue
was full). A benchmark, not a test: nothing is asserted.
"""

import argparse
import hashlib
import hmac
import os
import shutil
import socket
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

ACCESS_REQUEST, ACCESS_REJECT = 1, 3
USER_NAME, CALLING_STATION_ID, MESSAGE_AUTHENTICATOR = 1, 31, 80


def attribute(kind, value):
    return struct.pack("!BB", kind, 2 + len(value)) + value


def access_request(identifier, secret, n):
    """An Access-Request (RFC 2865 §4.1) with a Message-Authenticator (RFC 3579 §3.2)
    computed with `secret`."""
    authenticator = os.urandom(16)
    attrs = (attribute(USER_NAME, b"flood-%d" % n) +
             attribute(CALLING_STATION_ID, b"02-00-00-%02X-%02X-%02X" % ((n >> 16) & 255, (n >> 8) & 255, n & 255)))
    mac_at = len(attrs)
    attrs += attribute(MESSAGE_AUTHENTICATOR, bytes(16))
    length = 20 + len(attrs)
    packet = bytearray(struct.pack("!BBH", ACCESS_REQUEST, identifier, length) + authenticator + attrs)
    mac = hmac.new(secret, bytes(packet), hashlib.md5).digest()
    packet[20 + mac_at + 2:20 + mac_at + 18] = mac
    return bytes(packet)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--rate", type=int, default=10000, help="requests per second")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--sockets", type=int, default=64, help="source ports")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    harness.BIN = os.path.join(a.build, "app", "portcullis")
    workdir = tempfile.mkdtemp(prefix="portcullis-flood-")
    inst = harness.Instance(os.path.join(workdir, "pc"))
    secret = harness.nas_secret(inst).encode()
    total = a.rate * a.seconds
    print(f"preparing {total} requests...", flush=True)
    packets = [access_request(n & 255, secret if n % 2 == 0 else b"not-the-secret", n) for n in range(total)]
    socks = []
    try:
        inst.start()
        pid = inst.proc.pid
        for _ in range(a.sockets):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.setblocking(False)
            socks.append(s)
        target = ("127.0.0.1", inst.radius_port)
        samples = []  # (seconds since the flood began, RSS KiB)
        time.sleep(1)
        before = rss_kib(pid)
        rejects = 0
        slice_s = 0.01
        per_slice = max(1, int(a.rate * slice_s))
        start = time.monotonic()
        next_sample = start
        sent = 0
        while sent < total:
            slot_end = start + (sent // per_slice + 1) * slice_s
            for _ in range(min(per_slice, total - sent)):
                try:
                    socks[sent % len(socks)].sendto(packets[sent], target)
                except BlockingIOError:
                    pass  # counted as sent: the kernel dropped it, as a NAS's flood would be
                sent += 1
            for s in socks:
                while True:
                    try:
                        reply = s.recv(4096)
                    except BlockingIOError:
                        break
                    if reply and reply[0] == ACCESS_REJECT:
                        rejects += 1
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - start, rss_kib(pid)))
                next_sample = now + 0.5
            if now < slot_end:
                time.sleep(slot_end - now)
        elapsed = time.monotonic() - start
        # Replies still in flight, and the event writer's last batches.
        drain_end = time.monotonic() + 3
        while time.monotonic() < drain_end:
            for s in socks:
                while True:
                    try:
                        reply = s.recv(4096)
                    except BlockingIOError:
                        break
                    if reply and reply[0] == ACCESS_REJECT:
                        rejects += 1
            time.sleep(0.05)
        after = rss_kib(pid)
        _, body = inst.api("GET", "/service/counters", expect=200)
        counters = body["counters"]
        rows = inst.count("events")

        print(f"sent {sent} requests in {elapsed:.1f} s ({sent / elapsed:.0f}/s), half with a wrong "
              f"Message-Authenticator; {rejects} Access-Rejects received")
        peak = max(r for _, r in samples) if samples else before
        print(f"RSS before {before / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, 3 s after {after / 1024:.1f} MiB")
        buckets = {}
        for t, r in samples:
            buckets.setdefault(int(t // 5) * 5, []).append(r)
        print("RSS during the flood, max per 5 s: " +
              ", ".join(f"{k}-{k + 5} s {max(v) / 1024:.1f} MiB" for k, v in sorted(buckets.items())))
        names = ("events_emitted", "events_written", "events_dropped")
        print("counters: " + ", ".join(f"{k} {counters[k]}" for k in names))
        with inst.ledger() as db:
            kinds = dict(db.execute("SELECT kind || ' ' || reason, sum(count) FROM events GROUP BY 1").fetchall())
            nas_rows = db.execute("SELECT count(*) FROM events WHERE kind = 'nas'").fetchone()[0]
        print(f"events rows in the ledger: {rows} ({nas_rows} of kind nas); what they count: {kinds}")
        return 0
    finally:
        for s in socks:
            s.close()
        inst.stop()
        if a.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

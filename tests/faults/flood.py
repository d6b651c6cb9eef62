#!/usr/bin/env python3
"""Floods while real EAP-TLS authentications go on: what the legitimate traffic keeps.

  python3 tests/faults/flood.py [--seconds 10] [--udp-rate 50000] [--bin build/app/portcullis] [--keep]

Phases, each --seconds long, each with two eapol_test loops authenticating throughout
(30 s timeout, as a NAS retries):
  baseline        nothing else
  slowloris-*     on the public (SCEP) and the admin listener: 100 connections from each
                  attacker address that send a header byte every second and never finish it.
                  The per-address cap holds each address; on the admin listener four
                  addresses (4 x 32) exceed its total cap (64), and the full listener must
                  give a slow connection's place to the legitimate client (fair share,
                  app/http/connection_limits.hpp)
  connflood-*     on each listener: four processes connecting, sending half a request line
                  and closing, as fast as they can, from 127.0.0.2-5
  udp-garbage     one process sending random datagrams (random length 20-300, a RADIUS-like
                  header on half of them) from the NAS's own address 127.0.0.1 to the auth
                  port at --udp-rate per second; the rate reached is reported
During the HTTP phases a legitimate client on 127.0.0.1 asks GET /api/v1/health (admin) or
GetCACaps (public) every 100 ms. Per phase: authentications, their rate, p50 / p99 latency,
failures, legitimate HTTP answers and their p99, the server's peak RSS. Held when the
process survives every phase, every legitimate authentication and HTTP request succeeds, and
the peak RSS stays under --max-rss-mb. The suite runs --seconds 3 (ctest faults_flood)."""

import argparse
import http.client
import multiprocessing
import os
import random
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

from workload import eapol, eapol_conf, harness, issue_client

ATTACKERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


def log(msg):
    print(msg, flush=True)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def udp_rcvbuf_errors():
    """The kernel's count of datagrams dropped because a socket's receive buffer was full."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:]))["RcvbufErrors"])


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, len(s) * p // 100)]


# --- attackers (separate processes: the GIL stays with the measuring threads)
def still_open(s):
    """Not closed by the server: nothing to read (it never answers an unfinished header)."""
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def slowloris(port, source, count, seconds, held):
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(True)
        s.settimeout(2)
        try:
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)  # still_open peeks without waiting
            socks.append(s)
        except OSError:
            s.close()
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(1)  # the server has taken (or refused) the connections by now
        alive = []
        for s in socks:
            try:
                s.sendall(b"X")  # one more header byte, never the blank line
            except OSError:
                pass
            if still_open(s):
                alive.append(s)
            else:
                s.close()
        socks = alive
        with held.get_lock():
            held.value = max(held.value, len(socks))
    for s in socks:
        s.close()


def connflood(port, source, seconds, counter):
    deadline = time.time() + seconds
    n = 0
    while time.time() < deadline:
        s = socket.socket()
        s.settimeout(1)
        try:
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
            s.send(b"POST /scep HTTP/1.1\r\nContent-Len")
            n += 1
        except OSError:
            pass
        finally:
            s.close()
    with counter.get_lock():
        counter.value += n


def udp_garbage(port, rate, seconds, counter):
    rng = random.Random(7)
    packets = []
    for i in range(512):
        body = rng.randbytes(rng.randrange(20, 300))
        if i % 2:  # Access-Request-like: code 1, a length that may or may not be right
            body = struct.pack("!BBH", 1, i & 0xFF, rng.choice([len(body), rng.randrange(20, 4096)])) + body[4:]
        packets.append(body)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    sent, start = 0, time.time()
    batch = max(1, rate // 1000)
    while True:
        now = time.time()
        if now - start >= seconds:
            break
        if sent > (now - start) * rate:  # ahead of the rate: wait a little
            time.sleep(0.0005)
            continue
        for _ in range(batch):
            try:
                s.sendto(packets[sent % 512], ("127.0.0.1", port))
            except OSError:
                pass
            sent += 1
    with counter.get_lock():
        counter.value = sent


# --- the legitimate side
class Legit:
    def __init__(self, inst, workdir, key, cert):
        self.inst = inst
        self.confs = [eapol_conf(inst, workdir, key, cert, name=f"legit-{i}") for i in range(2)]

    def measure(self, seconds, http_probe=None):
        results, stop, lock = [], threading.Event(), threading.Lock()
        http_times, http_failed = [], []
        peak = [rss_mb(self.inst.proc.pid)]

        def eap(conf):
            while not stop.is_set():
                t = time.monotonic()
                # A NAS retries for longer than eapol_test's default; a conversation that
                # lost datagrams to the UDP flood needs a retransmission (3 s) per loss.
                _, ok = eapol(self.inst, conf, timeout=30)
                with lock:
                    results.append((ok, time.monotonic() - t))

        def probe():
            while not stop.is_set():
                t = time.monotonic()
                try:
                    status, _ = http_probe()
                    (http_times if status == 200 else http_failed).append(time.monotonic() - t)
                except (OSError, http.client.HTTPException) as e:
                    http_failed.append(repr(e))
                time.sleep(0.1)

        threads = [threading.Thread(target=eap, args=(c,)) for c in self.confs]
        if http_probe:
            threads.append(threading.Thread(target=probe))
        started = time.monotonic()
        for t in threads:
            t.start()
        while time.monotonic() - started < seconds:
            time.sleep(0.2)
            if self.inst.proc.poll() is None:
                peak.append(rss_mb(self.inst.proc.pid))
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        ok = [d for good, d in results if good]
        return {"auths": len(ok), "failed": len(results) - len(ok), "rate": len(ok) / elapsed,
                "p50_ms": percentile(ok, 50) * 1000, "p99_ms": percentile(ok, 99) * 1000,
                "http_ok": len(http_times), "http_failed": http_failed,
                "http_p99_ms": percentile(http_times, 99) * 1000, "rss_peak_mb": max(peak)}


def received(inst):
    return inst.api("GET", "/radius/counters", expect=200)[1]["counters"]["received"]


def phase(legit, name, seconds, attackers=(), http_probe=None, report=""):
    procs = [multiprocessing.Process(target=f, args=a) for f, a in attackers]
    for p in procs:
        p.start()
    time.sleep(0.5)  # the attack is going before the measurement starts
    m = legit.measure(seconds, http_probe)
    for p in procs:
        p.join(timeout=seconds + 30)
    m["name"] = name
    m["attack"] = report() if callable(report) else report
    log(f"{name:16} EAP-TLS {m['auths']:4} ok {m['failed']} failed {m['rate']:6.1f}/s p50 {m['p50_ms']:5.0f} ms "
        f"p99 {m['p99_ms']:5.0f} ms | HTTP {m['http_ok']} ok {len(m['http_failed'])} failed p99 "
        f"{m['http_p99_ms']:.0f} ms | RSS peak {m['rss_peak_mb']:.0f} MB | {m['attack']}")
    return m


def run(seconds, udp_rate, max_rss, admin_addresses, workdir):
    inst = harness.Instance(workdir)
    inst.start()
    key, cert = issue_client(inst, workdir, "legit")
    legit = Legit(inst, workdir, key, cert)
    public = lambda: inst.http("GET", "/scep?operation=GetCACaps", timeout=5)  # noqa: E731
    admin = lambda: inst.http("GET", "/api/v1/health", admin=True, auth=False, timeout=5)  # noqa: E731
    results = [phase(legit, "baseline", seconds, http_probe=admin)]
    for listener, port, probe, addresses in (("public", inst.http_port, public, ATTACKERS),
                                             ("admin", inst.admin_port, admin, ATTACKERS[:admin_addresses])):
        held = multiprocessing.Value("i", 0)
        results.append(phase(legit, f"slowloris-{listener}", seconds, http_probe=probe,
                             attackers=[(slowloris, (port, a, 100, seconds + 1, held)) for a in addresses],
                             report=lambda h=held, n=len(addresses): f"{n} x 100 slow connections tried, at most "
                                                                     f"{h.value} held open per address"))
        count = multiprocessing.Value("l", 0)
        results.append(phase(legit, f"connflood-{listener}", seconds, http_probe=probe,
                             attackers=[(connflood, (port, a, seconds + 0.5, count)) for a in ATTACKERS],
                             report=lambda c=count: f"{c.value / (seconds + 0.5):.0f} connections/s"))
    sent = multiprocessing.Value("l", 0)
    _, before = inst.api("GET", "/radius/counters", expect=200)
    dropped = udp_rcvbuf_errors()
    results.append(phase(legit, "udp-garbage", seconds,
                         attackers=[(udp_garbage, (inst.radius_port, udp_rate, seconds + 0.5, sent))],
                         report=lambda: f"{sent.value / (seconds + 0.5):.0f} datagrams/s sent (asked {udp_rate}/s), "
                                        f"{udp_rcvbuf_errors() - dropped} dropped by the kernel (receive buffer "
                                        f"full, all sockets), {received(inst) - before['counters']['received']} "
                                        "received by the server"))
    _, counters = inst.api("GET", "/radius/counters", expect=200)
    c = counters["counters"]
    log("RADIUS counters: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if v and k != "access_accept")
        + f", access_accept {c['access_accept']}")
    results.append(phase(legit, "after", seconds, http_probe=admin))

    problems = []
    for m in results:
        if m["failed"] or m["auths"] == 0:
            problems.append(f"{m['name']}: {m['failed']} EAP-TLS authentications failed, {m['auths']} succeeded")
        if m["http_failed"]:
            problems.append(f"{m['name']}: legitimate HTTP requests failed: {m['http_failed'][:3]}")
        if m["rss_peak_mb"] > max_rss:
            problems.append(f"{m['name']}: RSS peak {m['rss_peak_mb']:.0f} MB over {max_rss} MB")
    code = inst.stop()
    if code != 0:
        problems.append(f"serve exited with {code}")
    return problems, inst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--udp-rate", type=int, default=50000)
    parser.add_argument("--max-rss-mb", type=float, default=512)
    parser.add_argument("--slowloris-admin-addresses", type=int, default=len(ATTACKERS), choices=range(1, len(ATTACKERS) + 1))
    parser.add_argument("--bin", default=os.environ.get("PORTCULLIS_BIN", "build/app/portcullis"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    harness.BIN = os.path.abspath(args.bin)
    workdir = tempfile.mkdtemp(prefix="portcullis-flood-")
    problems, inst = run(args.seconds, args.udp_rate, args.max_rss_mb, args.slowloris_admin_addresses, workdir)
    if problems:
        print("\n".join(["FAILED:"] + problems), file=sys.stderr)
        print(f"server log: {inst.log_path}", file=sys.stderr)
        return 1
    log("held: the process survived every phase; every legitimate request succeeded")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""RADIUS latency during a SCEP enrollment burst, for an A/B of two builds.

  python3 tests/bench/run_radius_under_scep.py [--build build] [--baseline-bin PATH] [--runs 3]
          [--eap-count 300] [--eap-concurrency 4] [--scep-count 800] [--scep-concurrency 16]
          [--no-accounting] [--keep]

For each build (this one, and --baseline-bin when given), one `portcullis init` + `serve`
instance on free loopback ports, and a client certificate through `portcullis issue`.
Each run, for each build in turn (the two take turns going first):
  idle:  bench_eap_load (full EAP-TLS 1.3 handshakes) while an accounting prober sends
         Accounting-Request Start packets one at a time and times each Accounting-Response;
  burst: bench_scep_load (RSA-2048 PKCSReq, static challenge, --scep-concurrency threads)
         against the SAME instance; once its timed phase starts (it prints
         TIMED_PHASE_START), the same EAP-TLS load and accounting prober. A measurement is
         flagged when the SCEP burst ended before the EAP load did.
Reported: per build and phase, the medians over the runs of the EAP-TLS p50 / p99 latency
(bench_eap_load's figures) and of the accounting p50 / p99, and accounting requests that got
no answer within 2 s. --no-accounting leaves the prober out: EAP-TLS alone against the burst.
Benchmarks, not tests: nothing is asserted. Standard library only.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402


def log(msg):
    print(msg, flush=True)


class Build:
    def __init__(self, workdir, name, binary):
        self.name = name
        os.makedirs(workdir, exist_ok=True)
        self.inst = harness.Instance(workdir, binary=binary)
        with open(self.inst.config, "rb") as f:
            config = tomllib.load(f)
        self.secret = config["radius"]["clients"][0]["secret"]
        self.challenge = config["scep"]["static_challenge"]
        self.inst.start()
        key, csr = harness.make_key_and_csr(workdir, "client", f"bench-{name}")
        cert = os.path.join(workdir, "client.pem")
        with open(cert, "w") as f:
            f.write(self.inst.cli("issue", "--csr", csr, "--device", f"bench-{name}").stdout)
        self.certs = {"root": self.inst.ca("root.pem"), "client": cert, "client_key": key}

    def stop(self):
        self.inst.stop()


def accounting_request(secret, identifier, session):
    attrs = b""
    for t, v in ((40, struct.pack("!I", 1)), (44, session.encode()), (32, b"bench-nas"),
                 (31, b"02-00-00-00-00-99")):
        attrs += bytes([t, 2 + len(v)]) + v
    length = 20 + len(attrs)
    header = struct.pack("!BBH", 4, identifier, length)
    auth = hashlib.md5(header + bytes(16) + attrs + secret.encode()).digest()  # RFC 2866 §3
    return header + auth + attrs


class AccountingProber(threading.Thread):
    """One Accounting-Request outstanding at a time; latency of each Accounting-Response."""

    def __init__(self, port, secret):
        super().__init__(daemon=True)
        self.port, self.secret = port, secret
        self.latencies_ms, self.unanswered = [], 0
        self.stop_event = threading.Event()

    def run(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            identifier = 0
            while not self.stop_event.is_set():
                identifier = (identifier + 1) % 256
                packet = accounting_request(self.secret, identifier, f"probe-{time.time_ns()}-{random.random()}")
                t0 = time.perf_counter()
                s.sendto(packet, ("127.0.0.1", self.port))
                try:
                    while True:
                        reply, _ = s.recvfrom(4096)
                        if reply[0] == 5 and reply[1] == identifier:
                            break
                    self.latencies_ms.append((time.perf_counter() - t0) * 1000)
                except socket.timeout:
                    self.unanswered += 1
                time.sleep(0.005)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def eap_load(gen, build, count, concurrency):
    cmd = [gen, "--server", "127.0.0.1", "--port", str(build.inst.radius_port), "--secret", build.secret,
           "--ca", build.certs["root"], "--cert", build.certs["client"], "--key", build.certs["client_key"],
           "--tls", "1.3", "--concurrency", str(concurrency), "--count", str(count), "--max-seconds", "300"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"bench_eap_load gave no RESULT (exit {p.returncode}): {p.stdout}\n{p.stderr}")


def measure(gen, build, a):
    prober = AccountingProber(build.inst.radius_port + 1, build.secret)
    if not a.no_accounting:
        prober.start()
    eap = eap_load(gen, build, a.eap_count, a.eap_concurrency)
    if not a.no_accounting:
        prober.stop_event.set()
        prober.join()
    return {"eap_p50": eap["p50_ms"], "eap_p99": eap["p99_ms"], "eap_failed": eap["failed"],
            "acct_p50": percentile(prober.latencies_ms, 0.5), "acct_p99": percentile(prober.latencies_ms, 0.99),
            "acct_n": len(prober.latencies_ms), "acct_unanswered": prober.unanswered}


def burst(scep_gen, gen, build, a, run):
    cmd = [scep_gen, "--port", str(build.inst.http_port), "--count", str(a.scep_count), "--concurrency",
           str(a.scep_concurrency), "--challenge", build.challenge, "--cn-prefix", f"{build.name}-r{run}",
           "--max-seconds", "600"]
    scep = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in scep.stdout:
        if line.startswith("TIMED_PHASE_START"):
            break
    else:
        raise RuntimeError(f"bench_scep_load ended before its timed phase: {scep.stderr.read()}")
    r = measure(gen, build, a)
    r["covered"] = scep.poll() is None  # the burst still ran when the EAP load finished
    rest, err = scep.communicate(timeout=900)
    result = next((json.loads(l[len("RESULT "):]) for l in rest.splitlines() if l.startswith("RESULT ")), None)
    if result is None:
        raise RuntimeError(f"bench_scep_load gave no RESULT: {rest}\n{err}")
    r["scep_ok"], r["scep_per_s"] = result["ok"], result["per_s"]
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--baseline-bin", help="an earlier portcullis binary, measured the same way in turn")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--eap-count", type=int, default=300)
    ap.add_argument("--eap-concurrency", type=int, default=4)
    ap.add_argument("--scep-count", type=int, default=800)
    ap.add_argument("--scep-concurrency", type=int, default=16)
    ap.add_argument("--no-accounting", action="store_true", help="no accounting prober next to the EAP load")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    build_dir = os.path.abspath(a.build)
    harness.BIN = os.path.join(build_dir, "app", "portcullis")
    gen = os.path.join(build_dir, "tests", "bench", "bench_eap_load")
    scep_gen = os.path.join(build_dir, "tests", "bench", "bench_scep_load")
    for path in (harness.BIN, gen, scep_gen) + ((a.baseline_bin,) if a.baseline_bin else ()):
        if not os.path.exists(path):
            sys.exit(f"missing {path}")

    workdir = tempfile.mkdtemp(prefix="portcullis-radius-under-scep-")
    log(f"work folder {workdir}; load average {os.getloadavg()}; {os.cpu_count()} CPUs")
    builds = []
    try:
        builds.append(Build(os.path.join(workdir, "this"), "this", harness.BIN))
        if a.baseline_bin:
            builds.append(Build(os.path.join(workdir, "baseline"), "baseline", os.path.abspath(a.baseline_bin)))
        rows = {}
        for run in range(a.runs):
            order = builds if run % 2 == 0 else list(reversed(builds))
            for b in order:
                for phase in ("idle", "burst"):
                    r = measure(gen, b, a) if phase == "idle" else burst(scep_gen, gen, b, a, run)
                    rows.setdefault((b.name, phase), []).append(r)
                    log(f"run {run + 1}/{a.runs} {b.name} {phase}: EAP-TLS p50 {r['eap_p50']:.1f} ms p99 "
                        f"{r['eap_p99']:.1f} ms (failed {r['eap_failed']}); accounting p50 {r['acct_p50']:.1f} ms "
                        f"p99 {r['acct_p99']:.1f} ms (n {r['acct_n']}, unanswered {r['acct_unanswered']})"
                        + (f"; SCEP {r['scep_ok']} ok at {r['scep_per_s']:.0f}/s"
                           + ("" if r["covered"] else ", ENDED BEFORE THE EAP LOAD") if phase == "burst" else "")
                        + f"; load {os.getloadavg()[0]:.2f}")
        log(f"\nmedians over {a.runs} runs (EAP-TLS 1.3 full handshakes: {a.eap_count} at concurrency "
            f"{a.eap_concurrency}; SCEP burst: {a.scep_count} enrollments at concurrency {a.scep_concurrency}):")
        log("build     phase  EAP p50  EAP p99  acct p50  acct p99  acct unanswered")
        for (name, phase), rs in rows.items():
            med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
            log(f"{name:9} {phase:6} {med('eap_p50'):7.1f}  {med('eap_p99'):7.1f}  {med('acct_p50'):8.1f}  "
                f"{med('acct_p99'):8.1f}  {sum(r['acct_unanswered'] for r in rs)}")
    finally:
        for b in builds:
            b.stop()
        if a.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

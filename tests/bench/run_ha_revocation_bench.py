#!/usr/bin/env python3
"""Two nodes on one PostgreSQL ledger: how long after a revocation on node A node B
rejects the certificate (docs/performance.md).

  python3 tests/bench/run_ha_revocation_bench.py [--build build] [--revocations 200] [--gap-ms 50]

1. A throw-away PostgreSQL 15 (tests/integration/postgres.py, fsync on); node A by
   `portcullis init --ledger`, node B by `portcullis init --join A` on its own ports; both
   serve.
2. --revocations certificates issued on A through its admin API (POST /certificates); the
   script waits until B's index knows every one as good.
3. For each certificate, one at a time, --gap-ms apart: POST /certificates/{serial}/revoke
   on A, then B's GET /api/v1/identity/{serial} (the verdict of B's in-memory index, the
   one RADIUS decides from) polled over one keep-alive connection until it says revoked.
   Timed from just before the revoke call is sent, and from its reply.
4. Reported: median, p90, p99 and max of both, and of the revoke call itself.
Benchmarks, not tests: nothing here asserts a timing. Loopback only. Standard library only.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from postgres import PostgresServer  # noqa: E402


class JoinedNode(harness.Instance):
    """`portcullis init --dir B --join A` on its own ports."""

    def __init__(self, workdir, source):  # pylint: disable=super-init-not-called
        self.bin = source.bin
        self.workdir = workdir
        self.dir = os.path.join(workdir, "data")
        self.http_port = harness.free_port()
        self.admin_port = harness.free_port()
        self.radius_port = harness.free_port(2)
        self.log_path = os.path.join(workdir, "serve.log")
        self.proc = None
        self.log_file = None
        harness.run([self.bin, "init", "--dir", self.dir, "--join", source.dir, "--http-port", str(self.http_port),
                     "--admin-port", str(self.admin_port), "--radius-port", str(self.radius_port)])
        self.config = os.path.join(self.dir, "portcullis.toml")
        with open(os.path.join(self.dir, "admin.token")) as f:
            self.token = f.read().strip()


class Poller:
    """GET /api/v1/identity/{serial} on one keep-alive connection."""

    def __init__(self, inst):
        self.inst = inst
        self.conn = None

    def verdict(self, serial):
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.inst.admin_port, timeout=10)
                self.conn.request("GET", f"/api/v1/identity/{serial}",
                                  headers={"Authorization": "Bearer " + self.inst.token})
                resp = self.conn.getresponse()
                return json.loads(resp.read())["verdict"]
            except (OSError, http.client.HTTPException):
                self.conn = None
        raise RuntimeError("node B's admin API does not answer")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def describe(name, values_ms):
    return (f"  {name:44} median {statistics.median(values_ms):7.2f} ms, p90 {percentile(values_ms, 90):7.2f}, "
            f"p99 {percentile(values_ms, 99):7.2f}, max {max(values_ms):7.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--revocations", type=int, default=200)
    ap.add_argument("--gap-ms", type=int, default=50)
    args = ap.parse_args()
    harness.BIN = os.path.join(os.path.abspath(args.build), "app", "portcullis")
    if not os.path.exists(harness.BIN):
        sys.exit(f"missing {harness.BIN}: build the portcullis target first")

    workdir = tempfile.mkdtemp(prefix="portcullis-ha-revocation-")
    pg = PostgresServer(durable=True).start()
    nodes = []
    try:
        password_file = os.path.join(workdir, "pg.password")
        with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(pg.password + "\n")
        os.makedirs(os.path.join(workdir, "a"))
        a = harness.Instance(os.path.join(workdir, "a"), ["--ledger", pg.create_database("bench"),
                                                          "--ledger-password-file", password_file])
        nodes.append(a)
        os.makedirs(os.path.join(workdir, "b"))
        b = JoinedNode(os.path.join(workdir, "b"), a)
        nodes.append(b)
        a.start()
        b.start()

        _, csr = harness.make_key_and_csr(workdir, "bench", "bench.example.net")
        with open(csr) as f:
            csr_pem = f.read()
        serials = []
        for i in range(args.revocations):
            _, body = a.api("POST", "/certificates", {"csr": csr_pem, "device": f"rev-{i}", "create_device": True},
                            expect=201)
            serials.append(body["serial"])
        poll = Poller(b)
        deadline = time.monotonic() + 60
        while any(poll.verdict(s) != "good" for s in serials[-5:]) and time.monotonic() < deadline:
            time.sleep(0.05)
        unknown = [s for s in serials if poll.verdict(s) != "good"]
        if unknown:
            raise RuntimeError(f"node B does not know {len(unknown)} of the certificates issued on A")

        print(f"{args.revocations} revocations on A, polled on B; load average before {os.getloadavg()}", flush=True)
        from_send, from_reply, call = [], [], []
        for serial in serials:
            time.sleep(args.gap_ms / 1000)
            t0 = time.perf_counter()
            a.api("POST", f"/certificates/{serial}/revoke", {"reason": "key_compromise"}, expect=200)
            t_reply = time.perf_counter()
            while poll.verdict(serial) != "revoked":
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"node B still accepts {serial} 30 s after A revoked it")
            t1 = time.perf_counter()
            from_send.append((t1 - t0) * 1000)
            from_reply.append((t1 - t_reply) * 1000)
            call.append((t_reply - t0) * 1000)
        print(f"load average after {os.getloadavg()}\n")
        print(describe("revoke call on A (HTTP round trip)", call))
        print(describe("A's revoke sent -> B's index says revoked", from_send))
        print(describe("A's revoke answered -> B's index says revoked", from_reply))
        print(f"  within 1 s: {sum(x <= 1000 for x in from_send)} of {len(from_send)}")
        return 0
    finally:
        for n in nodes:
            try:
                n.stop()
            except AssertionError as e:
                print(e, file=sys.stderr)
        pg.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

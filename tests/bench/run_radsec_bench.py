#!/usr/bin/env python3
"""RadSec benchmark: server CPU per EAP-TLS authentication over RadSec vs UDP, and the NAS
connections held with their memory (docs/performance.md).

  python3 tests/bench/run_radsec_bench.py [--build build] [--runs 5] [--count 1000]
          [--concurrency 16] [--hold 1000,5000] [--via-radsecproxy] [--keep]

1. `portcullis init` into a temp folder on free ports, [radsec] on with one RadSec client
   (wlc-1, its certificate from `portcullis nas certificate`), a device certificate
   through `portcullis issue`.
2. The same bench_eap_load conversations over UDP and over RadSec: the generator speaks
   RadSec itself (--radsec-cert/--radsec-key: one TLS connection with the NAS certificate,
   as a controller holds). With --via-radsecproxy it speaks UDP to radsecproxy instead,
   which holds that connection (a cross-check with a real NAS-side implementation). The
   server's CPU is read from /proc/PID/stat around the measured phase only
   (bench_eap_load --server-pid), so the generator's and the proxy's are not in it.
3. For each run, UDP and RadSec take turns going first: full EAP-TLS handshakes (TLS 1.3,
   then 1.2), --count conversations at --concurrency, every one checked (Accept,
   EAP-Success, MPPE keys = MSK). Reported: medians over the runs of server CPU ms per
   authentication and auths/s, and the ratio RadSec/UDP.
4. Connections held: the server restarted fresh, then N idle TLS connections with the NAS
   certificate opened from this process (Python ssl, TLS 1.3), each answered a
   Status-Server once; the server's RSS and CPU before and after, per connection.
Benchmarks, not tests: nothing asserts a timing. Loopback only. Python standard library only.
"""

import argparse
import json
import os
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from test_radius import RadiusTest  # noqa: E402  (Status-Server packet)
from run_radius_bench import load, proc_rss_kib, status_server_ok  # noqa: E402

UDP_SECRET = "bench-to-radsecproxy-secret"


def log(msg):
    print(msg, flush=True)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, workdir, binary, max_connections):
        self.workdir = workdir
        harness.BIN = binary
        self.inst = harness.Instance(os.path.join(workdir, "portcullis"), binary=binary)
        self.inst.start()
        self.nas = os.path.join(workdir, "nas")
        self.inst.cli("nas", "certificate", "--name", "wlc-1", "--out", self.nas)
        key, csr = harness.make_key_and_csr(workdir, "client", "bench-client")
        client = os.path.join(workdir, "client.pem")
        with open(client, "w") as f:
            f.write(self.inst.cli("issue", "--csr", csr, "--device", "bench-device").stdout)
        self.certs = {"root": self.inst.ca("root.pem"), "client": client, "client_key": key}
        self.inst.stop()
        self.inst.radsec_port = harness.free_port()
        with open(self.inst.config, "a") as f:
            f.write(f"\n[radsec]\nenabled = true\nport = {self.inst.radsec_port}\nmax_connections = {max_connections}\n"
                    f"max_connections_per_nas = {max_connections}\nidle_timeout_seconds = 3600\n"
                    "\n[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\ncertificate_name = \"wlc-1\"\n")
        self.inst.start()
        with open(self.inst.config, "rb") as f:
            import tomllib
            self.udp_secret = tomllib.load(f)["radius"]["clients"][0]["secret"]
        self.proxy_port = None
        self.proxy = None

    @property
    def pid(self):
        return self.inst.proc.pid

    def start_proxy(self):
        self.proxy_port = harness.free_port()
        conf = os.path.join(self.workdir, "radsecproxy.conf")
        with open(conf, "w") as f:
            f.write(f"""ListenUDP 127.0.0.1:{self.proxy_port}
LoopPrevention off
tls nas {{
    CACertificateFile {self.nas}/ca.pem
    CertificateFile {self.nas}/wlc-1.pem
    CertificateKeyFile {self.nas}/wlc-1.key
}}
client bench {{
    host 127.0.0.1
    type udp
    secret {UDP_SECRET}
}}
server portcullis {{
    host 127.0.0.1
    port {self.inst.radsec_port}
    type tls
    tls nas
    CertificateNameCheck off
}}
realm * {{
    server portcullis
}}
""")
        self.proxy_log = open(os.path.join(self.workdir, "radsecproxy.log"), "w")
        self.proxy = subprocess.Popen(["radsecproxy", "-f", "-d", "2", "-c", conf], stdout=self.proxy_log,
                                      stderr=subprocess.STDOUT)
        time.sleep(0.5)
        if self.proxy.poll() is not None:
            raise RuntimeError("radsecproxy exited at start")

    def target(self, transport):
        """(server, extra bench_eap_load flags) for run_radius_bench.load."""
        class T:
            pass
        t = T()
        t.pid = self.pid
        t.resume_flags = ()
        extra = ()
        if transport == "udp":
            t.port, t.secret = self.inst.radius_port, self.udp_secret
        elif self.proxy is not None:
            t.port, t.secret = self.proxy_port, UDP_SECRET
        else:
            t.port, t.secret = self.inst.radsec_port, "radsec"
            extra = ("--radsec-cert", os.path.join(self.nas, "wlc-1.pem"),
                     "--radsec-key", os.path.join(self.nas, "wlc-1.key"))
        return t, extra

    def stop(self):
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.terminate()
            self.proxy.wait(timeout=10)
        self.inst.stop()


def hold_connections(bench, count):
    """`count` idle TLS connections with the NAS certificate; RSS and CPU per connection."""
    bench.inst.stop()
    bench.inst.start()
    time.sleep(1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(bench.nas, "ca.pem"))
    ctx.load_cert_chain(os.path.join(bench.nas, "wlc-1.pem"), os.path.join(bench.nas, "wlc-1.key"))
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    rss0, cpu0, t0 = proc_rss_kib(bench.pid), cpu_seconds(bench.pid), time.time()
    conns, failed = [], 0
    for i in range(count):
        try:
            raw = socket.create_connection(("127.0.0.1", bench.inst.radsec_port), timeout=10)
            conn = ctx.wrap_socket(raw, server_hostname="localhost")
            conn.sendall(RadiusTest.status_server("radsec", identifier=i % 256))
            if len(conn.recv(4096)) < 20:
                raise ConnectionError("no answer")
            conns.append(conn)
        except (OSError, ssl.SSLError):
            failed += 1
    elapsed = time.time() - t0
    time.sleep(1)
    rss1, cpu1 = proc_rss_kib(bench.pid), cpu_seconds(bench.pid)
    # Still up: the last one answers again.
    alive = 0
    for conn in conns[-10:]:
        conn.sendall(RadiusTest.status_server("radsec", identifier=1))
        alive += len(conn.recv(4096)) >= 20
    for conn in conns:
        conn.close()
    held = len(conns)
    return {"asked": count, "held": held, "failed": failed, "rss_before_kib": rss0, "rss_after_kib": rss1,
            "kib_per_connection": (rss1 - rss0) / held if held else None,
            "server_cpu_ms_per_connection": 1000 * (cpu1 - cpu0) / held if held else None,
            "open_s": elapsed, "last_10_answer_again": alive}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("PORTCULLIS_BUILD", "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--hold", default="1000,5000", help="connection counts to hold, comma-separated; empty skips")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--via-radsecproxy", action="store_true",
                    help="RadSec through radsecproxy (UDP from the generator) rather than from the generator")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    gen = os.path.join(build, "tests", "bench", "bench_eap_load")
    holds = [int(x) for x in a.hold.split(",") if x]
    # One descriptor per held connection here and in the server (harness starts it from us).
    need = max(holds + [0]) + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    workdir = tempfile.mkdtemp(prefix="portcullis-radsec-bench-")
    log(f"work folder {workdir}; load average {os.getloadavg()}; {os.cpu_count()} CPUs")
    bench = Bench(workdir, os.path.join(build, "app", "portcullis"), max(holds + [1000]) + 100)
    try:
        if a.via_radsecproxy:
            bench.start_proxy()
        if not status_server_ok(bench.inst.radius_port, bench.udp_secret):
            raise RuntimeError("Portcullis does not answer Status-Server over UDP")
        log("correctness: 20 conversations each way must all be Accept with MPPE = MSK")
        for transport in ("udp", "radsec"):
            for tls in ("1.3", "1.2"):
                server, extra = bench.target(transport)
                r = load(gen, server, bench.certs, tls, 20, 4, extra=extra)
                if r["exit"] != 0 or r["completed"] != 20:
                    raise RuntimeError(f"{transport} TLS {tls}: {json.dumps(r['failures'])}\n{r['text']}")
        results = {(t, tls): [] for t in ("udp", "radsec") for tls in ("1.3", "1.2")}
        for run in range(a.runs):
            for tls in ("1.3", "1.2"):
                order = ("udp", "radsec") if run % 2 == 0 else ("radsec", "udp")
                for transport in order:
                    server, extra = bench.target(transport)
                    r = load(gen, server, bench.certs, tls, a.count, a.concurrency, extra=extra)
                    if r["failed"] or r["server_cpu_s"] is None:
                        log(f"  run {run + 1} {transport} TLS {tls}: FAILED {json.dumps(r['failures'])}")
                        continue
                    ms = 1000 * r["server_cpu_s"] / r["completed"]
                    rate = r["completed"] / r["elapsed_s"]
                    results[(transport, tls)].append((ms, rate))
                    log(f"  run {run + 1} {transport:6} TLS {tls}: server {ms:.3f} ms CPU/auth, {rate:.0f} auths/s")
        log("")
        log(f"medians over {a.runs} runs, {a.count} full EAP-TLS authentications each at concurrency {a.concurrency}:")
        log("| TLS | UDP server CPU ms/auth | RadSec server CPU ms/auth | RadSec/UDP | UDP auths/s | RadSec auths/s |")
        log("|---|---|---|---|---|---|")
        for tls in ("1.3", "1.2"):
            u, s = results[("udp", tls)], results[("radsec", tls)]
            if not u or not s:
                continue
            um, sm = statistics.median(x[0] for x in u), statistics.median(x[0] for x in s)
            log(f"| {tls} | {um:.3f} | {sm:.3f} | {sm / um:.2f} | {statistics.median(x[1] for x in u):.0f} | "
                f"{statistics.median(x[1] for x in s):.0f} |")
        if bench.proxy is not None:
            bench.proxy.terminate()
            bench.proxy.wait(timeout=10)
        for n in holds:
            h = hold_connections(bench, n)
            log(f"held {h['held']}/{h['asked']} idle RadSec connections ({h['failed']} failed) in {h['open_s']:.1f} s: "
                f"server RSS {h['rss_before_kib']} -> {h['rss_after_kib']} KiB = "
                f"{h['kib_per_connection']:.1f} KiB per connection, {h['server_cpu_ms_per_connection']:.2f} ms server "
                f"CPU per handshake; last 10 answer again: {h['last_10_answer_again']}/10")
    finally:
        bench.stop()
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

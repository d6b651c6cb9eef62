#!/usr/bin/env python3
"""RADIUS EAP-TLS benchmark: Portcullis next to FreeRADIUS 3.2 (docs/performance.md).

  python3 tests/bench/run_radius_bench.py [--build /work/build-bench] [--runs 5] [--count 2000]
          [--concurrency 16] [--half-open 10000] [--skip-portcullis] [--skip-freeradius] [--keep]
          [--validate-only] [--baseline-bin PATH | --postgresql]

1. `portcullis init` into a temp folder on free ports, `serve`, and a client certificate
   through `portcullis issue` from an openssl P-256 CSR (the server key is P-256 by default).
2. A private FreeRADIUS configuration (freeradius/make_config.py) with the SAME server
   certificate, chain, CA and RADIUS secret, on another free port: `freeradius -f -d DIR`.
3. Correctness first: for each server, eapol_test (TLS 1.3 and 1.2) must print SUCCESS and
   "MPPE keys OK", and bench_eap_load must pass a short run in every mode; a server that
   fails is reported and left out of the timing.
4. Timing: for each run, mode (full TLS 1.3, full TLS 1.2, resumed 1.3, resumed 1.2) and
   server, bench_eap_load runs --count conversations at --concurrency and reads the
   server's utime+stime from /proc/PID/stat just around the measured phase (a resumed
   run first makes one untimed full handshake per slot; each slot then offers its latest
   session, or for FreeRADIUS its first, see FreeRadius.resume_flags). Reported:
   medians over the runs of server CPU ms per authentication, auths/s, client CPU, and
   the ratio Portcullis/FreeRADIUS; server RSS after the runs.
5. Memory: each server restarted fresh, then --half-open conversations that send the
   Identity response and the ClientHello and stop; RSS growth per half-open session.
   Then a probe of 200 more half-open ones and one full authentication show what the
   server does with its session table full (Portcullis: bounded at 10,000 by default;
   FreeRADIUS: eap max_sessions = 16384).
6. With --baseline-bin, another `portcullis` binary (an earlier build) runs beside, with its
   own data folder, CA and client certificate; in each run and mode the two builds take
   turns going first, and the report adds the per-run ratios Portcullis/baseline and their
   median (an A/B of two builds in one invocation).
7. With --postgresql, the second server is this build on a PostgreSQL 15 ledger (a
   throw-away cluster, fsync on, tests/integration/postgres.py) instead of an earlier build:
   the same turns and per-run ratios, PostgreSQL/SQLite.
Benchmarks, not tests: nothing here asserts a timing. Loopback only; every run bounded by
count and by bench_eap_load's --max-seconds. Python standard library only.
"""

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "freeradius"))
import harness  # noqa: E402  (free ports, init/serve/CLI of the real binary)
import make_config  # noqa: E402
from peer_process import PeerProcess  # noqa: E402
from postgres import PostgresServer  # noqa: E402

MODES = [("full", "1.3"), ("full", "1.2"), ("resumed", "1.3"), ("resumed", "1.2")]


def log(msg):
    print(msg, flush=True)


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def status_server_ok(port, secret, timeout=2):
    """RFC 5997 Status-Server with Message-Authenticator, answered by Access-Accept."""
    try:
        p = subprocess.run(["radclient", "-x", "-r", "1", "-t", str(timeout), "--", f"127.0.0.1:{port}", "status", secret],
                           input="Message-Authenticator = 0x00\n", capture_output=True, text=True, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return False
    return "Received Access-Accept" in p.stdout


class FreeRadius:
    name = "FreeRADIUS"
    # FreeRADIUS 3.2 resumes a TLS 1.3 session from its on-disk cache any number of times
    # but never resumes the ticket it issues in a resumed handshake: each slot offers its
    # warm-up session again. (Same load: one resumption per conversation.)
    resume_flags = ("--reuse-first-session",)

    def __init__(self, workdir, port, secret, certs):
        self.dir = make_config.build(os.path.join(workdir, "freeradius"), port, secret, certs["server"],
                                     certs["server_key"], certs["issuing"], certs["chain"])
        self.port = port
        self.secret = secret
        self.process = PeerProcess("freeradius", os.path.join(workdir, "freeradius.out"))

    def start(self):
        self.process.start(["freeradius", "-f", "-d", self.dir],
                           ready=lambda: status_server_ok(self.port, self.secret, timeout=1))

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        self.process.stop()


class Portcullis:
    # Like a supplicant: offer the latest session/ticket (works with single-use tickets).
    resume_flags = ()

    def __init__(self, instance, name="Portcullis"):
        self.name = name
        self.inst = instance
        self.port = instance.radius_port
        with open(instance.config, "rb") as f:
            self.secret = tomllib.load(f)["radius"]["clients"][0]["secret"]

    def start(self):
        self.inst.start()
        deadline = time.time() + 10
        while time.time() < deadline and not status_server_ok(self.port, self.secret, timeout=1):
            time.sleep(0.2)

    @property
    def pid(self):
        return self.inst.proc.pid

    def ready_line(self):
        for line in self.inst.log().splitlines():
            if "portcullis ready" in line:
                return line
        return ""

    def stop(self):
        self.inst.stop()


def start_portcullis(workdir, name, binary, init_args=()):
    """A fresh data folder, `serve`, and a client certificate issued by that instance."""
    folder = os.path.join(workdir, name)
    os.makedirs(folder)
    inst = harness.Instance(folder, init_args, binary=binary)
    server = Portcullis(inst, name)
    server.start()
    key, csr = harness.make_key_and_csr(folder, "client", "bench-client")
    client = os.path.join(folder, "client.pem")
    with open(client, "w") as f:
        f.write(inst.cli("issue", "--csr", csr, "--device", "bench-device").stdout)
    server.certs = {"root": inst.ca("root.pem"), "issuing": inst.ca("issuing.pem"), "chain": inst.ca("chain.pem"),
                    "server": inst.ca("server.pem"), "server_key": inst.ca("server.key"),
                    "client": client, "client_key": key}
    return server


def load(gen, server, certs, tls, count, concurrency, resume=False, extra=()):
    cmd = [gen, "--server", "127.0.0.1", "--port", str(server.port), "--secret", server.secret,
           "--ca", certs["root"], "--cert", certs["client"], "--key", certs["client_key"], "--tls", tls,
           "--concurrency", str(concurrency), "--count", str(count), "--server-pid", str(server.pid),
           "--max-seconds", "600", *extra]
    if resume:
        cmd += ["--resume", *server.resume_flags]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    result = None
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    if result is None:
        raise RuntimeError(f"bench_eap_load gave no RESULT (exit {p.returncode}): {p.stdout}\n{p.stderr}")
    result["exit"] = p.returncode
    result["text"] = p.stdout
    return result


def eapol_check(workdir, server, certs, tls):
    conf = os.path.join(workdir, f"eapol-{server.name}-{tls}.conf")
    with open(conf, "w") as f:
        f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                f" ca_cert=\"{certs['root']}\"\n client_cert=\"{certs['client']}\"\n"
                f" private_key=\"{certs['client_key']}\"\n fragment_size=1398\n"
                f" phase1=\"tls_disable_tlsv1_3={0 if tls == '1.3' else 1}\"\n}}\n")
    p = subprocess.run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(server.port), "-s", server.secret,
                        "-t", "10"], capture_output=True, text=True, timeout=30)
    version = "TLSv1.3" if tls == "1.3" else "TLSv1.2"
    ok = (p.returncode == 0 and "\nSUCCESS" in p.stdout and "MPPE keys OK: 1  mismatch: 0" in p.stdout
          and f"Using TLS version {version}" in p.stdout)
    with open(conf + ".log", "w") as f:
        f.write(p.stdout)
    return ok, conf + ".log"


def validate(workdir, gen, server, certs):
    """eapol_test and the load generator, once each, against the same server."""
    problems = []
    for tls in ("1.3", "1.2"):
        ok, path = eapol_check(workdir, server, certs, tls)
        log(f"  eapol_test TLS {tls} vs {server.name}: {'SUCCESS, MPPE keys OK' if ok else 'FAILED, see ' + path}")
        if not ok:
            problems.append(f"eapol_test TLS {tls}")
    for mode, tls in MODES:
        r = load(gen, server, certs, tls, 20, 4, resume=(mode == "resumed"))
        good = r["exit"] == 0 and r["failed"] == 0 and r["completed"] == 20
        log(f"  bench_eap_load {mode} TLS {tls} vs {server.name}: "
            f"{'20/20 Accept, EAP-Success, MPPE = MSK' if good else 'FAILED ' + json.dumps(r['failures'])}")
        if not good:
            problems.append(f"bench_eap_load {mode} {tls}")
            log(r["text"])
    return problems


def half_open(gen, server, certs, count):
    """Fresh server, `count` half-open conversations, then a probe past the bound."""
    server.stop()
    server.start()
    time.sleep(1)
    rss0 = proc_rss_kib(server.pid)
    r = load(gen, server, certs, "1.3", count, count, extra=["--half-open", "--timeout-ms", "3000"])
    rss1 = proc_rss_kib(server.pid)
    probe = load(gen, server, certs, "1.3", 200, 200, extra=["--half-open", "--timeout-ms", "1000", "--retries", "1"])
    after = load(gen, server, certs, "1.3", 1, 1, extra=["--timeout-ms", "1000", "--retries", "1"])
    parked = r["completed"]
    return {
        "parked": parked, "failed": r["failed"], "failures": r["failures"],
        "rss_before_kib": rss0, "rss_after_kib": rss1,
        "kib_per_session": (rss1 - rss0) / parked if parked else None,
        "probe_parked": probe["completed"], "probe_failures": probe["failures"],
        "full_auth_while_full": "accepted" if after["completed"] == 1 else json.dumps(after["failures"]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("PORTCULLIS_BUILD", "/work/build-bench"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--half-open", type=int, default=10000, help="0 skips the memory part")
    ap.add_argument("--skip-portcullis", action="store_true")
    ap.add_argument("--skip-freeradius", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    ap.add_argument("--baseline-bin", help="another portcullis binary to run alongside, for an A/B of two builds")
    ap.add_argument("--postgresql", action="store_true",
                    help="compare with this build on a PostgreSQL ledger (needs Debian's postgresql package)")
    ap.add_argument("--validate-only", action="store_true",
                    help="only the correctness step: eapol_test and bench_eap_load once per server")
    a = ap.parse_args()
    if a.runs < 1 or a.runs > 50 or a.count < 1 or a.count > 100000:
        ap.error("--runs 1..50, --count 1..100000")
    if a.postgresql and a.baseline_bin:
        ap.error("--postgresql and --baseline-bin each name the second server; choose one")

    portcullis_bin = os.path.join(a.build, "app", "portcullis")
    gen = os.path.join(a.build, "tests", "bench", "bench_eap_load")
    harness.BIN = portcullis_bin
    workdir = tempfile.mkdtemp(prefix="portcullis-radius-bench-")
    log(f"work folder {workdir}; load average {os.getloadavg()}; {os.cpu_count()} CPUs")
    load_before = os.getloadavg()

    servers = []
    notes = []
    pc = fr = base = pg = None
    try:
        pc = start_portcullis(workdir, "Portcullis", portcullis_bin)
        certs = pc.certs

        if not a.skip_freeradius:
            fr = FreeRadius(workdir, harness.free_port(), pc.secret, certs)
            fr.certs = certs
            fr.start()
            servers.append(fr)
        if a.baseline_bin:
            base = start_portcullis(workdir, "baseline", os.path.abspath(a.baseline_bin))
        if a.postgresql:
            pg = PostgresServer(durable=True).start()
            password_file = os.path.join(workdir, "pg.password")
            with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(pg.password + "\n")
            base = start_portcullis(workdir, "PostgreSQL", portcullis_bin,
                                    ["--ledger", pg.create_database("bench"), "--ledger-password-file", password_file])
        for s in (x for x in (pc, base) if x is not None and not (x is pc and a.skip_portcullis)):
            if "radius auth" in s.ready_line() and status_server_ok(s.port, s.secret):
                servers.append(s)
            else:
                notes.append(f"{s.name} RADIUS did not answer Status-Server: not measured")
                s.stop()

        log("correctness (eapol_test, then bench_eap_load, against the same server):")
        for s in list(servers):
            problems = validate(workdir, gen, s, s.certs)
            if problems:
                notes.append(f"{s.name} failed validation ({', '.join(problems)}): not timed")
                servers.remove(s)

        if a.validate_only:
            for n in notes:
                print("note: " + n)
            ok = not notes
            print("validation " + ("passed: " + ", ".join(s.name for s in servers) if ok else "FAILED"))
            return 0 if ok else 1

        results = {s.name: {m: [] for m in MODES} for s in servers}
        for run in range(a.runs):
            for m in MODES:
                # The two builds take turns going first, so neither always follows the other.
                order = servers if run % 2 == 0 else servers[::-1]
                for s in order:
                    r = load(gen, s, s.certs, m[1], a.count, a.concurrency, resume=(m[0] == "resumed"))
                    if r["exit"] != 0:
                        notes.append(f"{s.name} {m[0]} TLS {m[1]} run {run + 1}: failures {json.dumps(r['failures'])}")
                    results[s.name][m].append(r)
            log(f"run {run + 1}/{a.runs} done; load average {os.getloadavg()}")
        rss = {s.name: proc_rss_kib(s.pid) for s in servers}

        memory = {}
        if a.half_open > 0:
            for s in servers:
                memory[s.name] = half_open(gen, s, s.certs, a.half_open)

        # ---- report
        def med(rs, f):
            vals = [f(r) for r in rs if r["completed"] > 0 and r.get("server_cpu_s") is not None]
            return statistics.median(vals) if vals else float("nan")

        ms = lambda r: 1000.0 * r["server_cpu_s"] / r["completed"]  # noqa: E731
        cms = lambda r: 1000.0 * r["client_cpu_s"] / r["completed"]  # noqa: E731
        rate = lambda r: r["completed"] / r["elapsed_s"]  # noqa: E731
        p50 = lambda r: r["p50_ms"]  # noqa: E731
        print()
        print(f"EAP-TLS over RADIUS/UDP, loopback, {a.runs} runs x {a.count} conversations, concurrency "
              f"{a.concurrency}; medians. Server key P-256, client key P-256.")
        print(f"{'server':<11} {'mode':<14} {'server ms/auth':>14} {'auths/s':>9} {'client ms/auth':>14} "
              f"{'p50 ms':>7} {'failed':>6}")
        for s in servers:
            for m in MODES:
                rs = results[s.name][m]
                print(f"{s.name:<11} {m[0] + ' TLS ' + m[1]:<14} {med(rs, ms):>14.3f} {med(rs, rate):>9.0f} "
                      f"{med(rs, cms):>14.3f} {med(rs, p50):>7.2f} {sum(r['failed'] for r in rs):>6}")
        if pc in servers and fr in servers:
            print("ratio Portcullis/FreeRADIUS, server CPU per auth: " + ", ".join(
                f"{m[0]} {m[1]} {med(results['Portcullis'][m], ms) / med(results['FreeRADIUS'][m], ms):.2f}"
                for m in MODES))
        if pc in servers and base in servers:
            for m in MODES:
                ratios = [ms(y) / ms(x) if a.postgresql else ms(x) / ms(y)
                          for x, y in zip(results["Portcullis"][m], results[base.name][m])
                          if x["completed"] and y["completed"]]
                if ratios:
                    what = "PostgreSQL/SQLite" if a.postgresql else "Portcullis/baseline"
                    print(f"{what} {m[0]} TLS {m[1]}, server CPU per auth, per run: "
                          f"{' '.join(f'{x:.3f}' for x in ratios)}; median {statistics.median(ratios):.3f}, "
                          f"lower in {sum(x < 1 for x in ratios)} of {len(ratios)}")
        print("server RSS after the runs: " + ", ".join(f"{k} {v / 1024:.1f} MiB" for k, v in rss.items()))
        for name, mem in memory.items():
            per = f"{mem['kib_per_session']:.1f} KiB" if mem["kib_per_session"] is not None else "n/a"
            print(f"{name}: {mem['parked']} half-open sessions (failed {mem['failed']} "
                  f"{json.dumps(mem['failures'])}): RSS {mem['rss_before_kib'] / 1024:.1f} -> "
                  f"{mem['rss_after_kib'] / 1024:.1f} MiB = {per} per half-open session; "
                  f"200 more: {mem['probe_parked']} parked, failures {json.dumps(mem['probe_failures'])}; "
                  f"a full authentication right after: {mem['full_auth_while_full']}")
        print(f"load average before {load_before}, after {os.getloadavg()} ({os.cpu_count()} CPUs, shared)")
        for n in notes:
            print("note: " + n)
        print("reproduce: python3 tests/bench/run_radius_bench.py " + " ".join(
            shlex.quote(x) for x in ["--build", a.build, "--runs", str(a.runs), "--count", str(a.count),
                                     "--concurrency", str(a.concurrency), "--half-open", str(a.half_open)]
            + (["--baseline-bin", a.baseline_bin] if a.baseline_bin else [])
            + (["--postgresql"] if a.postgresql else [])))
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump({"results": {k: {f"{m[0]} {m[1]}": [{x: y for x, y in r.items() if x != "text"} for r in v]
                                       for m, v in rs.items()} for k, rs in results.items()},
                       "rss_kib": rss, "memory": memory, "notes": notes}, f, indent=1)
        return 0
    finally:
        for s in (fr, pc, base):
            if s is not None:
                try:
                    s.stop()
                except Exception as e:  # a stop failure must not hide the report above
                    print(f"stopping {s.name}: {e}", file=sys.stderr)
        if pg is not None:
            pg.close()
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")


if __name__ == "__main__":
    sys.exit(main())

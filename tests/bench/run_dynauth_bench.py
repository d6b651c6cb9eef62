"""Instant revocation at scale (docs/performance.md): with 10,000 live sessions on 100
NAS clients, revoke 1,000 devices in one admin call and measure, at 100 NAS stand-ins
(127.0.1.1-127.0.1.100, each a UDP listener on the NAS client's coa_port):

  - revoke call -> first Disconnect-Request received   (target < 100 ms)
  - revoke call -> last of the 10,000 received          (target < 2 s)
  - the very next EAP-TLS authentication with a revoked certificate is rejected.

Everything goes through the real server paths: 1,000 certificates issued over the admin API
(POST /api/v1/certificates, one CSR signed per device), one real EAP-TLS authentication per
certificate (bench_eap_load, Access-Accept recorded with its Calling-Station-Id), then
10 Accounting-Starts per device from 10 of the 100 NAS addresses (RFC 2866, tied to the
certificate through the Accept's Calling-Station-Id, the server's documented fallback when a
NAS does not echo Class), then POST /api/v1/revoke with the 1,000 device names. Every
Disconnect-Request received is checked (code 40, Request Authenticator and
Message-Authenticator per RFC 5176 §3.5) and answered with a Disconnect-ACK.

  python3 tests/bench/run_dynauth_bench.py --build build --runs 3
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import selectors
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def acct_request(secret, identifier, attrs):
    body = b"".join(bytes([t, 2 + len(v)]) + v for t, v in attrs)
    head = struct.pack("!BBH", 4, identifier, 20 + len(body))
    ra = hashlib.md5(head + bytes(16) + body + secret).digest()  # RFC 2866 §3
    return head + ra + body


SO_TIMESTAMPNS = 35  # Linux: the kernel's receive time of each datagram (CLOCK_REALTIME)


class NasFarm:
    """100 NAS stand-ins in one thread: answer each Disconnect-Request with an ACK, record the
    kernel's arrival time of each (so a busy Python loop does not delay the figures), and
    verify every request's authenticators after the run."""

    def __init__(self, secret, count, port):
        self.secret = secret
        self.sel = selectors.DefaultSelector()
        self.socks = []
        for n in range(1, count + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # a NAS's own buffer, not Python's pace
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.bind((f"127.0.1.{n}", port))
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.socks.append(s)
        self.times = []       # every Disconnect-Request received, retransmissions included
        self.packets = []     # verified after the run
        self.bad = 0
        self.sessions = {}    # Acct-Session-Id -> when its first Disconnect-Request arrived
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def verify(self, p):
        zeroed = p[:4] + bytes(16) + p[20:]
        if not hmac.compare_digest(hashlib.md5(zeroed + self.secret).digest(), p[4:20]):
            return False
        if p[20] != 80:
            return False
        body = bytearray(zeroed)
        body[22:38] = bytes(16)
        return hmac.compare_digest(hmac.new(self.secret, bytes(body), hashlib.md5).digest(), p[22:38])

    def loop(self):
        while self.running:
            for key, _ in self.sel.select(0.05):
                s = key.fileobj
                while True:
                    try:
                        p, anc, _, src = s.recvmsg(4096, 64)
                    except BlockingIOError:
                        break
                    now = time.time()
                    for level, kind, data in anc:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                            sec, nsec = struct.unpack("qq", data[:16])
                            now = sec + nsec / 1e9
                    if p[0] != 40 or len(p) < 38:
                        self.bad += 1
                        continue
                    self.packets.append(p)
                    self.times.append(now)
                    off = 20
                    while off < len(p):
                        if p[off] == 44:
                            self.sessions.setdefault(p[off + 2:off + p[off + 1]], now)
                        off += p[off + 1]
                    body = bytes([80, 18]) + bytes(16)
                    head = struct.pack("!BBH", 41, p[1], 20 + len(body))
                    ma = hmac.new(self.secret, head + p[4:20] + body, hashlib.md5).digest()
                    body = body[:2] + ma
                    s.sendto(head + hashlib.md5(head + p[4:20] + body + self.secret).digest() + body, src)

    def close(self):
        self.running = False
        self.thread.join()
        for s in self.socks:
            s.close()


def api(inst, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", inst.admin_port, timeout=120)
    conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                 headers={"Authorization": "Bearer " + inst.token, "Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else None


def one_run(args, run_no):
    workdir = tempfile.mkdtemp(prefix="portcullis-dynauth-bench-")
    inst = harness.Instance(workdir)
    coa_port = harness.free_port()
    with open(inst.config) as f:
        text = f.read()
    block = text[text.index("[[radius.clients]]"):]
    secret = block.split('secret = "', 1)[1].split('"', 1)[0]
    text += ("\n[[radius.clients]]\nname = \"bench-nas\"\naddress = \"127.0.1.0/24\"\n"
             f"secret = \"{secret}\"\ncoa_port = {coa_port}\n")
    with open(inst.config, "w") as f:
        f.write(text)
    inst.start()
    farm = NasFarm(secret.encode(), args.nases, coa_port)
    try:
        # 1,000 certificates, one per device, one CSR.
        key, csr = harness.make_key_and_csr(workdir, "bench", "bench-device")
        with open(csr) as f:
            csr_pem = f.read()
        t = time.monotonic()
        certs = []
        conn = http.client.HTTPConnection("127.0.0.1", inst.admin_port, timeout=60)
        for i in range(args.devices):
            conn.request("POST", "/api/v1/certificates",
                         body=json.dumps({"csr": csr_pem, "device": f"bench-{i}", "create_device": True}),
                         headers={"Authorization": "Bearer " + inst.token, "Content-Type": "application/json"})
            r = conn.getresponse()
            body = json.loads(r.read())
            if r.status != 201:
                raise RuntimeError(f"issue {i}: {r.status} {body}")
            path = os.path.join(workdir, f"c{i}.pem")
            with open(path, "w") as f:
                f.write(body["certificate"])
            certs.append(path)
        conn.close()
        log(f"run {run_no}: {args.devices} certificates issued in {time.monotonic() - t:.1f} s")

        # One real EAP-TLS authentication per certificate (two generators at a time).
        gen = os.path.join(args.build, "tests", "bench", "bench_eap_load")
        t = time.monotonic()
        stations = [f"02-{i >> 8:02X}-{i & 0xFF:02X}" for i in range(args.devices)]

        def auth(i):
            return subprocess.run([gen, "--port", str(inst.radius_port), "--secret", secret, "--ca", inst.ca("root.pem"),
                                   "--cert", certs[i], "--key", key, "--count", "1", "--concurrency", "1",
                                   "--calling-station-id", stations[i]], capture_output=True, text=True, timeout=60)

        failures = []
        lock = threading.Lock()
        nxt = [0]

        def worker():
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= args.devices:
                    return
                p = auth(i)
                if p.returncode != 0:
                    with lock:
                        failures.append((i, p.stdout[-500:]))

        ws = [threading.Thread(target=worker) for _ in range(2)]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        if failures:
            raise RuntimeError(f"{len(failures)} authentications failed, first: {failures[0]}")
        log(f"run {run_no}: {args.devices} EAP-TLS authentications in {time.monotonic() - t:.1f} s")

        # 10 Accounting-Starts per device from 10 NAS addresses (RFC 2866), all answered.
        t = time.monotonic()
        socks = []
        for n in range(1, args.nases + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((f"127.0.1.{n}", 0))
            s.settimeout(5)
            socks.append(s)
        pending = []
        for i in range(args.devices):
            for j in range(args.sessions_per_device):
                n = (i * args.sessions_per_device + j) % args.nases
                pending.append((n, [(40, struct.pack("!I", 1)), (4, bytes([127, 0, 1, n + 1])),
                                    (44, f"b-{i}-{j}".encode()), (31, (stations[i] + "-00-00-00").encode()),
                                    (1, b"anonymous@bench.example")]))
        answered = 0
        for attempt in range(5):
            # Waves of 128: the server's UDP receive buffer (~200 KiB of skb truesize) would drop
            # more sent at once, and RADIUS Identifiers are 8 bits per socket.
            left = []
            for start in range(0, len(pending), 128):
                wave = pending[start:start + 128]
                ids = {}
                for k, (n, attrs) in enumerate(wave):
                    ident = len(ids.setdefault(n, []))
                    ids[n].append((ident, attrs, k))
                    socks[n].sendto(acct_request(secret.encode(), ident, attrs), ("127.0.0.1", inst.radius_port + 1))
                got = set()
                deadline = time.monotonic() + 5
                while len(got) < len(wave) and time.monotonic() < deadline:
                    for n, lst in ids.items():
                        socks[n].setblocking(False)
                        while True:
                            try:
                                p = socks[n].recv(4096)
                            except BlockingIOError:
                                break
                            if p[0] == 5:
                                got.add((n, p[1]))
                    time.sleep(0.01)
                for n, lst in ids.items():
                    for ident, attrs, k in lst:
                        if (n, ident) in got:
                            answered += 1
                        else:
                            left.append((n, attrs))
            pending = left
            if not pending:
                break
        for s in socks:
            s.close()
        if pending:
            raise RuntimeError(f"{len(pending)} accounting requests unanswered")
        status, live = api(inst, "GET", "/sessions?live=true&limit=1")
        with inst.ledger() as db:
            linked = db.execute("SELECT count(*) FROM radius_sessions WHERE stopped_at IS NULL AND serial <> ''").fetchone()[0]
        if linked != args.devices * args.sessions_per_device:
            raise RuntimeError(f"only {linked} live sessions tied to a certificate")
        log(f"run {run_no}: {answered} Accounting-Starts answered in {time.monotonic() - t:.1f} s; "
            f"{linked} live sessions tied to certificates")

        # The measured part.
        load = os.getloadavg()[0]
        names = [f"bench-{i}" for i in range(args.devices)]
        t0 = time.time()  # the farm's arrival times are kernel CLOCK_REALTIME
        if args.per_device:
            # The alternative: the per-device endpoint in a loop over one keep-alive connection
            # (one ledger transaction and one CRL signature per device).
            conn = http.client.HTTPConnection("127.0.0.1", inst.admin_port, timeout=120)
            for name in names:
                conn.request("POST", f"/api/v1/devices/{name}/revoke", body=json.dumps({"reason": "keyCompromise"}),
                             headers={"Authorization": "Bearer " + inst.token, "Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    raise RuntimeError(f"revoke {name}: {r.status}")
            conn.close()
        else:
            status, body = api(inst, "POST", "/revoke", {"devices": names, "reason": "keyCompromise"})
            if status != 200 or len(body["revoked"]) != args.devices:
                raise RuntimeError(f"revoke: {status} {body}")
        t_call = time.time() - t0
        # The very next authentication with a revoked certificate.
        nxt_auth = auth(0)
        t_next = time.time() - t0
        rejected = nxt_auth.returncode != 0 and "completed        0" in nxt_auth.stdout
        expected = args.devices * args.sessions_per_device
        deadline = time.monotonic() + 60
        while len(farm.sessions) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        times = sorted(farm.sessions.values())  # first arrival per session
        farm.bad += sum(1 for p in list(farm.packets) if not farm.verify(p))
        result = {
            "run": run_no,
            "load_avg_1m": load,
            "revoke_call_ms": t_call * 1000,
            "first_disconnect_ms": (times[0] - t0) * 1000 if times else None,
            "last_disconnect_ms": (times[-1] - t0) * 1000 if times else None,
            "distinct_sessions": len(times),
            "datagrams_received": len(farm.times),  # > sessions: retransmissions after a lost answer
            "bad_requests": farm.bad,
            "next_auth_rejected": rejected,
            "next_auth_done_ms": t_next * 1000,
        }
        log(f"run {run_no}: {json.dumps(result)}")
        if len(times) != expected or farm.bad or not rejected:
            raise RuntimeError(f"run {run_no} incomplete: {result}\n{nxt_auth.stdout[-1000:]}")
        return result
    except Exception:
        print(inst.log()[-5000:], file=sys.stderr)
        raise
    finally:
        farm.close()
        inst.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("PORTCULLIS_BUILD", "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--sessions-per-device", type=int, default=10)
    ap.add_argument("--nases", type=int, default=100)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--per-device", action="store_true",
                    help="revoke with POST /api/v1/devices/{d}/revoke in a loop instead of one POST /api/v1/revoke")
    args = ap.parse_args()
    harness.BIN = os.path.join(args.build, "app", "portcullis")
    results = [one_run(args, r + 1) for r in range(args.runs)]

    def med(k):
        return statistics.median(r[k] for r in results)

    print(f"\n{args.devices} devices, {args.devices * args.sessions_per_device} live sessions on {args.nases} NAS "
          f"clients, {args.runs} run(s), medians:")
    how = f"{args.devices} x POST /api/v1/devices/{{d}}/revoke" if args.per_device else \
        f"POST /api/v1/revoke, {args.devices} devices"
    print(f"  revoke call(s) ({how})  {med('revoke_call_ms'):8.1f} ms")
    print(f"  revoke -> first Disconnect-Request received               {med('first_disconnect_ms'):8.1f} ms  (target < 100)")
    print(f"  revoke -> last Disconnect-Request received                {med('last_disconnect_ms'):8.1f} ms  (target < 2000)")
    print(f"  next authentication with a revoked certificate rejected   "
          f"{sum(r['next_auth_rejected'] for r in results)}/{len(results)}")
    loads = ", ".join("%.1f" % r["load_avg_1m"] for r in results)
    print(f"  load average (1 min) at the revoke: {loads}")


if __name__ == "__main__":
    main()

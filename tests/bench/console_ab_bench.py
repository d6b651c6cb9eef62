"""A/B: does the console, open in a browser, move the RADIUS benchmark? One Portcullis,
bench_eap_load (full EAP-TLS 1.3 handshakes) run by turns without (A) and with (B) Debian's
headless chromium showing a device page of the console, which polls the admin API every
2 s (the device, its live sessions, its events). Reported per run: the server's CPU ms per
authentication (utime+stime of the service around the measured phase) and auths/s, then
the medians and B/A. The browser's own CPU shares the machine's cores, so auths/s may move
where the server's CPU per authentication does not.

    PORTCULLIS_BIN=build/app/portcullis python3 tests/bench/console_ab_bench.py [--build build] [--runs 5] [--count 1000]

Needs the bench_eap_load and console_browser_test targets built. Loopback only; bounded
by --count and by bench_eap_load's --max-seconds.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
sys.path.insert(0, os.path.dirname(__file__))
from run_radius_bench import load, start_portcullis  # noqa: E402

# Signs in, opens the page, and stays until stdin closes (playwright-core from the build's
# tests/browser; --no-sandbox only because CI runs as root).
HOLD_SCRIPT = """
import { chromium } from 'playwright-core';
const [base, token, path] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = await browser.newPage();
await page.goto(base + '/signin?next=' + encodeURIComponent(path));
await page.fill('#token', token);
await page.click('button[type=submit]');
await page.locator('main h1').waitFor();
console.log('open');
process.stdin.resume();
process.stdin.on('end', async () => { await browser.close(); process.exit(0); });
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    a = ap.parse_args()
    gen = os.path.join(a.build, "tests", "bench", "bench_eap_load")
    browser_dir = os.path.join(a.build, "tests", "browser")
    hold = os.path.join(browser_dir, "hold_console_open.mjs")
    with open(hold, "w") as f:
        f.write(HOLD_SCRIPT)
    work = tempfile.mkdtemp(prefix="portcullis-console-ab-")
    server = start_portcullis(work, "portcullis", os.environ.get("PORTCULLIS_BIN", "build/app/portcullis"))
    inst = server.inst
    rows = {"A": [], "B": []}
    try:
        load(gen, server, server.certs, "1.3", 100, a.concurrency)  # warm-up, events for the page
        for run in range(a.runs):
            # Alternate which goes first, so a drift in the machine's load hits both alike.
            for side in ("AB" if run % 2 == 0 else "BA"):
                browser = None
                if side == "B":
                    browser = subprocess.Popen(
                        ["node", hold, f"http://127.0.0.1:{inst.admin_port}", inst.token, "/devices/bench-device"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                    if browser.stdout.readline().strip() != "open":
                        raise RuntimeError("the console did not open in chromium")
                    time.sleep(2)
                r = load(gen, server, server.certs, "1.3", a.count, a.concurrency)
                if browser:
                    browser.stdin.close()
                    browser.wait(timeout=30)
                assert r["failed"] == 0 and r["completed"] == a.count, r["text"]
                ms = r["server_cpu_s"] * 1000 / r["completed"]
                rate = r["completed"] / r["elapsed_s"]
                rows[side].append((ms, rate))
                print(f"run {run + 1} {side}: {ms:.3f} server CPU ms/auth, {rate:.0f} auths/s", flush=True)
    finally:
        server.stop()
    med = {s: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for s, v in rows.items()}
    print(f"median A (no console): {med['A'][0]:.3f} ms/auth, {med['A'][1]:.0f} auths/s")
    print(f"median B (console open): {med['B'][0]:.3f} ms/auth, {med['B'][1]:.0f} auths/s")
    print(f"B/A: server CPU per auth {med['B'][0] / med['A'][0]:.3f}, auths/s {med['B'][1] / med['A'][1]:.3f}")


if __name__ == "__main__":
    main()

"""The console's Devices page with 100,000 devices: how long the admin listener takes to
answer what the page asks for (the page itself, then one page of the device list: first,
last, a search by name, a filter), with the console's session cookie. Loopback time,
measured from request sent to answer read: the server's time plus a loopback round trip.

    PORTCULLIS_BIN=build/app/portcullis python3 tests/bench/console_devices_bench.py [devices]
"""

import http.client
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Instance  # noqa: E402

RUNS = 20


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    work = tempfile.mkdtemp(prefix="portcullis-console-bench-")
    inst = Instance(work)
    with inst.ledger() as db:  # seeded straight into the ledger before the service starts
        now = int(time.time())
        db.executemany("INSERT INTO devices (name, owner, created_at) VALUES (?, ?, ?)",
                       ((f"laptop-{i:06d}", f"user{i % 5000}@example.com", now) for i in range(count)))
        # One device in ten in group "staff".
        db.execute("INSERT INTO device_groups (device_id, name) SELECT id, 'staff' FROM devices WHERE id % 10 = 0")
    inst.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", inst.admin_port, timeout=30)
        conn.request("POST", "/console/session", json.dumps({"token": inst.token}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        cookie = resp.getheader("Set-Cookie").split(";")[0]
        targets = {
            "page /devices": "/devices",
            "first 50": "/api/v1/devices?limit=50",
            "last 50": f"/api/v1/devices?limit=50&offset={count - 50}",
            "search by name": "/api/v1/devices?search=laptop-099999&limit=50",
            "disabled only": "/api/v1/devices?enabled=false&limit=50",
            "by group": "/api/v1/devices?group=staff&limit=50",
            "by MAC": "/api/v1/devices?mac=02:00:5e:10:00:01&limit=50",
            "by serial": "/api/v1/devices?serial=0A1B2C3D&limit=50",
        }
        print(f"{count} devices, {RUNS} requests each, median and max (ms):")
        for label, target in targets.items():
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                conn.request("GET", target, headers={"Cookie": cookie})
                resp = conn.getresponse()
                resp.read()
                times.append((time.perf_counter() - started) * 1000)
                assert resp.status == 200, (target, resp.status)
            print(f"  {label:16s} {statistics.median(times):8.1f} {max(times):8.1f}")
    finally:
        inst.stop()


if __name__ == "__main__":
    main()

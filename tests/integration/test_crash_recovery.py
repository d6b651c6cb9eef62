"""kill -9 of `serve` during an issuance burst, then restart: every certificate a client
received is in the ledger, and PRAGMA integrity_check is ok."""

import concurrent.futures
import contextlib
import http.client
import json
import signal
import threading
import time

from harness import IntegrationTest, main, make_key_and_csr


class CrashRecoveryTest(IntegrationTest):
    def test_kill_9_during_issuance_burst(self):
        inst = self.instance()
        _, path = make_key_and_csr(self.workdir, "burst", "burst.example")
        with open(path) as f:
            csr = f.read()
        received = []
        lock = threading.Lock()
        stop = threading.Event()

        def worker(i):
            n = 0
            while not stop.is_set():
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", inst.admin_port, timeout=10)
                    with contextlib.closing(conn):
                        while not stop.is_set():
                            n += 1
                            body = json.dumps({"csr": csr, "device": f"burst-{i}-{n % 3}", "create_device": True})
                            conn.request("POST", "/api/v1/certificates", body=body,
                                         headers={"Authorization": "Bearer " + inst.token,
                                                  "Content-Type": "application/json"})
                            resp = conn.getresponse()
                            data = resp.read()
                            if resp.status == 201:
                                with lock:
                                    received.append(json.loads(data)["serial"])
                except (OSError, http.client.HTTPException):
                    time.sleep(0.01)  # the server is gone; keep trying until told to stop

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(worker, i) for i in range(4)]
            deadline = time.time() + 30
            while time.time() < deadline:
                with lock:
                    if len(received) >= 200:
                        break
                time.sleep(0.02)
            inst.proc.send_signal(signal.SIGKILL)  # mid-burst: requests are in flight
            inst.proc.wait()
            time.sleep(0.3)
            stop.set()
            for f in futures:
                f.result()
        inst.stop()
        self.assertGreaterEqual(len(received), 200, "the burst did not get going")

        with contextlib.closing(inst.ledger()) as db:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            stored = {row[0] for row in db.execute("SELECT serial FROM certificates")}
            orphans = db.execute("SELECT count(*) FROM certificates c LEFT JOIN devices d ON c.device_id = d.id "
                                 "WHERE d.id IS NULL").fetchone()[0]
        missing = set(received) - stored
        self.assertEqual(missing, set(), f"{len(missing)} certificates a client received are not in the ledger")
        self.assertEqual(orphans, 0)

        # Restart: the service opens the ledger again and the index knows every certificate.
        inst.start()
        for serial in received[:: max(1, len(received) // 20)]:
            _, ident = inst.api("GET", f"/identity/{serial}", expect=200)
            self.assertEqual(ident["verdict"], "good")
        print(f"received {len(received)} certificates before SIGKILL; ledger holds {len(stored)}")


if __name__ == "__main__":
    main()

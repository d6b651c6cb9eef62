"""2,000 issuances from 8 threads through the admin API: no duplicate serial, and the
ledger holds exactly what was issued."""

import concurrent.futures
import contextlib
import http.client
import json

from harness import IntegrationTest, main, make_key_and_csr

THREADS = 8
PER_THREAD = 250


class ConcurrencyTest(IntegrationTest):
    def test_parallel_issuance(self):
        inst = self.instance()
        csrs = []
        for i in range(THREADS):
            _, path = make_key_and_csr(self.workdir, f"t{i}", f"thread-{i}.example")
            with open(path) as f:
                csrs.append(f.read())

        def worker(i):
            serials = []
            conn = http.client.HTTPConnection("127.0.0.1", inst.admin_port, timeout=60)
            with contextlib.closing(conn):
                for n in range(PER_THREAD):
                    body = json.dumps({"csr": csrs[i], "device": f"dev-{i}-{n % 5}", "create_device": True})
                    conn.request("POST", "/api/v1/certificates", body=body,
                                 headers={"Authorization": "Bearer " + inst.token,
                                          "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    data = resp.read()
                    if resp.status != 201:
                        raise AssertionError(f"issuance {i}/{n}: HTTP {resp.status} {data[:300]!r}")
                    serials.append(json.loads(data)["serial"])
            return serials

        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(worker, range(THREADS)))
        serials = [s for r in results for s in r]

        self.assertEqual(len(serials), THREADS * PER_THREAD)
        self.assertEqual(len(set(serials)), len(serials), "duplicate serial issued")
        with contextlib.closing(inst.ledger()) as db:
            stored = {row[0] for row in db.execute("SELECT serial FROM certificates WHERE NOT ("
                                                   + inst.SERVICE_ROWS["certificates"] + ")")}
            issue_audits = db.execute("SELECT count(*) FROM audit WHERE action = 'issue' AND actor != 'init'").fetchone()[0]
        devices = inst.count("devices")
        self.assertEqual(stored, set(serials))
        self.assertEqual(devices, THREADS * 5)  # concurrent create_if_missing made each device once
        self.assertEqual(issue_audits, len(serials))


if __name__ == "__main__":
    main()

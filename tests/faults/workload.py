"""The mixed load the fault scripts run against one `portcullis serve`: real peers only.

  scep       micromdm scepclient enrolls with the static challenge, one new device each time
  issue      POST /api/v1/certificates (the admin API), each certificate then queued for revocation
  revoke     POST /api/v1/certificates/{serial}/revoke for what `issue` received
  eap        eapol_test EAP-TLS with a certificate issued before the load
  acct       radclient Accounting-Request Start, one new Acct-Session-Id each time

Each worker records what the service acknowledged (a certificate received, a revocation
answered 2xx, an Accounting-Response) so the script can check, after a fault, that the
ledger holds exactly that. Workers keep going while the service is down (a fault script
kills and restarts it) and stop when told."""

import base64
import contextlib
import hashlib
import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

EAPOL_TIMEOUT = 3


def der_of_pem(pem):
    body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S).group(1)
    return base64.b64decode("".join(body.split()))


def fingerprint(pem):
    return hashlib.sha256(der_of_pem(pem)).hexdigest()


def serial_of_pem(path):
    out = harness.run(["openssl", "x509", "-in", path, "-noout", "-serial"]).stdout
    return re.search(r"serial=([0-9A-F]+)", out).group(1)


def enable_legacy_scep(inst):
    """micromdm scepclient 2.1.0 encrypts with single DES and signs with SHA-1."""
    with open(inst.config) as f:
        text = f.read()
    with open(inst.config, "w") as f:
        f.write(text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true"))


def static_challenge(inst):
    with open(inst.config) as f:
        return re.search(r'^static_challenge = "([^"]+)"', f.read(), re.M).group(1)


def eapol_conf(inst, folder, key, cert, name="eap"):
    conf = os.path.join(folder, f"{name}.conf")
    with open(conf, "w") as f:
        f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                f" ca_cert=\"{inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n private_key=\"{key}\"\n"
                " phase1=\"tls_disable_tlsv1_3=0\"\n}\n")
    return conf


def eapol(inst, conf, extra=(), timeout=EAPOL_TIMEOUT):
    """eapol_test's whole output and whether it printed SUCCESS."""
    proc = harness.run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(inst.radius_port),
                        "-s", harness.nas_secret(inst), "-t", str(timeout), *extra], check=False, timeout=timeout + 20)
    out = proc.stdout + proc.stderr
    return out, re.search(r"(?m)^SUCCESS$", out) is not None


def issue_client(inst, folder, device):
    """A key and certificate for `device` through `portcullis issue` (the CLI)."""
    key, csr = harness.make_key_and_csr(folder, device, f"{device}.example.net")
    pem = inst.cli("issue", "--csr", csr, "--device", device).stdout
    cert = os.path.join(folder, f"{device}.pem")
    with open(cert, "w") as f:
        f.write(pem)
    return key, cert


class Acks:
    """What the service acknowledged, per kind, thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.certificates = {}   # serial -> sha256 of the DER the client received
        self.duplicates = []     # serials received twice
        self.revoked = {}        # serial -> time the 2xx arrived
        self.accounting = {}     # Acct-Session-Id -> (time sent, time the Accounting-Response arrived)
        self.eap = {"success": 0, "failure": 0}
        self.eap_seconds = []    # duration of each successful authentication
        self.tries = {"scep": 0, "issue": 0, "revoke": 0, "eap": 0, "acct": 0}

    def certificate(self, serial, fp):
        with self.lock:
            if serial in self.certificates:
                self.duplicates.append(serial)
            self.certificates[serial] = fp

    def count(self, kind):
        with self.lock:
            self.tries[kind] += 1

    def eap_latency(self):
        """p50 and p99 of the successful authentications, in ms."""
        with self.lock:
            d = sorted(self.eap_seconds)
        if not d:
            return "-"
        return f"p50 {d[len(d) // 2] * 1000:.0f} ms, p99 {d[min(len(d) - 1, len(d) * 99 // 100)] * 1000:.0f} ms"

    def summary(self):
        with self.lock:
            return (f"certificates {len(self.certificates)}, revocations {len(self.revoked)}, accounting "
                    f"{len(self.accounting)}, EAP-TLS {self.eap['success']} ok / {self.eap['failure']} failed; "
                    f"tries {self.tries}")


class Workload:
    """Starts the workers against `inst` (which the caller may kill and restart meanwhile)."""

    def __init__(self, inst, folder, kinds=("scep", "issue", "revoke", "eap", "eap", "acct")):
        self.inst = inst
        self.folder = folder
        self.kinds = kinds
        self.acks = Acks()
        self.stop_event = threading.Event()
        self.to_revoke = queue.Queue()
        self.threads = []
        self.errors = []
        os.makedirs(folder, exist_ok=True)
        self.challenge = static_challenge(inst)
        self.ra_fingerprint = hashlib.sha256(der_of_pem(open(inst.ca("ra.pem")).read())).hexdigest()
        _, csr_path = harness.make_key_and_csr(folder, "admin-issued", "admin-issued.example")
        with open(csr_path) as f:
            self.csr = f.read()
        self.eap_key, self.eap_cert = issue_client(inst, folder, "fault-eap")
        self.eap_conf = eapol_conf(inst, folder, self.eap_key, self.eap_cert)
        self.secret = harness.nas_secret(inst)

    def start(self):
        for kind in self.kinds:
            t = threading.Thread(target=self._guard, args=(kind,), name=kind, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=60)
        if self.errors:
            raise AssertionError("workload errors:\n" + "\n".join(self.errors))

    def _guard(self, kind):
        n = 0
        while not self.stop_event.is_set():
            n += 1
            self.acks.count(kind)
            try:
                getattr(self, "_" + kind)(n)
            except (OSError, http.client.HTTPException, subprocess.TimeoutExpired):
                time.sleep(0.05)  # the service is down or restarting: try again
            except Exception as e:  # noqa: BLE001 - reported by stop()
                self.errors.append(f"{kind}: {type(e).__name__}: {e}")
                return

    # --- the workers: one request each
    def _admin(self, method, path, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.inst.admin_port, timeout=10)
        with contextlib.closing(conn):
            conn.request(method, "/api/v1" + path, body=json.dumps(body),
                         headers={"Authorization": "Bearer " + self.inst.token, "Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read()

    def _issue(self, n):
        status, data = self._admin("POST", "/certificates",
                                   {"csr": self.csr, "device": f"issued-{n % 7}", "create_device": True})
        if status == 201:
            body = json.loads(data)
            self.acks.certificate(body["serial"], fingerprint(body["certificate"]))
            self.to_revoke.put(body["serial"])

    def _revoke(self, n):
        try:
            serial = self.to_revoke.get(timeout=0.2)
        except queue.Empty:
            return
        try:
            status, _ = self._admin("POST", f"/certificates/{serial}/revoke", {"reason": "superseded"})
        except (OSError, http.client.HTTPException):
            self.to_revoke.put(serial)  # not answered: try again later
            raise
        if 200 <= status < 300:
            with self.acks.lock:
                self.acks.revoked[serial] = time.time()
        else:
            self.to_revoke.put(serial)

    def _scep(self, n):
        folder = os.path.join(self.folder, "scep", str(n))
        os.makedirs(folder)
        r = subprocess.run(["scepclient", "-server-url", f"http://127.0.0.1:{self.inst.http_port}/scep",
                            "-ca-fingerprint", self.ra_fingerprint, "-private-key", os.path.join(folder, "key.pem"),
                            "-cn", f"scep-{n}-{os.getpid()}", "-keySize", "2048", "-challenge", self.challenge],
                           capture_output=True, text=True, timeout=60)
        cert = os.path.join(folder, "client.pem")
        if r.returncode == 0 and os.path.exists(cert):
            with open(cert) as f:
                self.acks.certificate(serial_of_pem(cert), fingerprint(f.read()))

    def _eap(self, n):
        started = time.monotonic()
        _, ok = eapol(self.inst, self.eap_conf)
        with self.acks.lock:
            self.acks.eap["success" if ok else "failure"] += 1
            if ok:
                self.acks.eap_seconds.append(time.monotonic() - started)
        if not ok:
            time.sleep(0.05)

    def _acct(self, n):
        session = f"fault-{os.getpid()}-{n}"
        sent = time.time()
        r = subprocess.run(["radclient", "-r", "1", "-t", "1", "--", f"127.0.0.1:{self.inst.radius_port + 1}", "acct",
                            self.secret], input=f"Acct-Status-Type = Start\nAcct-Session-Id = \"{session}\"\n"
                            f"Calling-Station-Id = \"02-00-00-00-{n % 256:02X}-01\"\nNAS-Port = {n % 1000}\n",
                           capture_output=True, text=True, timeout=20)
        if "Received Accounting-Response" in r.stdout:
            with self.acks.lock:
                self.acks.accounting[session] = (sent, time.time())

"""FreeRADIUS 3.2 as a second RadSec peer: eapol_test and radclient -> FreeRADIUS (UDP in, a
proxy whose home server is Portcullis over RadSec/TLS with the certificate from `portcullis
nas certificate`) -> Portcullis's RadSec listener. The FreeRADIUS configuration is written
into the test's folder and the daemon runs on free loopback ports (the packaged daemon may
hold 1812/1813)."""

import os
import re
import shutil
import subprocess
import time

import test_radius
from harness import IntegrationTest, eventually, free_port, main, run

UDP_SECRET = "eapol-to-freeradius-secret"
DICTIONARY_DIR = "/usr/share/freeradius"


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def radiusd_conf(workdir, auth_port, acct_port, radsec_port, nas):
    """A FreeRADIUS 3.2 radiusd.conf that proxies every request to Portcullis over RadSec."""
    cert, key, ca = (os.path.join(nas, f) for f in ("wlc-1.pem", "wlc-1.key", "ca.pem"))
    return f"""
prefix = /usr
confdir = {workdir}
raddbdir = {workdir}
logdir = {workdir}
run_dir = {workdir}
libdir = /usr/lib/freeradius
dictdir = {DICTIONARY_DIR}
pidfile = {workdir}/radiusd.pid
max_request_time = 30
proxy_requests = yes

log {{
    destination = stdout
    auth = yes
}}

security {{
    allow_vulnerable_openssl = yes
}}

client eapol {{
    ipaddr = 127.0.0.1
    secret = {UDP_SECRET}
}}

proxy server {{
    default_fallback = no
}}

# RFC 6614 §2.3: the RADIUS secret over TLS is "radsec".
home_server portcullis {{
    type = auth+acct
    ipaddr = 127.0.0.1
    port = {radsec_port}
    proto = tcp
    secret = radsec
    status_check = none
    response_window = 20
    tls {{
        certificate_file = {cert}
        private_key_file = {key}
        ca_file = {ca}
        tls_min_version = "1.2"
        tls_max_version = "1.3"
        # The largest RADIUS packet it will read from the connection; its default is
        # smaller than an Access-Challenge carrying a full EAP-TLS fragment (RFC 6614 §2.5: 4096).
        fragment_size = 4096
    }}
}}

home_server_pool portcullis {{
    type = fail-over
    home_server = portcullis
}}

realm portcullis {{
    auth_pool = portcullis
    acct_pool = portcullis
}}

modules {{
}}

server default {{
    listen {{
        type = auth
        ipaddr = 127.0.0.1
        port = {auth_port}
    }}
    listen {{
        type = acct
        ipaddr = 127.0.0.1
        port = {acct_port}
    }}
    authorize {{
        update control {{
            &Proxy-To-Realm := "portcullis"
        }}
    }}
    authenticate {{
    }}
    preacct {{
        update control {{
            &Proxy-To-Realm := "portcullis"
        }}
    }}
    accounting {{
    }}
    post-auth {{
    }}
    pre-proxy {{
    }}
    post-proxy {{
    }}
}}
"""


class FreeRadiusPeerTest(IntegrationTest):
    issue = test_radius.RadiusTest.issue
    eapol = test_radius.RadiusTest.eapol
    assert_success = test_radius.RadiusTest.assert_success

    def setUp(self):
        super().setUp()
        if shutil.which("freeradius") is None:
            self.fail("freeradius is not installed (deploy/install-deps.sh installs it)")
        self.freeradius = None

    def tearDown(self):
        if self.freeradius is not None:
            proc, log = self.freeradius
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
            log.close()
            if self._failed():
                with open(log.name, errors="replace") as f:
                    print(f"\n===== freeradius log ({log.name}) =====\n{f.read()}\n===== end =====")
        super().tearDown()

    def radsec_instance(self):
        inst = self.instance()
        nas = os.path.join(self.workdir, "nas")
        inst.cli("nas", "certificate", "--name", "wlc-1", "--out", nas)
        inst.stop()
        inst.radsec_port = free_port()
        with open(inst.config, "a") as f:
            f.write(f"\n[radsec]\nenabled = true\nport = {inst.radsec_port}\n"
                    "\n[[radius.clients]]\nname = \"wlc-1\"\ntransport = \"radsec\"\ncertificate_name = \"wlc-1\"\n")
        inst.start()
        return inst, nas

    def start_freeradius(self, inst, nas):
        """FreeRADIUS on two free UDP ports; its auth and acct ports."""
        conf_dir = os.path.join(self.workdir, "freeradius")
        os.makedirs(conf_dir)
        auth_port, acct_port = free_port(), free_port()
        with open(os.path.join(conf_dir, "radiusd.conf"), "w") as f:
            f.write(radiusd_conf(conf_dir, auth_port, acct_port, inst.radsec_port, nas))
        # The configuration is checked first, so a mistake in it reads as one.
        check = run(["freeradius", "-C", "-d", conf_dir], check=False, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        log = open(os.path.join(self.workdir, "freeradius.log"), "w")
        proc = subprocess.Popen(["freeradius", "-f", "-x", "-l", "stdout", "-d", conf_dir], stdout=log,
                                stderr=subprocess.STDOUT)
        self.freeradius = (proc, log)
        eventually(lambda: read_text(log.name),
                   lambda text: "Ready to process requests" in text or proc.poll() is not None, timeout=20)
        self.assertIsNone(proc.poll(), "freeradius exited at start")
        return auth_port, acct_port

    def test_eap_tls_13_and_12_and_accounting_through_freeradius(self):
        inst, nas = self.radsec_instance()
        auth_port, acct_port = self.start_freeradius(inst, nas)
        key, cert, serial = self.issue(inst, "laptop-fr")
        # MPPE keys: Portcullis hides them with "radsec", FreeRADIUS re-hides them with the
        # UDP secret; eapol_test compares them with the ones it derived (RFC 5216 §2.3).
        out13 = self.eapol(inst, key, cert, tls13=True, port=auth_port, secret=UDP_SECRET, mac="02:00:00:fe:ed:01")
        self.assert_success(out13, "TLSv1.3")
        self.assert_success(self.eapol(inst, key, cert, tls13=False, port=auth_port, secret=UDP_SECRET), "TLSv1.2")
        self.assertRegex(inst.log(), r"radsec: NAS wlc-1 connected from 127\.0\.0\.1:\d+ \(TLSv1\.[23], our certificate\)")
        events = eventually(lambda: inst.api("GET", "/events?nas=wlc-1&outcome=accept", expect=200)[1]["events"],
                            lambda e: len(e) >= 2)
        self.assertEqual({e["device"] for e in events}, {"laptop-fr"})

        # Accounting through the same proxy and TLS connection, linked to the certificate by
        # the Class the Access-Accept carried.
        token = bytes.fromhex(re.search(r"Attribute 25 \(Class\) length=\d+\n\s+Value: ([0-9a-f]+)", out13).group(1))
        start = run(["radclient", "-x", "-r", "1", "-t", "10", "--", f"127.0.0.1:{acct_port}", "acct", UDP_SECRET],
                    check=False, timeout=30,
                    input="Acct-Status-Type = Start\nAcct-Session-Id = \"fr-sess-1\"\n"
                          "Calling-Station-Id = \"02-00-00-FE-ED-01\"\nUser-Name = \"anonymous@example\"\n"
                          f"Class = 0x{token.hex()}\n")
        self.assertIn("Received Accounting-Response", start.stdout, start.stdout + start.stderr)
        sessions = eventually(lambda: inst.api("GET", "/sessions?live=true", expect=200)[1]["sessions"],
                              lambda rows: any(r["acct_session_id"] == "fr-sess-1" for r in rows))
        row = next(r for r in sessions if r["acct_session_id"] == "fr-sess-1")
        self.assertEqual((row["nas"], row["serial"], row["device"]), ("wlc-1", serial, "laptop-fr"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Builds a private FreeRADIUS 3.2 configuration for EAP-TLS benchmarking against the same
certificates as Portcullis (docs/performance.md, "EAP-TLS over RADIUS").

  make_config.py --out DIR --port N --secret S --cert SERVER.pem --key SERVER.key
                 --chain CHAIN.pem --ca CA_BUNDLE.pem [--source /etc/freeradius/3.0]
  then: freeradius -f -d DIR            (never -X when timing: debug output costs CPU)

What changes against the Debian stock tree (copied, symlinks kept):
- radiusd.conf: every path (logs, run dir, pid file, db dir) under DIR; no user/group
  switch (the private tree may not be readable by `freerad`); log to DIR/log/radius.log.
- sites-enabled: only a lean `bench` site listening on 127.0.0.1:PORT (auth) that runs the
  eap module; the stock `default` (listens on *:1812/1813 and [::]) and `inner-tunnel`
  (127.0.0.1:18120) sites are disabled, so nothing binds a fixed port.
- clients.conf: one client, 127.0.0.1, the given secret, require_message_authenticator.
- mods-enabled/eap: default_eap_type = tls; the server certificate + chain and the CA
  bundle Portcullis uses; TLS 1.2..1.3; session cache on (resumption, persisted under
  DIR/tlscache: FreeRADIUS 3.2's only built-in store); no ttls/peap
  (they would need the inner-tunnel site).
Standard library only.
"""

import argparse
import os
import re
import shutil
import sys

EAP_MODULE = """# Written by tests/bench/freeradius/make_config.py: EAP-TLS only, Portcullis certificates.
eap {{
	default_eap_type = tls
	timer_expire = 60
	ignore_unknown_eap_types = no
	cisco_accounting_username_bug = no
	# Stock value (${{max_requests}} = 16384): the bound the half-open benchmark probes.
	max_sessions = ${{max_requests}}

	tls-config tls-common {{
		private_key_file = {key}
		# Server certificate followed by the issuing CA: the peer trusts only the root.
		certificate_file = {cert_chain}
		ca_file = {ca}
		cipher_list = "DEFAULT"
		cipher_server_preference = no
		tls_min_version = "1.2"
		tls_max_version = "1.3"
		ecdh_curve = ""
		fragment_size = {fragment_size}
		# Resumption. FreeRADIUS 3.2 disabled OpenSSL's internal session cache: sessions
		# resume only through "name" + "persist_dir" (two files per session, the stock
		# documented way) or a tls-cache virtual server. We use the files, on DIR.
		cache {{
			enable = yes
			lifetime = 24 # hours
			name = "portcullis-bench"
			persist_dir = "{tlscache}"
		}}
		verify {{
		}}
		ocsp {{
			enable = no
		}}
	}}

	tls {{
		tls = tls-common
	}}
}}
"""

SITE = """# Written by tests/bench/freeradius/make_config.py: one loopback auth listener, EAP only.
server bench {{
listen {{
	type = auth
	ipaddr = 127.0.0.1
	port = {port}
}}
authorize {{
	eap {{
		ok = return
	}}
}}
authenticate {{
	Auth-Type eap {{
		eap
	}}
}}
post-auth {{
	Post-Auth-Type REJECT {{
		eap
	}}
}}
}}
"""

CLIENTS = """# Written by tests/bench/freeradius/make_config.py.
client bench {{
	ipaddr = 127.0.0.1
	secret = {secret}
	require_message_authenticator = yes
	nas_type = other
}}
"""


def build(out, port, secret, cert, key, chain, ca, source="/etc/freeradius/3.0", fragment_size=1024):
    """Creates OUT (must not exist) and returns it."""
    out = os.path.abspath(out)
    shutil.copytree(source, out, symlinks=True)
    for sub in ("log", "run", "tls", "tlscache"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    os.chmod(os.path.join(out, "tlscache"), 0o700)

    # Server certificate + chain in one file, as FreeRADIUS's certificate_file expects.
    tls_dir = os.path.join(out, "tls")
    cert_chain = os.path.join(tls_dir, "server-chain.pem")
    with open(cert_chain, "w") as f:
        for path in (cert, chain):
            with open(path) as src:
                pem = src.read()
            # chain.pem may repeat the root: harmless, the peer has it anyway.
            f.write(pem if pem.endswith("\n") else pem + "\n")
    key_copy = os.path.join(tls_dir, "server.key")
    shutil.copyfile(key, key_copy)
    os.chmod(key_copy, 0o600)
    ca_copy = os.path.join(tls_dir, "ca.pem")
    shutil.copyfile(ca, ca_copy)

    conf_path = os.path.join(out, "radiusd.conf")
    with open(conf_path) as f:
        conf = f.read()
    conf = re.sub(r"(?m)^logdir = .*$", f"logdir = {out}/log", conf)
    conf = re.sub(r"(?m)^raddbdir = .*$", f"raddbdir = {out}", conf)
    conf = re.sub(r"(?m)^run_dir = .*$", f"run_dir = {out}/run", conf)
    conf = re.sub(r"(?m)^db_dir = .*$", f"db_dir = {out}", conf)
    # No privilege drop: we run as whoever started us, on files only we can read.
    conf = re.sub(r"(?m)^(\s*)(user|group) = freerad\s*$", r"\1#\2 = freerad", conf)
    with open(conf_path, "w") as f:
        f.write(conf)

    enabled = os.path.join(out, "sites-enabled")
    for name in os.listdir(enabled):
        os.unlink(os.path.join(enabled, name))
    with open(os.path.join(out, "sites-available", "bench"), "w") as f:
        f.write(SITE.format(port=port))
    os.symlink("../sites-available/bench", os.path.join(enabled, "bench"))

    with open(os.path.join(out, "clients.conf"), "w") as f:
        f.write(CLIENTS.format(secret=secret))

    eap_path = os.path.join(out, "mods-available", "eap")
    with open(eap_path, "w") as f:
        f.write(EAP_MODULE.format(key=key_copy, cert_chain=cert_chain, ca=ca_copy, fragment_size=fragment_size,
                                  tlscache=os.path.join(out, "tlscache")))
    link = os.path.join(out, "mods-enabled", "eap")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink("../mods-available/eap", link)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--cert", required=True, help="server certificate (PEM)")
    ap.add_argument("--key", required=True, help="server private key (PEM)")
    ap.add_argument("--chain", required=True, help="issuing CA (+ root) to send after the certificate")
    ap.add_argument("--ca", required=True, help="CA bundle that verifies client certificates (root + issuing)")
    ap.add_argument("--source", default="/etc/freeradius/3.0")
    ap.add_argument("--fragment-size", type=int, default=1024)
    a = ap.parse_args()
    out = build(a.out, a.port, a.secret, a.cert, a.key, a.chain, a.ca, a.source, a.fragment_size)
    print(f"FreeRADIUS config in {out}; run: freeradius -f -d {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

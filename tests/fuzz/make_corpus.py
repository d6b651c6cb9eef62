#!/usr/bin/env python3
"""Regenerates the fuzz seed corpora (tests/fuzz/corpus/<target>/) from real traffic.

It starts a Portcullis instance as the integration tests do (tests/integration/harness.py),
puts recording relays in front of its RADIUS and HTTP listeners, and drives real peers
through them: eapol_test (EAP-TLS 1.2 and 1.3, two fragment sizes), radclient (accounting,
Status-Server), micromdm scepclient and strongSwan pki (SCEP), openssl ocsp -reqout. The
recorded bytes become seeds in each target's input format (see each tests/fuzz/*.cpp):

  radius_packet, radius_differential   each datagram, re-signed for the fuzzers' secret
  eap_conversation                      one file per conversation: the joined EAP-Messages
  http_request, scep_http, scep_pki_message, text_codecs   the recorded HTTP requests
  ocsp_request, csr_issue, config_toml, policy_rules, reply_resolver, admin_json

The fuzzers bootstrap a CA of their own at startup (tests/fuzz/support/ca_stack.hpp), so
no key is kept: the recorded SCEP envelopes are decrypted here, with the recording
instance's RA key, and their content becomes seeds for the targets' wrapping modes
(scep_pki_message octet bit 1, scep_http bit 4), which encrypt it to the fuzzers' RA. The
instance runs with the static challenge scep_http.cpp expects (STATIC_CHALLENGE).

    PORTCULLIS_BIN=build/app/portcullis python3 tests/fuzz/make_corpus.py
"""

import base64
import hashlib
import hmac
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from harness import Instance, make_key_and_csr, nas_secret, run  # noqa: E402

STATIC_CHALLENGE = "DAF94A9192BDDFECA38BC3D90B13C8F7"  # tests/fuzz/scep_http.cpp
FUZZ_SECRET = b"fuzzing-secret"  # support/radius_fixup.hpp kSecret
FUZZ_REQUEST_AUTH = bytes.fromhex("112233445566778899aabbccddeeff00")  # kRequestAuthenticator
REPLY_CODES = {2, 3, 5, 11, 41, 42, 44, 45}
HASHED_REQUEST_CODES = {4, 40, 43}
MESSAGE_AUTHENTICATOR = 80
EAP_MESSAGE = 79


# ---- recording relays -------------------------------------------------------------------

class UdpRecorder:
    """Forwards datagrams between one client and the server, recording both directions."""

    def __init__(self, server_port):
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.back.connect(("127.0.0.1", server_port))
        self.sent, self.received = [], []
        self._client = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            for sock in ready:
                data, source = sock.recvfrom(8192)
                if sock is self.front:
                    self._client = source
                    self.sent.append(data)
                    self.back.send(data)
                elif self._client is not None:
                    self.received.append(data)
                    self.front.sendto(data, self._client)

    def take(self):
        sent, received = self.sent, self.received
        self.sent, self.received = [], []
        return sent, received

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.front.close()
        self.back.close()


class TcpRecorder:
    """A TCP relay that records what each client connection sent."""

    def __init__(self, server_port):
        self.server_port = server_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.streams = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client):
        server = socket.create_connection(("127.0.0.1", self.server_port))
        recorded = bytearray()
        with self._lock:
            self.streams.append(recorded)
        socks = [client, server]
        try:
            while True:
                ready, _, _ = select.select(socks, [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is client:
                        recorded.extend(data)
                        server.sendall(data)
                    else:
                        client.sendall(data)
        finally:
            client.close()
            server.close()

    def requests(self):
        """Each recorded HTTP request as raw bytes (Content-Length framing)."""
        out = []
        with self._lock:
            streams = [bytes(s) for s in self.streams]
        for stream in streams:
            while stream:
                end = stream.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = stream[:end + 4]
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                length = int(m.group(1)) if m else 0
                out.append(stream[:end + 4 + length])
                stream = stream[end + 4 + length:]
        return out

    def close(self):
        self.listener.close()


# ---- RADIUS helpers ---------------------------------------------------------------------

def attributes(packet):
    at, length = 20, struct.unpack("!H", packet[2:4])[0]
    while at + 2 <= length:
        t, n = packet[at], packet[at + 1]
        if n < 2:
            return
        yield at, t, packet[at + 2:at + n]
        at += n


def resign(packet):
    """Re-signs a datagram for the fuzzers' secret, as support/radius_fixup.hpp does."""
    p = bytearray(packet)
    code = p[0]
    mas = [at for at, t, v in attributes(p) if t == MESSAGE_AUTHENTICATOR and len(v) == 16]
    if len(mas) == 1:
        if code in REPLY_CODES:
            header_auth = FUZZ_REQUEST_AUTH
        elif code in HASHED_REQUEST_CODES:
            header_auth = bytes(16)
        else:
            header_auth = bytes(p[4:20])
        p[mas[0] + 2:mas[0] + 18] = bytes(16)
        p[mas[0] + 2:mas[0] + 18] = hmac.new(FUZZ_SECRET, bytes(p[:4]) + header_auth + bytes(p[20:]),
                                             hashlib.md5).digest()
    if code in REPLY_CODES or code in HASHED_REQUEST_CODES:
        auth = FUZZ_REQUEST_AUTH if code in REPLY_CODES else bytes(16)
        p[4:20] = hashlib.md5(bytes(p[:4]) + auth + bytes(p[20:]) + FUZZ_SECRET).digest()
    return bytes(p)


def joined_eap(packet):
    return b"".join(v for _, t, v in attributes(packet) if t == EAP_MESSAGE)


# ---- output -----------------------------------------------------------------------------

class Corpus:
    def __init__(self, root):
        self.root = root
        self.counts = {}

    def add(self, target, data):
        folder = os.path.join(self.root, target)
        os.makedirs(folder, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
        self.counts[target] = self.counts.get(target, 0) + 1


def frame(messages):
    return b"".join(struct.pack("!H", len(m)) + m for m in messages)


# ---- traffic ----------------------------------------------------------------------------

def issue(inst, work, device, key="ec"):
    key_path, csr = make_key_and_csr(work, device, f"{device}.example.net", key=key)
    cert = os.path.join(work, f"{device}.pem")
    with open(cert, "w") as f:
        f.write(inst.cli("issue", "--csr", csr, "--device", device).stdout)
    return key_path, csr, cert


def eap_traffic(inst, work, corpus):
    relay = UdpRecorder(inst.radius_port)
    secret = nas_secret(inst)
    try:
        for i, (key, tls13, fragment) in enumerate([("ec", True, 1398), ("rsa2048", False, 500), ("ec", False, 1398)]):
            key_path, _, cert = issue(inst, work, f"fuzz-peer-{i}", key)
            conf = os.path.join(work, f"eapol-{i}.conf")
            with open(conf, "w") as f:
                f.write("network={\n key_mgmt=WPA-EAP\n eap=TLS\n identity=\"anonymous@example\"\n"
                        f" ca_cert=\"{inst.ca('root.pem')}\"\n client_cert=\"{cert}\"\n"
                        f" private_key=\"{key_path}\"\n fragment_size={fragment}\n"
                        f" phase1=\"tls_disable_tlsv1_3={0 if tls13 else 1}\"\n}}\n")
            run(["eapol_test", "-c", conf, "-a", "127.0.0.1", "-p", str(relay.port), "-s", secret, "-t", "10"],
                check=False, timeout=40)
            sent, received = relay.take()
            requests = [p for p in sent if p[0] == 1]
            # One byte of Framed-MTU choice (0: none), then the EAP-Responses in order.
            corpus.add("eap_conversation", b"\x00" + frame([joined_eap(p) for p in requests]))
            for p in requests[:2] + requests[-1:]:
                corpus.add("radius_packet", resign(p))
                corpus.add("radius_differential", resign(p))
            for p in received[:1] + received[-1:]:
                corpus.add("radius_differential", resign(p))
        # Accounting and Status-Server from radclient.
        for code, attrs in [("acct", "User-Name = \"fuzz\"\nAcct-Status-Type = Start\nAcct-Session-Id = \"s1\"\n"
                                     "Calling-Station-Id = \"02-00-00-00-00-01\"\nFramed-IP-Address = 10.1.2.3\n"),
                            ("acct", "Acct-Status-Type = Stop\nAcct-Session-Id = \"s1\"\nAcct-Input-Octets = 1234\n"
                                     "Acct-Terminate-Cause = User-Request\n"),
                            ("status", "Message-Authenticator = 0x00\n")]:
            subprocess.run(["radclient", "-x", "-r", "1", "-t", "3", f"127.0.0.1:{relay.port}", code, secret],
                           input=attrs.encode(), capture_output=True, timeout=30)
            sent, received = relay.take()
            for p in sent[:1] + received[:1]:
                corpus.add("radius_packet", resign(p))
                corpus.add("radius_differential", resign(p))
    finally:
        relay.close()


def scep_traffic(inst, work, corpus):
    proxy = TcpRecorder(inst.http_port)
    url = f"http://127.0.0.1:{proxy.port}/scep"
    with open(inst.config) as f:
        static = re.search(r'^static_challenge = "([^"]+)"', f.read(), re.M).group(1)
    try:
        der = subprocess.run(["openssl", "x509", "-in", inst.ca("ra.pem"), "-outform", "DER"], capture_output=True,
                             check=True).stdout
        ra_fp = hashlib.sha256(der).hexdigest()
        folder = os.path.join(work, "scepclient")
        os.makedirs(folder, exist_ok=True)
        subprocess.run(["scepclient", "-server-url", url, "-ca-fingerprint", ra_fp, "-private-key",
                        os.path.join(folder, "key.pem"), "-cn", "fuzz-scepclient", "-keySize", "2048",
                        "-challenge", static], capture_output=True, timeout=120)
        ca, ra = os.path.join(work, "ca.crt"), os.path.join(work, "ra.crt")
        run(["pki", "--scepca", "--url", url, "--caout", ca, "--raout", ra])
        key = os.path.join(work, "k.der")
        with open(key, "wb") as f:
            f.write(subprocess.run(["pki", "--gen", "--type", "rsa", "--size", "2048"], capture_output=True,
                                   check=True).stdout)
        subprocess.run(["pki", "--scep", "--url", url, "--in", key, "--dn", "CN=fuzz-pki", "--password", static,
                        "--cacert-enc", ra, "--cacert-sig", ra, "--cacert", ca, "--cipher", "aes", "--digest",
                        "sha256", "--interval", "1", "--maxpolltime", "10", "--outform", "pem"],
                       capture_output=True, timeout=120)
    finally:
        proxy.close()
    methods = {b"GET": 0, b"POST": 1, b"HEAD": 2, b"PUT": 3}
    for raw in proxy.requests():
        corpus.add("http_request", b"\x40" + raw)
        head, _, body = raw.partition(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n")[0].split(b" ", 2)
        query = target.partition(b"?")[2]
        corpus.add("scep_http", bytes([methods.get(method, 0)]) + query + b"\n" + body)
        corpus.add("text_codecs", query)
        params = urllib.parse.parse_qs(query.decode(), keep_blank_values=True)
        if params.get("operation") != ["PKIOperation"]:
            continue
        message = body if method == b"POST" else None
        if message is None and "message" in params:
            message = base64.b64decode(params["message"][0] + "==")
        if message:
            # One byte choosing the crypto policy: 1 allows scepclient's DES and SHA-1.
            corpus.add("scep_pki_message", b"\x01" + message)


def ocsp_requests(inst, work, corpus):
    _, _, cert = issue(inst, work, "fuzz-ocsp")
    for extra in ([], ["-no_nonce"], ["-sha256"]):
        out = os.path.join(work, "ocsp.req")
        run(["openssl", "ocsp", "-issuer", inst.ca("issuing.pem"), *extra, "-cert", cert, "-reqout", out])
        with open(out, "rb") as f:
            corpus.add("ocsp_request", f.read())
    # Two certificates in one request.
    run(["openssl", "ocsp", "-issuer", inst.ca("issuing.pem"), "-cert", cert, "-cert", inst.ca("server.pem"),
         "-reqout", out])
    with open(out, "rb") as f:
        corpus.add("ocsp_request", f.read())


def csrs(work, corpus):
    for key, extra in [("ec", ""), ("rsa2048", ""), ("ec", "subjectAltName=DNS:laptop-1.example.net,email:a@example.net\n"),
                       ("ec", "basicConstraints=critical,CA:TRUE\n")]:
        _, csr = make_key_and_csr(work, f"csr-{key}-{len(extra)}", "laptop-1", key=key, extra_config=extra)
        with open(csr, "rb") as f:
            pem = f.read()
        names = b"laptop-1\nlaptop-1\ndns:laptop-1.example.net\n"
        corpus.add("csr_issue", b"\x04" + names + pem)   # device profile, re-signed
        corpus.add("csr_issue", b"\x01" + names + pem)   # server profile, as sent
        der = subprocess.run(["openssl", "req", "-in", csr, "-outform", "DER"], capture_output=True, check=True).stdout
        corpus.add("csr_issue", b"\x04" + names + der)


def configs(inst, corpus):
    with open(inst.config, "rb") as f:
        corpus.add("config_toml", f.read())


def policies(corpus):
    with open(os.path.join(ROOT, "docs", "policy.md")) as f:
        text = f.read()
    for block in re.findall(r"```toml\n(.*?)```", text, re.S):
        corpus.add("policy_rules", block.encode())


def handwritten(corpus):
    for name, value in [("Tunnel-Type", "VLAN"), ("Tunnel-Private-Group-Id:1", "120"), ("Session-Timeout", "3600"),
                        ("Filter-Id", "employees"), ("Aruba-User-Role", "employee"),
                        ("Cisco-AVPair", "shell:priv-lvl=15"), ("Framed-IP-Address", "10.0.0.1"),
                        ("Class", "0x0102"), ("Tunnel-Medium-Type", "IEEE-802")]:
        corpus.add("reply_resolver", b"\x00" + f"{name}\n{value}".encode())
    for selector, body in [(0, '{"name":"laptop-1","display_name":"Laptop","owner":"ann","groups":["staff"]}'),
                           (1, '{"reason":"keyCompromise"}'),
                           (2, '{"devices":[1,"laptop-2"],"reason":"superseded"}'),
                           (3, '{"csr":"-----BEGIN CERTIFICATE REQUEST-----","device":"d","profile":"device",'
                               '"create_device":true,"cn":"d","sans":["dns:d.example"]}'),
                           (4, '{"device":"router-1","cn":"router-1","ttl_seconds":600}'),
                           (6, "2026-01-02T03:04:05Z"), (7, "0A:1B:2C")]:
        corpus.add("admin_json", bytes([selector]) + body.encode())
    corpus.add("text_codecs", b"operation=PKIOperation&message=MIIB%2Bw%3D%3D")
    corpus.add("text_codecs", b"/devices/laptop%201/profile/apple")


def inner_scep_seeds(inst, corpus):
    """The decrypted pkcsPKIEnvelope contents of the recorded pkiMessages, as seeds for the
    wrapping modes: scep_pki_message octet bit 1, scep_http bit 4 (a POSTed PKCSReq)."""
    folder = os.path.join(corpus.root, "scep_pki_message")
    with tempfile.TemporaryDirectory() as work:
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as f:
                seed = f.read()
            if seed[0] & 2:
                continue
            message, envelope, inner = (os.path.join(work, n) for n in ("m.der", "env.der", "inner.der"))
            with open(message, "wb") as f:
                f.write(seed[1:])
            ok = subprocess.run(["openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", message,
                                 "-out", envelope], capture_output=True).returncode == 0
            # The legacy provider: scepclient encrypts with single DES.
            ok = ok and subprocess.run(["openssl", "cms", "-decrypt", "-provider", "legacy", "-provider", "default",
                                        "-inform", "DER", "-in", envelope, "-recip", inst.ca("ra.pem"),
                                        "-inkey", inst.ca("ra.key"), "-out", inner], capture_output=True).returncode == 0
            if ok:
                with open(inner, "rb") as f:
                    content = f.read()
                corpus.add("scep_pki_message", b"\x02" + content)  # PKCSReq (type 19)
                corpus.add("scep_http", b"\x11" + b"operation=PKIOperation\n" + content)  # POST, wrapped


def main():
    corpus_root = os.path.join(HERE, "corpus")
    shutil.rmtree(corpus_root, ignore_errors=True)
    corpus = Corpus(corpus_root)
    with tempfile.TemporaryDirectory(prefix="portcullis-corpus-") as work:
        inst = Instance(work)
        with open(inst.config) as f:
            text = f.read()
        text = text.replace("allow_legacy_crypto = false", "allow_legacy_crypto = true")  # scepclient: DES
        text = re.sub(r'(?m)^static_challenge = "[^"]*"', f'static_challenge = "{STATIC_CHALLENGE}"', text)
        with open(inst.config, "w") as f:
            f.write(text)
        inst.start()
        try:
            eap_traffic(inst, work, corpus)
            scep_traffic(inst, work, corpus)
            ocsp_requests(inst, work, corpus)
            csrs(work, corpus)
            configs(inst, corpus)
            inner_scep_seeds(inst, corpus)
        finally:
            inst.stop()
        policies(corpus)
        handwritten(corpus)
    for target, n in sorted(corpus.counts.items()):
        print(f"{target}: {n} seeds")


if __name__ == "__main__":
    main()

"""SCEP GetCRL (RFC 8894 §3.3.4) against the real binary. No packaged SCEP client sends
GetCRL (micromdm scepclient and strongSwan pki do not), so the request is assembled here
from openssl-made parts: `openssl cms -encrypt` makes the pkcsPKIEnvelope to the RA, the
SignedData around it is DER written below and signed with `openssl dgst -sign`. The
reply is opened with `openssl cms -verify` / `-decrypt` and `openssl pkcs7 -print_certs`,
and the CRL in it must be the one /crl serves, listing the certificate revoked through
the CLI. The SCEP counters of the admin API count both outcomes."""

import contextlib
import hashlib
import os
import re
import subprocess
import time

from harness import IntegrationTest, main, make_key_and_csr, run


# --- minimal DER (X.690) writer and reader
def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def seq(*parts):
    return tlv(0x30, b"".join(parts))


def der_set(*parts):
    return tlv(0x31, b"".join(sorted(parts)))   # DER: SET OF sorted by encoding


def oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    body = bytes([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, body)


def read_tlv(data, pos):
    """(tag, start of the whole TLV, start of content, end) of the TLV at pos."""
    tag = data[pos]
    n = data[pos + 1]
    head = 2
    if n & 0x80:
        count = n & 0x7F
        n = int.from_bytes(data[pos + 2:pos + 2 + count], "big")
        head += count
    return tag, pos, pos + head, pos + head + n


def issuer_and_serial(cert_der):
    """The issuer Name and serial INTEGER TLVs of a certificate (RFC 5280 §4.1)."""
    _, _, cert_body, _ = read_tlv(cert_der, 0)
    _, _, pos, _ = read_tlv(cert_der, cert_body)            # tbsCertificate
    tag, start, _, end = read_tlv(cert_der, pos)
    if tag == 0xA0:                                         # [0] version
        tag, start, _, end = read_tlv(cert_der, end)
    serial = cert_der[start:end]
    _, _, _, end = read_tlv(cert_der, end)                  # signature AlgorithmIdentifier
    _, start, _, end = read_tlv(cert_der, end)              # issuer
    return cert_der[start:end], serial


SHA256 = seq(oid("2.16.840.1.101.3.4.2.1"), tlv(0x05, b""))
RSA = seq(oid("1.2.840.113549.1.1.1"), tlv(0x05, b""))
DATA = oid("1.2.840.113549.1.7.1")
SCEP = "2.16.840.1.113733.1.9."


def attribute(dotted, value):
    return seq(oid(dotted), der_set(value))


def der_of(path, kind="x509"):
    return run_bytes(["openssl", kind, "-in", path, "-outform", "DER"])


def run_bytes(cmd, data=None):
    return subprocess.run(cmd, input=data, capture_output=True, check=True, timeout=60).stdout


class ScepGetCrlTest(IntegrationTest):
    def requester(self):
        """The requester's RSA key and self-signed certificate, as SCEP clients make them."""
        key = os.path.join(self.workdir, "requester.key")
        cert = os.path.join(self.workdir, "requester.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
             "-subj", "/CN=crl-client", "-days", "1"])
        return key, cert

    def pki_message(self, inst, key, cert, message_type, message_data, transaction):
        """RFC 8894 §3: SignedData(requester){ EnvelopedData(RA){ message_data } }."""
        data_path = os.path.join(self.workdir, f"{transaction}.msg")
        with open(data_path, "wb") as f:
            f.write(message_data)
        envelope = run_bytes(["openssl", "cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", "-in", data_path,
                              inst.ca("ra.pem")])
        attrs = [
            attribute("1.2.840.113549.1.9.3", DATA),                                            # contentType
            attribute("1.2.840.113549.1.9.4", tlv(0x04, hashlib.sha256(envelope).digest())),    # messageDigest
            attribute(SCEP + "2", tlv(0x13, str(message_type).encode())),                       # messageType
            attribute(SCEP + "7", tlv(0x13, transaction.encode())),                             # transactionID
            attribute(SCEP + "5", tlv(0x04, os.urandom(16))),                                   # senderNonce
        ]
        signed_attrs = der_set(*attrs)
        # RFC 5652 §5.4: the signature is over the DER of the SET OF attributes.
        signature = run_bytes(["openssl", "dgst", "-sha256", "-sign", key], signed_attrs)
        cert_der = der_of(cert)
        issuer, serial = issuer_and_serial(cert_der)
        signer_info = seq(tlv(0x02, b"\x01"), seq(issuer, serial), SHA256,
                          tlv(0xA0, signed_attrs[read_tlv(signed_attrs, 0)[2]:]),   # [0] IMPLICIT SET OF
                          RSA, tlv(0x04, signature))
        signed_data = seq(tlv(0x02, b"\x01"), der_set(SHA256),
                          seq(DATA, tlv(0xA0, tlv(0x04, envelope))),
                          tlv(0xA0, cert_der), der_set(signer_info))
        return seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, signed_data))

    def post(self, inst, message):
        status, body = inst.http("POST", "/scep/pkiclient.exe?operation=PKIOperation", body=message,
                                 headers={"Content-Type": "application/x-pki-message"})
        self.assertEqual(status, 200, body[:200])
        path = os.path.join(self.workdir, f"reply-{len(os.listdir(self.workdir))}.der")
        with open(path, "wb") as f:
            f.write(body)
        return path

    def status_of(self, reply):
        """pkiStatus and failInfo of a CertRep, from openssl's dump of the signed attributes."""
        dump = run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", reply]).stdout
        values = {}
        for number, value in re.findall(r"object: (?:undefined )?\(?" + re.escape(SCEP) + r"(\d)\)?\s+set:\s+"
                                        r"PRINTABLESTRING:(\S+)", dump):
            values[number] = value
        return values.get("3"), values.get("4"), values.get("2")

    def test_get_crl_returns_the_published_crl_with_the_revoked_serial(self):
        inst = self.instance()
        _, csr = make_key_and_csr(self.workdir, "victim", "victim-1")
        issued = inst.cli("issue", "--csr", csr, "--device", "victim-1")
        victim = os.path.join(self.workdir, "victim.pem")
        with open(victim, "w") as f:
            f.write(issued.stdout)
        serial = run(["openssl", "x509", "-in", victim, "-noout", "-serial"]).stdout.strip().split("=")[1]
        inst.cli("revoke", "--serial", serial, "--reason", "keyCompromise")

        key, cert = self.requester()
        issuer, serial_tlv = issuer_and_serial(der_of(victim))
        reply = self.post(inst, self.pki_message(inst, key, cert, 22, seq(issuer, serial_tlv), "getcrl-1"))
        self.assertEqual(self.status_of(reply), ("0", None, "3"))

        # Signed by the RA, whose chain ends at our root.
        inner = os.path.join(self.workdir, "inner.der")
        # openssl 3.0 `cms -verify` has no -untrusted: root and issuing CA as one CA file.
        bundle = os.path.join(self.workdir, "ca-bundle.pem")
        with open(bundle, "w") as f:
            for name in ("root.pem", "issuing.pem"):
                with open(inst.ca(name)) as c:
                    f.write(c.read())
        run(["openssl", "cms", "-verify", "-inform", "DER", "-in", reply, "-binary", "-CAfile", bundle,
             "-purpose", "any", "-out", inner])
        signer = run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", reply]).stdout
        self.assertIn("Portcullis SCEP RA", signer)
        degenerate = os.path.join(self.workdir, "degenerate.der")
        run(["openssl", "cms", "-decrypt", "-inform", "DER", "-in", inner, "-binary", "-recip", cert, "-inkey", key,
             "-out", degenerate])
        printed = run(["openssl", "pkcs7", "-inform", "DER", "-in", degenerate, "-print_certs"]).stdout
        self.assertNotIn("BEGIN CERTIFICATE", printed)
        crl_pem = re.search(r"-----BEGIN X509 CRL-----.*?-----END X509 CRL-----\n", printed, re.S).group(0)
        crl_der = run_bytes(["openssl", "crl", "-outform", "DER"], crl_pem.encode())
        status, served = inst.http("GET", "/crl")
        self.assertEqual(status, 200)
        self.assertEqual(crl_der, served)
        text = run_bytes(["openssl", "crl", "-inform", "DER", "-noout", "-text"], crl_der).decode()
        self.assertIn(serial.upper(), text.replace(":", "").upper())
        self.assertIn("Key Compromise", text)
        _, counters = inst.api("GET", "/scep/counters", expect=200)
        self.assertEqual(counters["counters"]["crls_sent"], 1)
        self.assertEqual(counters["counters"]["rejected"], 0)
        verify = subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-CAfile", inst.ca("issuing.pem")],
                                input=crl_der, capture_output=True, timeout=60)
        self.assertIn(b"verify OK", verify.stdout + verify.stderr)

    def test_get_crl_for_another_issuer_is_bad_cert_id(self):
        inst = self.instance()
        key, cert = self.requester()
        issuer, serial_tlv = issuer_and_serial(der_of(cert))   # the self-signed requester is not our CA
        before = inst.count("certificates"), inst.count("audit")
        reply = self.post(inst, self.pki_message(inst, key, cert, 22, seq(issuer, serial_tlv), "getcrl-2"))
        self.assertEqual(self.status_of(reply), ("2", "4", "3"))
        self.assertEqual(inst.count("certificates"), before[0])
        # The refusal is audited, in the next batch of refusal rows (about a second later).
        deadline = time.monotonic() + 5
        while inst.count("audit") == before[1] and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(inst.count("audit"), before[1] + 1)
        self.assertEqual(self.last_audit_action(inst), "scep.reject")
        _, counters = inst.api("GET", "/scep/counters", expect=200)
        self.assertEqual(counters["counters"]["rejected"], 1)
        self.assertEqual(counters["counters"]["rejected_badCertId"], 1)
        self.assertEqual(counters["counters"]["rejected_badRequest"], 0)
        self.assertEqual(counters["counters"]["crls_sent"], 0)

    def test_refusals_from_one_address_are_limited_in_the_audit_log(self):
        # Anyone can be refused at will: past [scep] refusal_rows_per_source_per_minute a
        # minute, refusals are counted, not written, and summed up when the server stops
        # (or the minute ends). The answers do not change.
        inst = self.instance(start=False)
        with open(inst.config) as f:
            config = f.read()
        self.assertIn("refusal_rows_per_source_per_minute = 20", config)
        with open(inst.config, "w") as f:
            f.write(config.replace("refusal_rows_per_source_per_minute = 20", "refusal_rows_per_source_per_minute = 3"))
        inst.start()
        key, cert = self.requester()
        issuer, serial_tlv = issuer_and_serial(der_of(cert))   # not our issuer: badCertId
        for i in range(8):
            reply = self.post(inst, self.pki_message(inst, key, cert, 22, seq(issuer, serial_tlv), f"limited-{i}"))
            self.assertEqual(self.status_of(reply), ("2", "4", "3"))
        _, counters = inst.api("GET", "/scep/counters", expect=200)
        self.assertEqual(counters["counters"]["rejected"], 8)
        self.assertEqual(counters["counters"]["refusals_suppressed"], 5)
        self.assertEqual(inst.stop(), 0)
        with contextlib.closing(inst.ledger()) as db:
            rows = db.execute("SELECT detail FROM audit WHERE action = 'scep.reject' ORDER BY id").fetchall()
            summary = db.execute("SELECT target, detail FROM audit WHERE action = 'scep.reject.suppressed'").fetchall()
        self.assertEqual(len(rows), 3)
        self.assertTrue(all(" from=127.0.0.1 " in detail for (detail,) in rows), rows)
        self.assertEqual(len(summary), 1)
        self.assertEqual(summary[0][0], "127.0.0.1")
        self.assertIn("suppressed 5 refusals from 127.0.0.1", summary[0][1])

    def last_audit_action(self, inst):
        db = inst.ledger()
        try:
            return db.execute("SELECT action FROM audit ORDER BY rowid DESC LIMIT 1").fetchone()[0]
        finally:
            db.close()


if __name__ == "__main__":
    main()

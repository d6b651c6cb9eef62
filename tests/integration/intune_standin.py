"""A local stand-in for the Microsoft cloud services a third-party SCEP CA talks to for
Intune, implementing the wire contract of Microsoft's published client libraries
(github.com/microsoft/Intune-Resource-Access, src/CsrValidation), since the real services
cannot be reached from the test machine:

  POST /<tenant>/oauth2/v2.0/token             client-credentials grant (RFC 6749 §4.4): a client
                                               secret, or an RS256 client assertion (RFC 7523 §2.2)
                                               whose x5t is the registered certificate's SHA-1
  GET  /v1.0/servicePrincipals/appId=<Intune app id>/endpoints
                                               Microsoft Graph service discovery: {value: [{providerName, uri}]}
  POST <ScepRequestValidationFEService>/ScepActions/validateRequest|successNotification|failureNotification
                                               api-version 2018-02-20; answers {code, errorDescription}
  POST <PkiConnectorFEService>/CertificateAuthorityRequests/downloadRevocationRequests|uploadRevocationResults
                                               api-version 5019-05-05

Every request is checked as the real service would (bearer token of the right scope and not
expired, api-version, client-request-id a GUID, the body's shape); anything wrong is answered
401/400 and recorded in `violations`, which tests assert empty. Tests script the answers
through the attributes (validation_code, success_code, success_status, revocations, ...).
Python standard library only; RSA signatures are checked with the openssl command."""

import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse

INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000"
INTUNE_SCOPE = "https://api.manage.microsoft.com//.default"   # the libraries' resource URL + "/.default"
VALIDATION_API = "2018-02-20"
CONNECTOR_API = "5019-05-05"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class IntuneStandIn:
    def __init__(self, tls, tenant, client_id, client_secret=None, client_cert=None, token_lifetime=3600):
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.client_cert = client_cert
        self.token_lifetime = token_lifetime
        self.lock = threading.Lock()
        self.tokens = {}              # token -> (scope, expires)
        self.token_requests = []      # (scope, "secret" | "assertion")
        self.discoveries = 0
        self.calls = []               # (action, headers, body)
        self.violations = []
        # Scripted answers.
        self.validation_code = lambda body: ("Success", "")
        self.success_code = "Success"
        self.success_status = 200
        self.fail_next = {}           # action -> HTTP status, once
        self.delay = {}               # action -> seconds before answering
        self.revocations = []         # pending revocation requests (dicts as the contract has them)
        self.uploads = []
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                standin.handle(self, "GET")

            def do_POST(self):
                standin.handle(self, "POST")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # --- what tests read
    def actions(self, name):
        with self.lock:
            return [(h, b) for a, h, b in self.calls if a == name]

    # --- plumbing
    def violation(self, handler, status, what):
        with self.lock:
            self.violations.append(f"{handler.command} {handler.path}: {what}")
        self.answer(handler, status, {"error": what})

    def answer(self, handler, status, data):
        payload = json.dumps(data).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass

    def bearer_ok(self, handler, scope):
        auth = handler.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with self.lock:
            known = self.tokens.get(token)
        if not known or known[0] != scope or known[1] < time.time():
            return False
        return True

    def handle(self, handler, method):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(handler.path).path
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            return self.token(handler, raw)
        if method == "GET" and path == f"/v1.0/servicePrincipals/appId={INTUNE_APP_ID}/endpoints":
            return self.discovery(handler)
        m = re.fullmatch(r"/(ScepRequestValidationFEService|PkiConnectorFEService)/(\w+)/(\w+)", path)
        if method == "POST" and m:
            return self.intune(handler, m.group(1), m.group(2), m.group(3), raw)
        self.violation(handler, 404, "no such endpoint")

    def token(self, handler, raw):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode(), strict_parsing=True).items()}
        if handler.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self.violation(handler, 400, "token request is not form-encoded")
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != self.client_id:
            return self.violation(handler, 400, "not a client-credentials grant for the registered client")
        scope = form.get("scope", "")
        if scope not in (INTUNE_SCOPE, self.base + "/.default"):
            return self.violation(handler, 400, f"unexpected scope {scope}")
        if "client_secret" in form:
            if self.client_secret is None or form["client_secret"] != self.client_secret:
                return self.answer(handler, 401, {"error": "invalid_client"})
            how = "secret"
        elif form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            problem = self.assertion_problem(form.get("client_assertion", ""))
            if problem:
                return self.violation(handler, 401, problem)
            how = "assertion"
        else:
            return self.violation(handler, 400, "no client credential")
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (scope, time.time() + self.token_lifetime)
            self.token_requests.append((scope, how))
        self.answer(handler, 200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                                   "ext_expires_in": self.token_lifetime, "access_token": token})

    def assertion_problem(self, assertion):
        if self.client_cert is None:
            return "no certificate registered"
        parts = assertion.split(".")
        if len(parts) != 3:
            return "the assertion is not a JWS compact serialisation"
        header, claims = json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
        der = subprocess.run(["openssl", "x509", "-in", self.client_cert, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        if header.get("alg") != "RS256" or b64url_decode(header.get("x5t", "")) != hashlib.sha1(der).digest():
            return "the assertion's alg or x5t is wrong"
        now = time.time()
        if (claims.get("aud") != f"{self.base}/{self.tenant}/oauth2/v2.0/token" or claims.get("iss") != self.client_id
                or claims.get("sub") != self.client_id or not claims.get("jti")
                or not claims.get("nbf", now + 1) <= now + 5 or not claims.get("exp", 0) > now):
            return "the assertion's claims are wrong"
        with tempfile.TemporaryDirectory() as d:
            pub, sig, data = (os.path.join(d, n) for n in ("pub.pem", "sig", "data"))
            with open(pub, "wb") as f:
                f.write(subprocess.run(["openssl", "x509", "-in", self.client_cert, "-pubkey", "-noout"],
                                       capture_output=True, check=True).stdout)
            with open(sig, "wb") as f:
                f.write(b64url_decode(parts[2]))
            with open(data, "wb") as f:
                f.write((parts[0] + "." + parts[1]).encode())
            ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, data],
                                capture_output=True).returncode == 0
        return None if ok else "the assertion's signature does not verify"

    def discovery(self, handler):
        if not self.bearer_ok(handler, self.base + "/.default"):
            return self.violation(handler, 401, "Graph called without a Graph token")
        if not GUID.match(handler.headers.get("client-request-id", "")):
            return self.violation(handler, 400, "client-request-id is not a GUID")
        with self.lock:
            self.discoveries += 1
        self.answer(handler, 200, {"value": [
            {"providerName": "ScepRequestValidationFEService", "uri": self.base + "/ScepRequestValidationFEService"},
            {"providerName": "PkiConnectorFEService", "uri": self.base + "/PkiConnectorFEService"},
            {"providerName": "SomeOtherService", "uri": self.base + "/SomeOtherService"}]})

    def intune(self, handler, service, group, action, raw):
        h = handler.headers
        if not self.bearer_ok(handler, INTUNE_SCOPE):
            return self.violation(handler, 401, "Intune called without an Intune token")
        api = VALIDATION_API if service == "ScepRequestValidationFEService" else CONNECTOR_API
        if h.get("api-version") != api or not GUID.match(h.get("client-request-id", "")):
            return self.violation(handler, 400, "api-version or client-request-id wrong")
        if not h.get("Content-Type", "").startswith("application/json") or not h.get("UserAgent"):
            return self.violation(handler, 400, "Content-Type or UserAgent missing")
        body = json.loads(raw)
        with self.lock:
            self.calls.append((action, dict(h), body))
            status = self.fail_next.pop(action, None)
            delay = self.delay.get(action, 0)
        if delay:
            time.sleep(delay)
        if status:
            return self.answer(handler, status, {"error": "scripted failure"})
        problem = self.shape_problem(group, action, body)
        if problem:
            return self.violation(handler, 400, problem)
        if action == "validateRequest":
            code, description = self.validation_code(body)
            return self.answer(handler, 200, {"code": code, "errorDescription": description})
        if action == "successNotification":
            return self.answer(handler, self.success_status, {"code": self.success_code, "errorDescription": ""})
        if action == "failureNotification":
            return self.answer(handler, 200, {"code": "Success", "errorDescription": ""})
        if action == "downloadRevocationRequests":
            with self.lock:
                n = body["downloadParameters"]["maxRequests"]
                out, self.revocations = self.revocations[:n], self.revocations[n:]
            return self.answer(handler, 200, {"value": out})
        if action == "uploadRevocationResults":
            with self.lock:
                self.uploads.extend(body["results"])
            return self.answer(handler, 200, {"value": True})
        self.violation(handler, 404, "no such action")

    def shape_problem(self, group, action, body):
        def csr_ok(text):
            try:
                return isinstance(text, str) and base64.b64decode(text, validate=True)[:1] == b"\x30"
            except ValueError:
                return False
        if group == "ScepActions":
            key = "request" if action == "validateRequest" else "notification"
            inner = body.get(key)
            if not isinstance(inner, dict) or not inner.get("transactionId") or not csr_ok(inner.get("certificateRequest")):
                return f"{action}: {key}.transactionId or certificateRequest missing or not base64 DER"
            if not inner.get("callerInfo"):
                return f"{action}: callerInfo missing"
            if action == "successNotification":
                for k in ("certificateThumbprint", "certificateSerialNumber", "certificateExpirationDateUtc",
                          "issuingCertificateAuthority"):
                    if not inner.get(k):
                        return f"successNotification: {k} missing"
                if not re.fullmatch(r"[0-9A-F]{40}", inner["certificateThumbprint"]):
                    return "successNotification: certificateThumbprint is not a SHA-1 thumbprint"
                if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", inner["certificateExpirationDateUtc"]):
                    return "successNotification: certificateExpirationDateUtc is not ISO 8601 UTC"
            if action == "failureNotification":
                if not isinstance(inner.get("hResult"), int) or not inner.get("errorDescription"):
                    return "failureNotification: hResult or errorDescription missing"
                if len(inner["errorDescription"]) > 255:
                    return "failureNotification: errorDescription longer than 255"
            return None
        if action == "downloadRevocationRequests":
            p = body.get("downloadParameters")
            if not isinstance(p, dict) or not isinstance(p.get("maxRequests"), int) or not 1 <= p["maxRequests"] <= 500:
                return "downloadParameters.maxRequests missing or outside 1..500"
            return None
        if action == "uploadRevocationResults":
            results = body.get("results")
            if not isinstance(results, list) or not results:
                return "results missing or empty"
            for r in results:
                if not r.get("requestContext") or not isinstance(r.get("succeeded"), bool):
                    return "a result lacks requestContext or succeeded"
                if r["succeeded"] != (r.get("errorCode") in ("None", "0")):
                    return "succeeded and errorCode disagree"
            return None
        return "unknown action"

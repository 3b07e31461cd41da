#!/usr/bin/python3
"""azurekv-stub: an Azure Key Vault stand-in (keys: create, get, sign, verify) with Microsoft Entra ID
token endpoints, for tests. HTTPS only (--tls-self-signed CERT_OUT), as Key Vault and its SDKs require.

  POST /keys/<name>/create?api-version=V {"kty": "EC", "crv": "P-256", "key_ops"}   (also EC P-384, RSA 2048)
  GET  /keys/<name>[/<version>]?api-version=V   → {"key": JWK (kid, kty, crv, x, y | n, e, key_ops), "attributes"}
  POST /keys/<name>/<version>/sign {"alg": "ES256"|"ES384"|"RS256", "value": base64url(digest)}
       → {"kid", "value": base64url(signature)} (ECDSA as raw r||s, as Key Vault answers)
  POST /keys/<name>/<version>/verify {"alg", "digest", "value"} → {"value": bool}
Any api-version is accepted. A request without a valid bearer token gets 401 with Key Vault's
challenge, `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`
(the SDKs' first, body-less request expects it). Errors: {"error": {"code", "message"}}.

Tokens (scope https://vault.azure.net/.default, or resource https://vault.azure.net):
  GET  /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...  header Metadata: true (managed identity)
  POST /<tenant>/oauth2/v2.0/token  grant_type=client_credentials, client_id, client_secret (--client ID:SECRET),
       or client_assertion (workload identity: a JWT; its signature is not checked, its aud must be
       api://AzureADTokenExchange and it must equal --federated-token when given)
Controls: POST /__stub/deny {"key"} (403 Forbidden for sign), /__stub/revoke-tokens, /__stub/fault
{"fault"}: 5xx:N (503), throttle:N (429), bad-signature. GET /__stub/stats: sign (per key), get_key,
tokens. Debian's python3 + python3-cryptography. Prints "listening on PORT" once ready."""
import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stubkit import Faults, self_signed_cert, serve  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ALGS = {"ES256": ("EC", "P-256", hashes.SHA256), "ES384": ("EC", "P-384", hashes.SHA384),
        "RS256": ("RSA", None, hashes.SHA256)}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class ApiError(Exception):
    def __init__(self, status, code, message, headers=()):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


class Version:
    def __init__(self, kty, crv):
        self.id = secrets.token_hex(16)
        self.kty, self.crv = kty, crv
        self.created = int(time.time())
        if kty == "EC":
            self.priv = ec.generate_private_key(ec.SECP256R1() if crv == "P-256" else ec.SECP384R1())
        else:
            self.priv = rsa.generate_private_key(65537, 2048)

    def jwk(self, kid):
        pub = self.priv.public_key()
        if self.kty == "EC":
            n = pub.curve.key_size // 8 + (1 if pub.curve.key_size % 8 else 0)
            nums = pub.public_numbers()
            return {"kid": kid, "kty": "EC", "key_ops": ["sign", "verify"], "crv": self.crv,
                    "x": b64u(nums.x.to_bytes(n, "big")), "y": b64u(nums.y.to_bytes(n, "big"))}
        nums = pub.public_numbers()
        return {"kid": kid, "kty": "RSA", "key_ops": ["sign", "verify"],
                "n": b64u(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                "e": b64u(nums.e.to_bytes(3, "big"))}


class State:
    def __init__(self, a):
        self.lock = threading.Lock()
        self.keys = {}  # name -> [Version]
        self.tokens, self.denied = set(), set()
        self.clients = dict(c.split(":", 1) for c in a.client)
        self.federated = a.federated_token
        self.faults = Faults(a.fault, counters=("5xx", "throttle"), values=())
        self.stats = {"sign": {}, "get_key": 0, "tokens": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azurekv-stub"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc, headers=()):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def base(self):
        return "https://%s" % self.headers.get("Host", "127.0.0.1")

    def handle_any(self, method):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            if url.path.startswith("/__stub/"):
                return self.stub(url.path[len("/__stub/"):], json.loads(raw or b"{}"))
            if url.path == "/metadata/identity/oauth2/token":
                return self.managed_identity(urllib.parse.parse_qs(url.query))
            m = re.match(r"^/([^/]+)/oauth2/v2\.0/token$", url.path)
            if m and method == "POST":
                return self.client_token(urllib.parse.parse_qs(raw.decode()))
            auth = self.headers.get("Authorization", "")
            with st.lock:
                ok = auth.startswith("Bearer ") and auth[7:] in st.tokens
            if not ok:
                raise ApiError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                               [("WWW-Authenticate", 'Bearer authorization="%s/%s", resource="https://vault.azure.net"'
                                 % (self.base(), TENANT))])
            doc = json.loads(raw) if raw.strip() else {}
            self.reply(200, self.keys_api(method, url.path.strip("/").split("/"), doc))
        except ApiError as e:
            self.reply(e.status, {"error": {"code": e.code, "message": e.message}}, e.headers)

    def issue(self):
        st = self.server.state
        t = "eyJ0eXAiOiJKV1QifQ." + b64u(secrets.token_bytes(24)) + ".stub"
        with st.lock:
            st.tokens.add(t)
            st.stats["tokens"] += 1
        return t

    def managed_identity(self, q):
        if self.headers.get("Metadata") != "true":
            raise ApiError(400, "invalid_request", "Required metadata header not specified")
        if (q.get("resource") or [""])[0].rstrip("/") != "https://vault.azure.net":
            raise ApiError(400, "invalid_resource", "this stand-in issues Key Vault tokens only")
        now = int(time.time())
        self.reply(200, {"access_token": self.issue(), "expires_in": "3599", "expires_on": str(now + 3599),
                         "resource": "https://vault.azure.net", "token_type": "Bearer"})

    def client_token(self, form):
        st = self.server.state
        f = lambda k: (form.get(k) or [""])[0]  # noqa: E731
        if f("scope") != "https://vault.azure.net/.default" or f("grant_type") != "client_credentials":
            return self.reply(400, {"error": "invalid_scope", "error_description": "AADSTS70011: invalid scope"})
        client = f("client_id")
        if f("client_assertion"):
            try:
                claims = json.loads(unb64u(f("client_assertion").split(".")[1]))
            except (ValueError, IndexError):
                claims = {}
            if f("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" or \
                    claims.get("aud") != "api://AzureADTokenExchange" or \
                    (st.federated is not None and f("client_assertion") != st.federated):
                return self.reply(400, {"error": "invalid_client",
                                        "error_description": "AADSTS700211: No matching federated identity record"})
        elif st.clients.get(client) != f("client_secret") or not client:
            return self.reply(401, {"error": "invalid_client",
                                    "error_description": "AADSTS7000215: Invalid client secret provided."})
        self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                         "access_token": self.issue()})

    def kid(self, name, v):
        return "%s/keys/%s/%s" % (self.base(), name, v.id)

    def keys_api(self, method, parts, doc):
        st = self.server.state
        if len(parts) < 2 or parts[0] != "keys":
            raise ApiError(404, "NotFound", "no such path")
        name = parts[1]
        if method == "POST" and len(parts) == 3 and parts[2] == "create":
            kty = {"EC-HSM": "EC", "RSA-HSM": "RSA"}.get(doc.get("kty"), doc.get("kty"))
            crv = doc.get("crv") or ("P-256" if kty == "EC" else None)
            if kty not in ("EC", "RSA") or (kty == "EC" and crv not in ("P-256", "P-384")):
                raise ApiError(400, "BadParameter", "this stand-in makes EC P-256/P-384 and RSA keys")
            v = Version(kty, crv)
            with st.lock:
                st.keys.setdefault(name, []).append(v)
            return self.bundle(name, v)
        with st.lock:
            versions = st.keys.get(name)
        if not versions:
            raise ApiError(404, "KeyNotFound", "A key with (name/id) %s was not found in this key vault." % name)
        if method == "GET" and len(parts) in (2, 3):
            v = versions[-1] if len(parts) == 2 or not parts[2] else next((x for x in versions if x.id == parts[2]), None)
            if v is None:
                raise ApiError(404, "KeyNotFound", "A key with (name/id) %s/%s was not found." % (name, parts[2]))
            with st.lock:
                st.stats["get_key"] += 1
            return self.bundle(name, v)
        if method == "POST" and len(parts) == 4 and parts[3] in ("sign", "verify"):
            v = next((x for x in versions if x.id == parts[2]), None)
            if v is None:
                raise ApiError(404, "KeyNotFound", "A key with (name/id) %s/%s was not found." % (name, parts[2]))
            return self.sign_or_verify(parts[3], name, v, doc)
        raise ApiError(405, "MethodNotAllowed", "unsupported")

    def bundle(self, name, v):
        return {"key": v.jwk(self.kid(name, v)),
                "attributes": {"enabled": True, "created": v.created, "updated": v.created,
                               "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90, "exportable": False}}

    def sign_or_verify(self, op, name, v, doc):
        st = self.server.state
        alg = doc.get("alg", "")
        if alg not in ALGS or ALGS[alg][0] != v.kty or (v.kty == "EC" and ALGS[alg][1] != v.crv):
            raise ApiError(400, "BadParameter", "Invalid algorithm %s for key type %s." % (alg, v.kty))
        hcls = ALGS[alg][2]
        if op == "sign":
            with st.lock:
                st.stats["sign"][name] = st.stats["sign"].get(name, 0) + 1
                denied = name in st.denied
            if denied:
                raise ApiError(403, "Forbidden", "The user, group or application 'appid=…' does not have keys sign "
                                                 "permission on key vault 'stub'.")
            if st.faults.take("5xx"):
                raise ApiError(503, "ServiceUnavailable", "The service is unavailable.")
            if st.faults.take("throttle"):
                raise ApiError(429, "Throttled", "Rate limit exceeded. Try again later.")
        digest = unb64u(doc.get("value" if op == "sign" else "digest", ""))
        if len(digest) != hcls.digest_size:
            raise ApiError(400, "BadParameter", "Invalid digest length for %s." % alg)
        pre = utils.Prehashed(hcls())
        n = (v.priv.curve.key_size + 7) // 8 if v.kty == "EC" else 0
        if op == "verify":
            sig = unb64u(doc.get("value", ""))
            try:
                if v.kty == "EC":
                    der = utils.encode_dss_signature(int.from_bytes(sig[:n], "big"), int.from_bytes(sig[n:], "big"))
                    v.priv.public_key().verify(der, digest, ec.ECDSA(pre))
                else:
                    v.priv.public_key().verify(sig, digest, padding.PKCS1v15(), pre)
                return {"value": True}
            except (InvalidSignature, ValueError):
                return {"value": False}
        if st.faults.has("bad-signature"):
            digest = hashlib.new(hcls.name, b"not what was asked" + digest).digest()
        if v.kty == "EC":
            r, s = utils.decode_dss_signature(v.priv.sign(digest, ec.ECDSA(pre)))
            sig = r.to_bytes(n, "big") + s.to_bytes(n, "big")
        else:
            sig = v.priv.sign(digest, padding.PKCS1v15(), pre)
        return {"kid": self.kid(name, v), "value": b64u(sig)}

    def stub(self, what, doc):
        st = self.server.state
        with st.lock:
            if what == "stats" and self.command == "GET":
                return self.reply(200, dict(st.stats, fault=st.faults.text))
            if what == "deny":
                st.denied.add(doc["key"])
            elif what == "revoke-tokens":
                st.tokens.clear()
            elif what == "fault":
                st.faults = Faults(doc.get("fault", ""), counters=("5xx", "throttle"), values=())
            else:
                raise ApiError(404, "NotFound", what)
        self.reply(200, {})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--key", action="append", default=[], help="NAME[:EC|RSA] created at start")
    p.add_argument("--client", action="append", default=[], help="CLIENT_ID:SECRET accepted by the token endpoint")
    p.add_argument("--federated-token")
    p.add_argument("--fault", default="")
    p.add_argument("--tls-self-signed", metavar="CERT_OUT", required=True)
    a = p.parse_args()
    server = Server((a.host, a.port), Handler)
    server.state = State(a)
    for k in a.key:
        name, _, kty = k.partition(":")
        server.state.keys[name] = [Version(kty or "EC", "P-256" if (kty or "EC") == "EC" else None)]
    cert, key = self_signed_cert(a.tls_self_signed, "azurekv-stub")
    serve(server, cert, key)


if __name__ == "__main__":
    main()

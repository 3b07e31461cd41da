#!/usr/bin/python3
"""gcpkms-stub: a Google Cloud KMS stand-in (REST v1, JSON) with the OAuth pieces a workload uses, for tests.

  POST /v1/projects/P/locations/L/keyRings?keyRingId=R                          create a key ring
  POST /v1/{keyRing}/cryptoKeys?cryptoKeyId=K  {"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": A}}
  GET  /v1/{cryptoKey}                       POST /v1/{cryptoKey}/cryptoKeyVersions   (a new version)
  GET  /v1/{cryptoKey}/cryptoKeyVersions[?filter=state=ENABLED]
  GET  /v1/{version}/publicKey               → pem, algorithm, pemCrc32c, name, protectionLevel
  POST /v1/{version}:asymmetricSign {"digest": {"sha256"|"sha384": b64}, "digestCrc32c"} → signature,
       signatureCrc32c, verifiedDigestCrc32c, name (a digestCrc32c that does not match: 400, as KMS)
Algorithms EC_SIGN_P256_SHA256, EC_SIGN_P384_SHA384, RSA_SIGN_PKCS1_2048_SHA256. Int64 fields are
strings (proto3 JSON); `$alt=json;enum-encoding=int` (google-gax's REST fallback) answers enums as
numbers. Errors as Google APIs send them: {"error": {"code", "message", "status"}}.

Every /v1 request needs `Authorization: Bearer T` with a token this stand-in issued (401
UNAUTHENTICATED otherwise): from the metadata server path
/computeMetadata/v1/instance/service-accounts/default/token (header Metadata-Flavor: Google), or
from POST /token (grant_type jwt-bearer, an RS256 assertion signed by the service account written
to --service-account-out, aud = that URL). --key NAME creates projects/p/locations/global/keyRings/r/cryptoKeys/NAME.

Controls: POST /__stub/deny {"key"} (403 PERMISSION_DENIED on signing with it), /__stub/revoke-tokens,
/__stub/fault {"fault"}: 5xx:N (503 UNAVAILABLE), bad-signature, bad-crc (signatureCrc32c wrong),
unverified (verifiedDigestCrc32c false). GET /__stub/stats: sign (per version name), public_key,
list, tokens. Debian's python3 + python3-cryptography. Prints "listening on PORT" once ready."""
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
from stubkit import Faults, serve  # noqa: E402

ALGS = {"EC_SIGN_P256_SHA256": (12, "sha256"), "EC_SIGN_P384_SHA384": (13, "sha384"),
        "RSA_SIGN_PKCS1_2048_SHA256": (5, "sha256")}
STATE = {"ENABLED": 1, "DISABLED": 2}


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApiError(Exception):
    def __init__(self, code, status, message):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


class Version:
    def __init__(self, name, alg):
        self.name, self.alg, self.state, self.created = name, alg, "ENABLED", now_rfc3339()
        if alg.startswith("EC_SIGN_P256"):
            self.priv = ec.generate_private_key(ec.SECP256R1())
        elif alg.startswith("EC_SIGN_P384"):
            self.priv = ec.generate_private_key(ec.SECP384R1())
        else:
            self.priv = rsa.generate_private_key(65537, 2048)

    def pem(self):
        return self.priv.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class State:
    def __init__(self, a):
        self.lock = threading.Lock()
        self.rings, self.keys = set(), {}  # key name -> {"alg", "versions": [Version]}
        self.tokens, self.denied = set(), set()
        self.faults = Faults(a.fault, counters=("5xx",), values=())
        self.stats = {"sign": {}, "public_key": 0, "list": 0, "tokens": 0}
        self.sa_key = rsa.generate_private_key(65537, 2048)
        self.sa_email = "chains@p.iam.gserviceaccount.com"

    def key(self, name):
        k = self.keys.get(name)
        if k is None:
            raise ApiError(404, "NOT_FOUND", "CryptoKey %s not found." % name)
        return k

    def version(self, name):
        m = re.match(r"^(.*)/cryptoKeyVersions/(\d+)$", name)
        if not m:
            raise ApiError(400, "INVALID_ARGUMENT", "Invalid resource name %s" % name)
        versions = self.key(m.group(1))["versions"]
        n = int(m.group(2))
        if not 1 <= n <= len(versions):
            raise ApiError(404, "NOT_FOUND", "CryptoKeyVersion %s not found." % name)
        return versions[n - 1]


def b64(b):
    return base64.b64encode(b).decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcpkms-stub"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def handle_any(self, method):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            if url.path.startswith("/__stub/"):
                return self.stub(url.path[len("/__stub/"):], json.loads(raw or b"{}"))
            if url.path == "/computeMetadata/v1/instance/service-accounts/default/token":
                if self.headers.get("Metadata-Flavor") != "Google":
                    raise ApiError(403, "PERMISSION_DENIED", "Missing Metadata-Flavor:Google header.")
                return self.reply(200, self.issue())
            if url.path == "/token" and method == "POST":
                return self.token_grant(urllib.parse.parse_qs(raw.decode()))
            if not url.path.startswith("/v1/"):
                raise ApiError(404, "NOT_FOUND", "no such path")
            auth = self.headers.get("Authorization", "")
            with st.lock:
                ok = auth.startswith("Bearer ") and auth[7:] in st.tokens
            if not ok:
                raise ApiError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected "
                                                       "OAuth 2 access token, login cookie or other valid authentication "
                                                       "credential.")
            ints = "enum-encoding=int" in (query.get("$alt") or [""])[0]
            doc = json.loads(raw) if raw.strip() else {}
            self.reply(200, self.api(method, urllib.parse.unquote(url.path[4:]), query, doc, ints))
        except ApiError as e:
            self.reply(e.code, {"error": {"code": e.code, "message": e.message, "status": e.status}})

    def issue(self):
        st = self.server.state
        t = "ya29.stub-" + secrets.token_urlsafe(24)
        with st.lock:
            st.tokens.add(t)
            st.stats["tokens"] += 1
        return {"access_token": t, "expires_in": 3599, "token_type": "Bearer"}

    def token_grant(self, form):
        st = self.server.state
        if (form.get("grant_type") or [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.reply(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        try:
            head, claims, sig = (form.get("assertion") or [""])[0].split(".")
            st.sa_key.public_key().verify(unb64url(sig), (head + "." + claims).encode(), padding.PKCS1v15(),
                                          hashes.SHA256())
            c = json.loads(unb64url(claims))
        except (ValueError, InvalidSignature):
            return self.reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        aud = "http://127.0.0.1:%d/token" % self.server.server_address[1]
        if c.get("iss") != st.sa_email or c.get("aud") != aud or not c.get("scope") or \
                not c.get("iat", 0) - 300 <= time.time() <= c.get("exp", 0):
            return self.reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT claims."})
        self.reply(200, self.issue())

    def version_doc(self, v, ints):
        return {"name": v.name, "state": STATE[v.state] if ints else v.state, "createTime": v.created,
                "protectionLevel": 1 if ints else "SOFTWARE",
                "algorithm": ALGS[v.alg][0] if ints else v.alg, "generateTime": v.created}

    def key_doc(self, name, k, ints):
        return {"name": name, "purpose": 5 if ints else "ASYMMETRIC_SIGN", "createTime": k["created"],
                "versionTemplate": {"protectionLevel": 1 if ints else "SOFTWARE",
                                    "algorithm": ALGS[k["alg"]][0] if ints else k["alg"]}}

    def api(self, method, path, query, doc, ints):
        st = self.server.state
        q = lambda k: (query.get(k) or [""])[0]  # noqa: E731
        with st.lock:
            if method == "POST" and re.match(r"^projects/[^/]+/locations/[^/]+/keyRings$", path):
                name = path + "/" + q("keyRingId")
                st.rings.add(name)
                return {"name": name, "createTime": now_rfc3339()}
            if method == "POST" and re.match(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys$", path):
                alg = (doc.get("versionTemplate") or {}).get("algorithm")
                if isinstance(alg, int):
                    alg = next((a for a, (n, _) in ALGS.items() if n == alg), None)
                if doc.get("purpose") not in ("ASYMMETRIC_SIGN", 5) or alg not in ALGS:
                    raise ApiError(400, "INVALID_ARGUMENT", "this stand-in makes ASYMMETRIC_SIGN keys of %s" %
                                   ", ".join(ALGS))
                name = path + "/" + q("cryptoKeyId")
                st.keys[name] = {"alg": alg, "versions": [Version(name + "/cryptoKeyVersions/1", alg)],
                                 "created": now_rfc3339()}
                return self.key_doc(name, st.keys[name], ints)
            if path.endswith("/cryptoKeyVersions"):
                key_name = path[:-len("/cryptoKeyVersions")]
                k = st.key(key_name)
                if method == "POST":
                    v = Version("%s/cryptoKeyVersions/%d" % (key_name, len(k["versions"]) + 1), k["alg"])
                    k["versions"].append(v)
                    return self.version_doc(v, ints)
                st.stats["list"] += 1
                versions = [v for v in k["versions"] if q("filter") != "state=ENABLED" or v.state == "ENABLED"]
                return {"cryptoKeyVersions": [self.version_doc(v, ints) for v in versions],
                        "totalSize": len(versions)}
            if path.endswith("/publicKey") and method == "GET":
                v = st.version(path[:-len("/publicKey")])
                st.stats["public_key"] += 1
                pem = v.pem()
                return {"pem": pem, "algorithm": ALGS[v.alg][0] if ints else v.alg, "pemCrc32c": str(crc32c(pem.encode())),
                        "name": v.name, "protectionLevel": 1 if ints else "SOFTWARE"}
            if path.endswith(":asymmetricSign") and method == "POST":
                return self.sign(st, path[:-len(":asymmetricSign")], doc)
            if method == "GET" and path in st.keys:
                return self.key_doc(path, st.keys[path], ints)
        raise ApiError(404, "NOT_FOUND", "no such resource %s" % path)

    def sign(self, st, name, doc):
        st.stats["sign"][name] = st.stats["sign"].get(name, 0) + 1
        v = st.version(name)
        key_name = name.rsplit("/cryptoKeyVersions/", 1)[0]
        if key_name in st.denied:
            raise ApiError(403, "PERMISSION_DENIED", "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied on "
                                                     "resource '%s' (or it may not exist)." % name)
        if st.faults.take("5xx"):
            raise ApiError(503, "UNAVAILABLE", "The service is currently unavailable.")
        if v.state != "ENABLED":
            raise ApiError(400, "FAILED_PRECONDITION", "%s is not enabled, current state is: %s." % (name, v.state))
        hname = ALGS[v.alg][1]
        digest = base64.b64decode((doc.get("digest") or {}).get(hname, ""))
        if len(digest) != hashlib.new(hname).digest_size:
            raise ApiError(400, "INVALID_ARGUMENT", "The digest must be a %s digest for %s." % (hname, v.alg))
        if "digestCrc32c" in doc and int(doc["digestCrc32c"]) != crc32c(digest):
            raise ApiError(400, "INVALID_ARGUMENT", "The checksum in field digest_crc32c did not match the data in "
                                                    "field digest.")
        if st.faults.has("bad-signature"):
            digest = hashlib.new(hname, b"not what was asked" + digest).digest()
        hcls = hashes.SHA256() if hname == "sha256" else hashes.SHA384()
        if v.alg.startswith("EC"):
            sig = v.priv.sign(digest, ec.ECDSA(utils.Prehashed(hcls)))
        else:
            sig = v.priv.sign(digest, padding.PKCS1v15(), utils.Prehashed(hcls))
        crc = crc32c(sig) ^ (1 if st.faults.has("bad-crc") else 0)
        return {"signature": b64(sig), "signatureCrc32c": str(crc), "name": name, "protectionLevel": "SOFTWARE",
                "verifiedDigestCrc32c": "digestCrc32c" in doc and not st.faults.has("unverified"),
                "verifiedDataCrc32c": False}

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
                st.faults = Faults(doc.get("fault", ""), counters=("5xx",), values=())
            else:
                raise ApiError(404, "NOT_FOUND", what)
        self.reply(200, {})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--key", action="append", default=[], help="NAME[:ALGORITHM] in projects/p/locations/global/keyRings/r")
    p.add_argument("--service-account-out", help="write a service-account key file whose token_uri is this stand-in")
    p.add_argument("--fault", default="")
    a = p.parse_args()
    server = Server((a.host, a.port), Handler)
    st = server.state = State(a)
    for k in a.key:
        name, _, alg = k.partition(":")
        full = "projects/p/locations/global/keyRings/r/cryptoKeys/" + name
        alg = alg or "EC_SIGN_P256_SHA256"
        st.keys[full] = {"alg": alg, "versions": [Version(full + "/cryptoKeyVersions/1", alg)], "created": now_rfc3339()}
    if a.service_account_out:
        pem = st.sa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
        with open(a.service_account_out, "w") as f:
            json.dump({"type": "service_account", "project_id": "p", "private_key_id": "stub", "private_key": pem,
                       "client_email": st.sa_email, "client_id": "1",
                       "token_uri": "http://127.0.0.1:%d/token" % server.server_address[1]}, f)
    serve(server)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""gcs-stub: a Google Cloud Storage stand-in on 127.0.0.1 (the JSON API), with Google's OAuth 2.0
token endpoint and the GCE metadata server's token endpoint, so a client authenticates as it
would against Google.

JSON API (every request needs `Authorization: Bearer <a token this stub issued, unexpired>`,
else 401 with Google's error body; an unknown bucket is 404 "The specified bucket does not exist."):
  POST /upload/storage/v1/b/B/o?uploadType=media&name=N        body = the object's bytes
  POST /upload/storage/v1/b/B/o?uploadType=multipart           multipart/related: JSON metadata, bytes
  GET  /storage/v1/b/B/o[?prefix=P]                            list (storage#objects)
  GET  /storage/v1/b/B/o/N[?alt=media]                         metadata (storage#object) / the bytes,
       with x-goog-hash: crc32c=..,md5=.. (clients validate downloads against it)
Tokens:
  POST /token   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=JWT: the JWT
                must be RS256-signed with the key of the service account written by
                --write-credentials FILE (a key file with token_uri = this stub's /token), aud
                = that token_uri, a devstorage or cloud-platform scope (the token gets it), an
                unexpired exp; else 400 invalid_grant. The JSON API accepts either scope.
  GET  /computeMetadata/v1/instance/service-accounts/default/token   (header Metadata-Flavor:
                Google required, else 403); also .../default/email, /computeMetadata/v1/instance/,
                /computeMetadata/v1/project/project-id, each answering with Metadata-Flavor: Google.
  Tokens live --token-ttl seconds (default 3600); metadata tokens have the cloud-platform scope.
Test hooks: GET /__stub/stats {"uploads", "tokens", "auth_failures", "objects"}; GET
/__stub/objects {name: base64}; POST /__stub/fault {"fault": "5xx:N,401:N,403:N,token5xx:N"} (the
next N storage requests fail so; token5xx: the next N token exchanges answer 503). Prints "listening on PORT" (--port 0 picks a free one).
Debian's python3 + python3-cryptography."""
import argparse
import base64
import hashlib
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stubkit import Faults, serve  # noqa: E402

EMAIL = "chains-signer@stub-project.iam.gserviceaccount.com"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return (c ^ 0xFFFFFFFF).to_bytes(4, "big")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class State:
    def __init__(self, buckets, ttl, faults):
        self.lock = threading.Lock()
        self.buckets = {b: {} for b in buckets}
        self.ttl = ttl
        self.faults = faults
        self.tokens = {}  # token -> expiry (time.time())
        self.issued = 0
        self.uploads = 0
        self.auth_failures = 0
        self.generation = 1
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = hashlib.sha1(self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
        self.token_uri = None

    def issue(self, scope=CLOUD_PLATFORM):
        with self.lock:
            self.issued += 1
            tok = "ya29.stub-%d-%s" % (self.issued, base64.urlsafe_b64encode(os.urandom(12)).decode())
            self.tokens[tok] = (time.time() + self.ttl, scope.split())
        return {"access_token": tok, "expires_in": self.ttl, "token_type": "Bearer"}

    def valid(self, auth, scopes=("devstorage", CLOUD_PLATFORM)):
        """An issued, unexpired token with one of `scopes` (substrings of its scopes)."""
        if not auth or not auth.startswith("Bearer "):
            return False
        exp, granted = self.tokens.get(auth[7:], (0, []))
        return exp > time.time() and any(w in g for w in scopes for g in granted)

    def credentials_json(self):
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": "stub-project", "private_key_id": self.key_id,
                "private_key": pem, "client_email": EMAIL, "client_id": "1234567890",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": self.token_uri}


def object_resource(bucket, name, obj):
    data, gen, ctype = obj
    return {"kind": "storage#object", "id": "%s/%s/%d" % (bucket, name, gen), "name": name, "bucket": bucket,
            "generation": str(gen), "metageneration": "1", "contentType": ctype, "size": str(len(data)),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "crc32c": base64.b64encode(crc32c(data)).decode(),
            "selfLink": "/storage/v1/b/%s/o/%s" % (bucket, urllib.parse.quote(name, safe="")),
            "mediaLink": "/download/storage/v1/b/%s/o/%s?generation=%d&alt=media" % (
                bucket, urllib.parse.quote(name, safe=""), gen)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    st = None  # State

    def log_message(self, *a):
        pass

    def body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, body=b"", ctype="application/json; charset=UTF-8", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def gerror(self, code, message, reason):
        self.send(code, {"error": {"code": code, "message": message,
                                   "errors": [{"message": message, "domain": "global", "reason": reason}]}})

    # --- routing -------------------------------------------------------------------------------
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        path = u.path
        body = self.body() if method == "POST" else b""
        if path.startswith("/__stub/"):
            return self.hooks(method, path, body)
        if path == "/token" and method == "POST":
            return self.token(body)
        if path.startswith("/computeMetadata/"):
            return self.metadata(path)
        m = re.match(r"^/upload/storage/v1/b/([^/]+)/o$", path)
        if m and method == "POST":
            return self.storage(lambda b: self.upload(b, q, body), urllib.parse.unquote(m.group(1)))
        m = re.match(r"^/storage/v1/b/([^/]+)/o$", path)
        if m and method == "GET":
            return self.storage(lambda b: self.list(b, q), urllib.parse.unquote(m.group(1)))
        m = re.match(r"^/(?:download/)?storage/v1/b/([^/]+)/o/(.+)$", path)
        if m and method == "GET":
            name = urllib.parse.unquote(m.group(2))
            return self.storage(lambda b: self.get(b, name, q), urllib.parse.unquote(m.group(1)))
        self.gerror(404, "Not Found", "notFound")

    def storage(self, fn, bucket):
        st = self.st
        for code in (503, 401, 403):
            if st.faults.take("5xx" if code == 503 else str(code)):
                return self.gerror(code, "injected fault %d" % code, "backendError" if code == 503 else "forbidden")
        if not st.valid(self.headers.get("Authorization")):
            with st.lock:
                st.auth_failures += 1
            return self.gerror(401, "Invalid Credentials", "authError")
        if bucket not in st.buckets:
            return self.gerror(404, "The specified bucket does not exist.", "notFound")
        fn(bucket)

    # --- JSON API --------------------------------------------------------------------------------
    def upload(self, bucket, q, body):
        kind = q.get("uploadType", "")
        ctype = self.headers.get("Content-Type", "application/octet-stream")
        if kind == "media":
            name = q.get("name")
            data = body
        elif kind == "multipart":
            m = re.search(r'boundary="?([^";]+)"?', ctype)
            if not m:
                return self.gerror(400, "multipart upload without a boundary", "invalid")
            parts = [p for p in body.split(b"--" + m.group(1).encode()) if p.strip() not in (b"", b"--")]
            if len(parts) != 2:
                return self.gerror(400, "multipart upload needs metadata and media parts", "invalid")
            heads = []
            for p in parts:
                head, _, content = p.lstrip(b"\r\n").partition(b"\r\n\r\n")
                heads.append((head.decode(), content[:-2] if content.endswith(b"\r\n") else content))
            meta = json.loads(heads[0][1] or b"{}")
            name = meta.get("name") or q.get("name")
            data = heads[1][1]
            ctype = meta.get("contentType") or re.search(r"(?im)^content-type:\s*(.+)$", heads[1][0]).group(1).strip()
        else:
            return self.gerror(400, "uploadType %r is not served by this stand-in" % kind, "invalid")
        if not name:
            return self.gerror(400, "Required parameter: name", "required")
        st = self.st
        with st.lock:
            st.generation += 1
            st.buckets[bucket][name] = (data, st.generation, ctype)
            st.uploads += 1
            obj = st.buckets[bucket][name]
        self.send(200, object_resource(bucket, name, obj))

    def list(self, bucket, q):
        prefix = q.get("prefix", "")
        with self.st.lock:
            items = [object_resource(bucket, n, o) for n, o in sorted(self.st.buckets[bucket].items())
                     if n.startswith(prefix)]
        self.send(200, {"kind": "storage#objects", "items": items})

    def get(self, bucket, name, q):
        with self.st.lock:
            obj = self.st.buckets[bucket].get(name)
        if obj is None:
            return self.gerror(404, "No such object: %s/%s" % (bucket, name), "notFound")
        if q.get("alt") == "media":
            data = obj[0]
            h = "crc32c=%s,md5=%s" % (base64.b64encode(crc32c(data)).decode(),
                                      base64.b64encode(hashlib.md5(data).digest()).decode())
            return self.send(200, data, obj[2], headers=[("x-goog-hash", h), ("x-goog-generation", str(obj[1]))])
        self.send(200, object_resource(bucket, name, obj))

    # --- tokens ----------------------------------------------------------------------------------
    def token(self, body):
        if self.st.faults.take("token5xx"):
            return self.send(503, {"error": "backend_error", "error_description": "injected fault"})
        form = dict(urllib.parse.parse_qsl(body.decode()))
        def refuse(why):
            self.send(400, {"error": "invalid_grant", "error_description": why})
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return refuse("unsupported grant_type %r" % form.get("grant_type"))
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return refuse("assertion is not a JWT")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            self.st.key.public_key().verify(b64url_decode(parts[2]), (parts[0] + "." + parts[1]).encode(),
                                            padding.PKCS1v15(), hashes.SHA256())
        except Exception as e:  # noqa: BLE001 - any defect is an invalid grant
            return refuse("Invalid JWT Signature. (%s)" % type(e).__name__)
        now = time.time()
        if header.get("alg") != "RS256":
            return refuse("alg must be RS256")
        if claims.get("iss") != EMAIL:
            return refuse("Invalid issuer %r" % claims.get("iss"))
        if claims.get("aud") != self.st.token_uri:
            return refuse("Invalid audience %r (want %s)" % (claims.get("aud"), self.st.token_uri))
        if "devstorage" not in claims.get("scope", "") and CLOUD_PLATFORM not in claims.get("scope", ""):
            return refuse("no storage or cloud-platform scope in %r" % claims.get("scope"))
        if not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
            return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe")
        self.send(200, self.st.issue(claims["scope"]))

    def metadata(self, path):
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.send(403, b"Missing Metadata-Flavor:Google header.", "text/html")
        flavor = [("Metadata-Flavor", "Google")]
        if path == "/computeMetadata/v1/instance/service-accounts/default/token":
            return self.send(200, self.st.issue(), headers=flavor)
        if path == "/computeMetadata/v1/instance/service-accounts/default/email":
            return self.send(200, EMAIL.encode(), "application/text", headers=flavor)
        if path == "/computeMetadata/v1/project/project-id":
            return self.send(200, b"stub-project", "application/text", headers=flavor)
        if path.rstrip("/") == "/computeMetadata/v1/instance":
            return self.send(200, b"attributes/\nid\nservice-accounts/\n", "application/text", headers=flavor)
        self.send(404, b"Not Found", "text/html", headers=flavor)

    # --- test hooks ------------------------------------------------------------------------------
    def hooks(self, method, path, body):
        st = self.st
        if path == "/__stub/stats":
            with st.lock:
                return self.send(200, {"uploads": st.uploads, "tokens": st.issued, "auth_failures": st.auth_failures,
                                       "objects": sum(len(b) for b in st.buckets.values())})
        if path == "/__stub/objects":
            with st.lock:
                return self.send(200, {b + "/" + n: base64.b64encode(o[0]).decode()
                                       for b, objs in st.buckets.items() for n, o in objs.items()})
        if path == "/__stub/fault" and method == "POST":
            st.faults = Faults(json.loads(body or b"{}").get("fault", ""), counters=("5xx", "401", "403", "token5xx"))
            return self.send(200, {"fault": st.faults.text})
        self.send(404, {"error": "no such hook"})


def start(handler_cls, st, port, write_credentials=None):
    """Serves `handler_cls` with state `st` on 127.0.0.1:port until interrupted (grafeas-stub
    builds on this one); writes the service-account key file first when asked."""
    handler_cls.st = st
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_cls)
    server.daemon_threads = True
    st.token_uri = "http://127.0.0.1:%d/token" % server.server_address[1]
    if write_credentials:
        with open(write_credentials, "w") as f:
            json.dump(st.credentials_json(), f, indent=2)
    serve(server)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--token-ttl", type=int, default=3600)
    ap.add_argument("--write-credentials", help="write a service-account key file for this stub here")
    ap.add_argument("--fault", default="")
    a = ap.parse_args()
    start(Handler, State(a.bucket or ["chains"], a.token_ttl, Faults(a.fault, counters=("5xx", "401", "403", "token5xx"))),
          a.port, a.write_credentials)


if __name__ == "__main__":
    main()

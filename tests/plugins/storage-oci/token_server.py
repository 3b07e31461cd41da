#!/usr/bin/env python3
"""A Docker token-auth server for the oci tests (the registry's `auth: token` mode).

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] with Basic credentials answers
{"token": JWT, "access_token": JWT}: an ES256 JWT whose x5c header carries the signing
certificate (the registry trusts it through rootcertbundle) and which grants what was asked.
Wrong or missing credentials get 401. Each request is appended to --log as one JSON line so the
test can check the scopes asked. Prints the port on stdout once listening.
"""
import argparse
import base64
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--key", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--log", required=True)
    a = p.parse_args()
    key = serialization.load_pem_private_key(open(a.key, "rb").read(), password=None)
    cert = x509.load_pem_x509_certificate(open(a.cert, "rb").read())
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    expected = "Basic " + base64.b64encode((a.user + ":" + a.password).encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            u = urlparse(self.path)
            q = parse_qs(u.query)
            auth = self.headers.get("Authorization", "")
            with open(a.log, "a") as f:
                f.write(json.dumps({"path": u.path, "service": q.get("service", [""])[0],
                                    "scope": q.get("scope", []), "authorized": auth == expected}) + "\n")
            if u.path != "/token" or auth != expected:
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"details":"bad credentials"}')
                return
            access = []
            for s in q.get("scope", []):
                kind, name, actions = s.split(":", 2)
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
            now = int(time.time())
            header = {"typ": "JWT", "alg": "ES256", "x5c": [x5c]}
            claims = {"iss": a.issuer, "sub": a.user, "aud": q.get("service", [""])[0], "exp": now + 300,
                      "nbf": now - 10, "iat": now, "jti": str(now) + str(id(self)), "access": access}
            signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
            der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            token = signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
            body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""vault-stub: a HashiCorp Vault stand-in (transit secrets engine, token auth, ACL policies) for tests.

Speaks Vault's HTTP API as Vault 1.x serves it (JSON bodies, `X-Vault-Token` or `Authorization:
Bearer`, the `{"errors": [...]}` error shape, the response envelope request_id/lease_id/data/auth):

  POST /v1/<mount>/keys/<name>            create a key: type ecdsa-p256 (default), ecdsa-p384, ed25519, rsa-2048
  GET  /v1/<mount>/keys/<name>            key info: keys{"<version>": {name, public_key, creation_time}}, latest_version
  POST /v1/<mount>/keys/<name>/rotate     a new version
  POST /v1/<mount>/sign/<name>[/<hash>]   input (base64), prehashed, hash_algorithm, key_version (0 = latest),
                                          signature_algorithm (RSA: pss default, pkcs1v15), marshaling_algorithm asn1
                                          → data.signature "vault:v<N>:<base64 DER>", data.key_version
  POST /v1/<mount>/verify/<name>[/<hash>] input, prehashed, signature → data.valid
  POST /v1/auth/token/create              policies, id (a chosen token value), ttl; → auth.client_token
  POST /v1/auth/token/revoke {token}, POST /v1/auth/token/revoke-self, GET /v1/auth/token/lookup-self
  POST /v1/auth/<jwt-mount>/config {jwt_validation_pubkeys: [PEM], bound_issuer}   JWT auth method
  POST /v1/auth/<jwt-mount>/role/<role> {bound_audiences, user_claim, token_policies|policies, token_ttl}
  POST|PUT /v1/auth/<jwt-mount>/login {role, jwt} → auth.client_token (RS256/ES256 signature, exp, nbf,
                                          aud, iss checked as Vault's jwt method does with static keys)
  PUT|POST /v1/sys/policy/<name> {policy|rules}  ACL in HCL: path "transit/sign/k*" { capabilities = ["update"] }
  GET  /v1/sys/health

Mount "transit" (more with --mount). The root token (--root-token, default "root") has the root
policy; other tokens only what their policies grant (`*` suffix globs and `+` segments as Vault), plus
the default policy's own-token paths. A missing, unknown or revoked token, or a path not granted,
answers 403 {"errors": ["permission denied"]}, as Vault does. Unlike Vault, a prehashed input whose
length is not the hash's is refused with 400 (Vault would sign a truncated or padded digest): it
catches a client that sends the message instead of its digest.

Faults (--fault LIST or POST /__stub/fault {"fault": "LIST"}, comma-separated): 5xx:N (next N sign
calls answer 500), 429:N, bad-signature (a valid signature over another digest), garbage-signature
(not base64), slow:MS (each sign answer waits MS more). GET /__stub/stats: sign (calls per key,
whatever the answer, denied ones too), key_reads (per key), denied, requests, logins (JWT), fault.

Debian's python3 + python3-cryptography. Prints "listening on PORT" once ready (--port 0 picks one)."""
import argparse
import base64
import datetime
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")]
from stubkit import Faults, serve  # noqa: E402
from vault_auth import VaultError, parse_policy, path_matches, verify_jwt  # noqa: E402

HASHES = {"sha2-224": hashes.SHA224, "sha2-256": hashes.SHA256, "sha2-384": hashes.SHA384,
          "sha2-512": hashes.SHA512}
KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048")


def denied():
    return VaultError(403, "permission denied")


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Key:
    def __init__(self, name, typ):
        self.name, self.type, self.versions = name, typ, []
        self.rotate()

    def rotate(self):
        if self.type == "ecdsa-p256":
            k = ec.generate_private_key(ec.SECP256R1())
        elif self.type == "ecdsa-p384":
            k = ec.generate_private_key(ec.SECP384R1())
        elif self.type == "ed25519":
            k = ed25519.Ed25519PrivateKey.generate()
        else:
            k = rsa.generate_private_key(65537, 2048)
        self.versions.append((k, now_rfc3339()))

    def public(self, v):
        pub = self.versions[v - 1][0].public_key()
        if self.type == "ed25519":  # Vault gives raw Ed25519 keys in base64, others as PEM
            return base64.b64encode(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
        return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def info(self):
        curve = {"ecdsa-p256": "P-256", "ecdsa-p384": "P-384", "ed25519": "ed25519", "rsa-2048": "rsa-2048"}[self.type]
        return {"allow_plaintext_backup": False, "auto_rotate_period": 0, "deletion_allowed": False,
                "derived": False, "exportable": False, "imported_key": False,
                "keys": {str(i + 1): {"certificate_chain": "", "creation_time": t, "name": curve,
                                      "public_key": self.public(i + 1)}
                         for i, (_, t) in enumerate(self.versions)},
                "latest_version": len(self.versions), "min_available_version": 0, "min_decryption_version": 1,
                "min_encryption_version": 0, "name": self.name, "supports_decryption": False,
                "supports_derivation": False, "supports_encryption": False, "supports_signing": True,
                "type": self.type}


class State:
    def __init__(self, root_token, mounts, fault):
        self.lock = threading.Lock()
        self.mounts = set(mounts)
        self.keys = {}  # (mount, name) -> Key
        self.tokens = {root_token: ["root"]}
        self.policies = {}
        self.jwt_mounts = {}  # mount path -> {"config": {...}, "roles": {...}}
        self.logins = 0
        self.faults = Faults(fault, counters=("5xx", "429"), values=("slow",))
        self.stats = {"sign": {}, "key_reads": {}, "denied": 0, "requests": 0}

    def allowed(self, token, path, capability):
        if re.match(r"^auth/[^/]+/login$", path) and not path.startswith("auth/token/"):
            return True  # login endpoints take no token
        policies = self.tokens.get(token)
        if policies is None:
            return False
        if "root" in policies:
            return True
        if path in ("auth/token/lookup-self", "auth/token/renew-self", "auth/token/revoke-self"):
            return True  # the default policy
        granted = False
        for name in policies:
            for pattern, caps in self.policies.get(name, []):
                if path_matches(pattern, path):
                    if "deny" in caps:
                        return False
                    granted = granted or capability in caps or "sudo" in caps and capability == "update"
        return granted


def b64(b):
    return base64.b64encode(b).decode()


def unb64(s, what):
    try:
        return base64.b64decode(s, validate=True)
    except (ValueError, TypeError) as e:
        raise VaultError(400, "unable to decode %s as base64: %s" % (what, e))


def sign_digest(key, version, digest, hash_cls, prehashed, message, sigalg):
    priv = key.versions[version - 1][0]
    if key.type == "ed25519":
        if prehashed:
            raise VaultError(400, "only Pure Ed25519 signatures are supported")
        return priv.sign(message)
    algo = utils.Prehashed(hash_cls())
    if key.type.startswith("ecdsa"):
        return priv.sign(digest, ec.ECDSA(algo))
    pad = padding.PKCS1v15() if sigalg == "pkcs1v15" else padding.PSS(padding.MGF1(hash_cls()), padding.PSS.MAX_LENGTH)
    return priv.sign(digest, pad, algo)


def verify_digest(key, version, sig, digest, hash_cls, message):
    pub = key.versions[version - 1][0].public_key()
    try:
        if key.type == "ed25519":
            pub.verify(sig, message)
        elif key.type.startswith("ecdsa"):
            pub.verify(sig, digest, ec.ECDSA(utils.Prehashed(hash_cls())))
        else:
            pub.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hash_cls()))
        return True
    except (InvalidSignature, ValueError):
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vault-stub"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Cache-Control", "no-store")
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def envelope(self, data=None, auth=None):
        return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 0,
                "data": data, "wrap_info": None, "warnings": None, "auth": auth, "mount_type": ""}

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw.strip():
            return {}
        try:
            doc = json.loads(raw)
        except ValueError:
            raise VaultError(400, "failed to parse JSON input: invalid character")
        if not isinstance(doc, dict):
            raise VaultError(400, "failed to parse JSON input: not an object")
        return doc

    def token(self):
        t = self.headers.get("X-Vault-Token")
        if not t:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                t = auth[7:]
        return t or ""

    def handle_any(self, method):
        st = self.server.state
        path = self.path.split("?", 1)[0]
        with st.lock:
            st.stats["requests"] += 1
        try:
            if path.startswith("/__stub/"):
                return self.stub(method, path[len("/__stub/"):])
            if path == "/v1/sys/health":
                return self.reply(200, {"initialized": True, "sealed": False, "standby": False,
                                        "version": "1.15.0-stub", "cluster_name": "vault-stub"})
            if not path.startswith("/v1/"):
                raise VaultError(404)
            self.route(method, path[4:].strip("/"))
        except VaultError as e:
            if e.status == 403:
                with st.lock:
                    st.stats["denied"] += 1
            self.reply(e.status, {"errors": e.errors})

    def route(self, method, path):
        st = self.server.state
        doc = self.body() if method in ("POST", "PUT") else {}
        capability = {"GET": "read", "LIST": "list", "DELETE": "delete"}.get(method, "update")
        token = self.token()
        parts = path.split("/")
        with st.lock:
            if len(parts) >= 3 and parts[0] in st.mounts and parts[1] == "sign":
                st.stats["sign"][parts[2]] = st.stats["sign"].get(parts[2], 0) + 1  # denied ones too
            if not st.allowed(token, path, capability):
                raise denied()
        if parts[:2] == ["auth", "token"]:
            return self.token_api(method, parts[2:], doc, token)
        if parts[0] == "auth" and len(parts) >= 3:
            return self.jwt_api(method, parts[1], parts[2:], doc)
        if parts[:2] == ["sys", "policy"] and len(parts) == 3:
            if method in ("POST", "PUT"):
                with st.lock:
                    st.policies[parts[2]] = parse_policy(doc.get("policy", doc.get("rules", "")))  # "rules": the older name
                return self.reply(204)
            raise VaultError(405, "unsupported operation")
        if parts[0] in st.mounts and len(parts) >= 3:
            return self.transit(method, parts[0], parts[1], parts[2:], doc)
        raise VaultError(404, "no handler for route \"%s\". route entry not found." % path)

    def token_api(self, method, rest, doc, token):
        st = self.server.state
        if rest == ["create"] and method in ("POST", "PUT"):
            new = doc.get("id") or "hvs." + secrets.token_urlsafe(18)
            policies = sorted(set(doc.get("policies") or ["default"]) | ({"default"} if not doc.get("no_default_policy") else set()))
            with st.lock:
                if "id" in doc and "root" not in st.tokens.get(token, []):
                    raise VaultError(400, "root or sudo privileges required to specify token id")
                st.tokens[new] = policies
            auth = {"client_token": new, "accessor": secrets.token_urlsafe(12), "policies": policies,
                    "token_policies": policies, "metadata": doc.get("meta"), "lease_duration": 2764800,
                    "renewable": True, "entity_id": "", "token_type": "service", "orphan": False,
                    "mfa_requirement": None, "num_uses": 0}
            return self.reply(200, self.envelope(None, auth))
        if rest == ["revoke"] and method in ("POST", "PUT"):
            with st.lock:
                st.tokens.pop(doc.get("token", ""), None)
            return self.reply(204)
        if rest == ["revoke-self"] and method in ("POST", "PUT"):
            with st.lock:
                st.tokens.pop(token, None)
            return self.reply(204)
        if rest == ["lookup-self"]:
            with st.lock:
                pol = st.tokens.get(token, [])
            return self.reply(200, self.envelope({"id": token, "policies": pol, "ttl": 0, "type": "service"}))
        raise VaultError(405, "unsupported operation")

    def jwt_api(self, method, mount_path, rest, doc):
        st = self.server.state
        with st.lock:
            mount = st.jwt_mounts.setdefault(mount_path, {"config": {}, "roles": {}})
        if rest == ["config"] and method in ("POST", "PUT"):
            mount["config"] = doc
            return self.reply(204)
        if len(rest) == 2 and rest[0] == "role" and method in ("POST", "PUT"):
            mount["roles"][rest[1]] = doc
            return self.reply(204)
        if rest == ["login"] and method in ("POST", "PUT"):
            role = mount["roles"].get(doc.get("role", ""))
            if role is None:
                raise VaultError(400, "role %s could not be found" % json.dumps(doc.get("role", "")))
            claims = verify_jwt(mount, doc.get("jwt", ""))
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            if role.get("bound_audiences") and not set(auds) & set(role["bound_audiences"]):
                raise VaultError(400, "error validating claims: invalid audience (aud) claim: audience claim does "
                                      "not match any expected audience")
            policies = sorted(set(role.get("token_policies") or role.get("policies") or []) | {"default"})
            new = "hvs." + secrets.token_urlsafe(18)
            with st.lock:
                st.tokens[new] = policies
                st.logins += 1
            ttl = int(role.get("token_ttl") or 2764800)
            auth = {"client_token": new, "accessor": secrets.token_urlsafe(12), "policies": policies,
                    "token_policies": policies, "metadata": {"role": doc["role"]}, "lease_duration": ttl,
                    "renewable": True, "entity_id": "", "token_type": "service", "orphan": True,
                    "mfa_requirement": None, "num_uses": 0}
            return self.reply(200, self.envelope(None, auth))
        raise VaultError(405, "unsupported operation")

    def key_of(self, mount, name, missing_status, missing_msg):
        with self.server.state.lock:
            key = self.server.state.keys.get((mount, name))
        if key is None:
            raise VaultError(missing_status, *([missing_msg] if missing_msg else []))
        return key

    def transit(self, method, mount, op, rest, doc):
        st = self.server.state
        name = rest[0]
        if op == "keys":
            if len(rest) == 2 and rest[1] == "rotate" and method in ("POST", "PUT"):
                key = self.key_of(mount, name, 400, "key not found")
                with st.lock:
                    key.rotate()
                return self.reply(200, self.envelope(key.info()))
            if len(rest) != 1:
                raise VaultError(404)
            if method == "GET":
                with st.lock:
                    st.stats["key_reads"][name] = st.stats["key_reads"].get(name, 0) + 1
                key = self.key_of(mount, name, 404, None)
                return self.reply(200, self.envelope(key.info()))
            if method in ("POST", "PUT"):
                typ = doc.get("type", "aes256-gcm96")
                if typ not in KEY_TYPES:
                    raise VaultError(400, "unknown key type: %s (this stand-in signs only)" % typ)
                with st.lock:
                    key = st.keys.setdefault((mount, name), Key(name, typ))
                return self.reply(200, self.envelope(key.info()))
            raise VaultError(405, "unsupported operation")
        if op in ("sign", "verify") and method in ("POST", "PUT") and len(rest) in (1, 2):
            return self.sign_or_verify(op, mount, name, rest[1] if len(rest) == 2 else None, doc)
        raise VaultError(404)

    def sign_or_verify(self, op, mount, name, url_hash, doc):
        st = self.server.state
        if op == "sign":
            slow = st.faults.value("slow")
            if slow:
                time.sleep(slow / 1000.0)
            if st.faults.take("5xx"):
                raise VaultError(500, "internal error")
            if st.faults.take("429"):
                raise VaultError(429, "request rate limit exceeded")
        hash_name = url_hash or doc.get("hash_algorithm") or "sha2-256"
        if hash_name not in HASHES:
            raise VaultError(400, "unsupported hash algorithm %s" % hash_name)
        hash_cls = HASHES[hash_name]
        key = self.key_of(mount, name, 400, "signing key not found" if op == "sign" else "encryption key not found")
        data = unb64(doc.get("input", ""), "input")
        prehashed = doc.get("prehashed") in (True, "true")
        if prehashed:
            if key.type != "ed25519" and len(data) != hash_cls.digest_size:
                raise VaultError(400, "prehashed input is %d bytes, %s digests are %d" %
                                 (len(data), hash_name, hash_cls.digest_size))
            digest = data
        else:
            h = hashes.Hash(hash_cls())
            h.update(data)
            digest = h.finalize()
        if doc.get("marshaling_algorithm", "asn1") != "asn1":
            raise VaultError(400, "this stand-in marshals asn1 only")
        if op == "verify":
            m = re.match(r"^vault:v(\d+):(.*)$", doc.get("signature", ""))
            if not m or not 1 <= int(m.group(1)) <= len(key.versions):
                raise VaultError(400, "invalid signature")
            ok = verify_digest(key, int(m.group(1)), unb64(m.group(2), "signature"), digest, hash_cls, data)
            return self.reply(200, self.envelope({"valid": ok}))
        version = int(doc.get("key_version") or 0) or len(key.versions)
        if version > len(key.versions):
            raise VaultError(400, "requested version for signing does not exist")
        sigalg = doc.get("signature_algorithm") or "pss"
        if st.faults.has("bad-signature"):
            h = hashes.Hash(hash_cls())
            h.update(b"not what was asked" + digest)
            digest = h.finalize()
        sig = sign_digest(key, version, digest, hash_cls, prehashed, data, sigalg)
        text = "vault:v%d:%s" % (version, b64(sig))
        if st.faults.has("garbage-signature"):
            text = "vault:v%d:%%%%not-base64" % version
        return self.reply(200, self.envelope({"signature": text, "key_version": version}))

    def stub(self, method, what):
        st = self.server.state
        if what == "stats":
            with st.lock:
                return self.reply(200, dict(st.stats, fault=st.faults.text, logins=st.logins))
        if what == "fault" and method == "POST":
            st.faults = Faults(self.body().get("fault", ""), counters=("5xx", "429"), values=("slow",))
            return self.reply(200, {"fault": st.faults.text})
        raise VaultError(404)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_LIST(self):
        self.handle_any("LIST")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8200)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--root-token", default="root")
    p.add_argument("--mount", action="append", default=[])
    p.add_argument("--key", action="append", default=[], help="NAME[:TYPE] created at start in mount transit")
    p.add_argument("--fault", default="")
    a = p.parse_args()
    server = Server((a.host, a.port), Handler)
    server.state = State(a.root_token, ["transit", *a.mount], a.fault)
    for k in a.key:
        name, _, typ = k.partition(":")
        server.state.keys[("transit", name)] = Key(name, typ or "ecdsa-p256")
    serve(server)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""rekor-stub: a Rekor v1 stand-in for tests and benchmarks.

Behaves like Rekor on the wire for what chainsd uses: dsse v0.0.1 and hashedrekord v0.0.1 entries
(the signature is checked against the verifier, the body canonicalized as Rekor stores it), a real
RFC 6962 Merkle tree, SignedEntryTimestamps and signed checkpoints (note format) made with an
ECDSA P-256 key generated at start, 409 + Location for duplicates, reads by UUID and logIndex,
GET /api/v1/log and /api/v1/log/publicKey. Faults for negative tests come from --fault or
POST /__stub/fault {"fault": "..."}: bad-set, bad-proof, bad-checkpoint, bad-body, 5xx:N (the next
N requests answer 503), 429:N, slow:MS (every answer waits MS).

Debian's python3 with python3-cryptography; standard library otherwise. Prints
"listening on PORT" once ready (--port 0 picks a free one)."""
import argparse
import base64
import hashlib
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography import x509

TREE_ID = 3904496407287907110
HOSTNAME = "rekor-stub"


def canonical(obj):
    # RFC 8785 for what Rekor stores: ASCII keys, strings, integers (no floats).
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(b):
    return sha256(b"\x00" + b)


def node_hash(l, r):
    return sha256(b"\x01" + l + r)


def split_point(n):
    # The largest power of two smaller than n (n > 1).
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves):
    # RFC 6962 MTH from scratch: the reference the incremental tree is tested against.
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    # RFC 6962 PATH(m, D[n]) from scratch (reference).
    if len(leaves) <= 1:
        return []
    k = split_point(len(leaves))
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


class Tree:
    """An append-only RFC 6962 tree keeping every complete subtree: levels[h][i] is the hash of
    leaves [i * 2^h, (i + 1) * 2^h). An append costs O(log n) hashes (amortized 1), the root and an
    inclusion proof against the current size O(log n) (the right edge of the tree is folded from
    the O(log n) complete subtrees it is made of, and cached until the next append)."""

    def __init__(self):
        self.levels = [[]]
        self.edge = {}  # start -> MTH(leaves[start:size]) for the current size

    def __len__(self):
        return len(self.levels[0])

    def leaf(self, index):
        return self.levels[0][index]

    def append(self, lh):
        levels = self.levels
        levels[0].append(lh)
        h = 0
        while len(levels[h]) % 2 == 0:
            if h + 1 == len(levels):
                levels.append([])
            level = levels[h]
            levels[h + 1].append(node_hash(level[-2], level[-1]))
            h += 1
        self.edge = {}

    def _range(self, lo, hi):
        # MTH(leaves[lo:hi]) for the ranges RFC 6962 recursion visits: either a complete aligned
        # subtree, or a range ending at the current size.
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n & (n - 1) == 0 and lo % n == 0:
            h = n.bit_length() - 1
            return self.levels[h][lo >> h]
        if hi == len(self) and lo in self.edge:
            return self.edge[lo]
        k = split_point(n)
        r = node_hash(self._range(lo, lo + k), self._range(lo + k, hi))
        if hi == len(self):
            self.edge[lo] = r
        return r

    def root(self):
        return self._range(0, len(self))

    def path(self, m):
        # PATH(m, D[n]) for the current size n, as the recursive definition orders it (leaf first).
        out = []
        lo, hi = 0, len(self)
        while hi - lo > 1:
            k = split_point(hi - lo)
            if m < lo + k:
                out.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                out.append(self._range(lo, lo + k))
                lo = lo + k
        out.reverse()
        return out


def _decode_verifier(pem):
    # -> (public key, canonical PEM): Rekor re-encodes keys and certificates
    # (x509.PublicKey.CanonicalValue).
    if b"CERTIFICATE" in pem:
        cert = x509.load_pem_x509_certificate(pem)
        return cert.public_key(), cert.public_bytes(serialization.Encoding.PEM)
    key = serialization.load_pem_public_key(pem)
    return key, key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# Decoding a PEM (OpenSSL 3's decoder lookup) costs ~10x a verification; the few verifiers in use
# are kept decoded. Failures are not cached (they raise every time, as before).
_verifiers = {}
_verifiers_lock = threading.Lock()


def decoded_verifier(pem):
    v = _verifiers.get(pem)
    if v is None:
        v = _decode_verifier(pem)
        with _verifiers_lock:
            if len(_verifiers) >= 256:
                _verifiers.clear()
            _verifiers[pem] = v
    return v


def load_verifier(pem):
    return decoded_verifier(pem)[0]


def canonical_pem(pem):
    return decoded_verifier(pem)[1]


def verify(key, sig, message=None, digest=None):
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if digest is not None:
                key.verify(sig, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
            else:
                key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            if digest is not None:
                key.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
            else:
                key.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            if message is None:
                return False  # hashedrekord cannot carry a pure Ed25519 signature over a digest
            key.verify(sig, message)
        else:
            return False
        return True
    except InvalidSignature:
        return False


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


class BadRequest(Exception):
    pass


class Log:
    def __init__(self, fault=""):
        self.lock = threading.Lock()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.pub_pem = self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        self.log_id = hashlib.sha256(der).hexdigest()
        self.key_hint = hashlib.sha256(der).digest()[:4]
        self.bodies = []      # canonical body bytes by index
        self.tree = Tree()
        self.leaves = self.tree.levels[0]  # leaf hashes by index
        self.times = []
        self.by_leaf = {}     # leaf hash hex -> index
        self.fault = fault
        self.fail_left = 0
        self.fail_status = 0
        self.slow_ms = 0
        self.uploads = 0
        self.set_fault(fault)

    def set_fault(self, fault):
        self.fault = fault or ""
        self.faults = frozenset(self.fault.split(","))
        self.fail_left, self.fail_status, self.slow_ms = 0, 0, 0
        for f in self.fault.split(","):
            if f.startswith("5xx:"):
                self.fail_left, self.fail_status = int(f[4:]), 503
            elif f.startswith("429:"):
                self.fail_left, self.fail_status = int(f[4:]), 429
            elif f.startswith("slow:"):
                self.slow_ms = int(f[5:])

    def has(self, f):
        return f in self.faults

    def sign(self, data):
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def uuid(self, index):
        return "%016x" % TREE_ID + self.leaves[index].hex()

    def checkpoint(self, size, root):
        note = "%s - %d\n%d\n%s\n" % (HOSTNAME, TREE_ID, size, base64.b64encode(root).decode())
        sig = self.sign(note.encode())
        if self.has("bad-checkpoint"):
            sig = self.sign(b"something else")
        return note + "\n\u2014 %s %s\n" % (HOSTNAME, base64.b64encode(self.key_hint + sig).decode())

    def entry(self, index):
        # Proof against the current tree, as Rekor answers reads. Only the tree is read under the
        # lock; the signatures are made outside it.
        with self.lock:
            size = len(self.tree)
            root = self.tree.root()
            proof = self.tree.path(index)
            body = self.bodies[index]
            integrated = self.times[index]
        body_b64 = base64.b64encode(body).decode()
        if self.has("bad-body"):
            body_b64 = base64.b64encode(body.replace(b'"sha256"', b'"SHA256"')).decode()
        set_payload = canonical({"body": body_b64, "integratedTime": integrated, "logID": self.log_id,
                                 "logIndex": index})
        set_sig = self.sign(set_payload)
        if self.has("bad-set"):
            set_sig = self.sign(set_payload + b" ")
        hashes_hex = [h.hex() for h in proof]
        if self.has("bad-proof") and hashes_hex:
            hashes_hex[0] = sha256(b"wrong").hex()
        elif self.has("bad-proof"):
            root = sha256(b"wrong root")
        return {self.uuid(index): {
            "body": body_b64,
            "integratedTime": integrated,
            "logID": self.log_id,
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self.checkpoint(size, root),
                    "hashes": hashes_hex,
                    "logIndex": index,
                    "rootHash": root.hex(),
                    "treeSize": size,
                },
                "signedEntryTimestamp": base64.b64encode(set_sig).decode(),
            },
        }}

    def canonical_body(self, proposed):
        kind = proposed.get("kind")
        if proposed.get("apiVersion") != "0.0.1":
            raise BadRequest("unsupported apiVersion %r for kind %r" % (proposed.get("apiVersion"), kind))
        spec = proposed.get("spec") or {}
        if kind == "dsse":
            pc = spec.get("proposedContent") or {}
            env_text = pc.get("envelope")
            verifiers = [base64.b64decode(v) for v in pc.get("verifiers") or []]
            if not isinstance(env_text, str) or not verifiers:
                raise BadRequest("dsse: proposedContent.envelope and verifiers are required")
            env = json.loads(env_text)
            payload = base64.b64decode(env["payload"])
            message = pae(env["payloadType"], payload)
            sigs = []
            for s in env.get("signatures") or []:
                raw = base64.b64decode(s["sig"])
                for v in verifiers:
                    if verify(load_verifier(v), raw, message=message):
                        sigs.append({"signature": s["sig"], "verifier": base64.b64encode(canonical_pem(v)).decode()})
                        break
                else:
                    raise BadRequest("dsse: could not verify envelope signature with any verifier")
            if not sigs:
                raise BadRequest("DSSE envelope must contain 1 or more signatures")
            sigs.sort(key=lambda s: s["signature"])
            return {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(env_text.encode()).hexdigest()},
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
                "signatures": sigs}}
        if kind == "hashedrekord":
            h = ((spec.get("data") or {}).get("hash") or {})
            sig = spec.get("signature") or {}
            if h.get("algorithm") != "sha256" or len(h.get("value", "")) != 64:
                raise BadRequest("hashedrekord: data.hash must be sha256")
            pem = base64.b64decode((sig.get("publicKey") or {}).get("content", ""))
            raw = base64.b64decode(sig.get("content", ""))
            if not verify(load_verifier(pem), raw, digest=bytes.fromhex(h["value"])):
                raise BadRequest("hashedrekord: signature does not verify")
            return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": h["value"]}},
                "signature": {"content": sig["content"], "publicKey": {"content": base64.b64encode(canonical_pem(pem)).decode()}}}}
        raise BadRequest("unsupported kind %r" % kind)

    def add(self, proposed):
        body = canonical(self.canonical_body(proposed))
        lh = leaf_hash(body)
        with self.lock:
            if lh.hex() in self.by_leaf:
                return False, self.by_leaf[lh.hex()]
            self.bodies.append(body)
            self.tree.append(lh)
            self.times.append(int(time.time()))
            self.by_leaf[lh.hex()] = len(self.leaves) - 1
            self.uploads += 1
            return True, len(self.leaves) - 1

    def find_uuid(self, uuid):
        return self.by_leaf.get(uuid[-64:].lower()) if len(uuid) in (64, 80) else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_obj = None
    # Status line, headers and body leave in one send (handle_one_request flushes after each
    # request), and TCP_NODELAY: no Nagle + delayed-ACK stall (~40 ms) on kept-alive connections.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: tests read our stdout for the port only
        pass

    def send(self, status, body, ctype="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, msg, headers=()):
        self.send(status, {"code": status, "message": msg}, headers=headers)

    def faulted(self):
        log = self.log_obj
        if log.slow_ms:
            time.sleep(log.slow_ms / 1000)
        if log.fail_left <= 0:
            return False
        with log.lock:
            if log.fail_left > 0:
                log.fail_left -= 1
                status = log.fail_status
            else:
                status = 0
        if status:
            self.error(status, "injected fault")
            return True
        return False

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        u = urlsplit(self.path)
        log = self.log_obj
        if u.path == "/__stub/stats":
            return self.send(200, {"uploads": log.uploads, "treeSize": len(log.leaves), "fault": log.fault})
        if self.faulted():
            return
        if u.path == "/api/v1/log/publicKey":
            return self.send(200, log.pub_pem, ctype="application/x-pem-file")
        if u.path == "/api/v1/log":
            with log.lock:
                size = len(log.tree)
                root = log.tree.root()
            return self.send(200, {"rootHash": root.hex(), "treeSize": size, "treeID": str(TREE_ID),
                                   "signedTreeHead": log.checkpoint(size, root), "inactiveShards": []})
        if u.path == "/api/v1/log/entries":
            q = parse_qs(u.query)
            try:
                index = int(q.get("logIndex", [""])[0])
            except ValueError:
                return self.error(400, "logIndex is required")
            if index < 0 or index >= len(log.leaves):
                return self.error(404, "entry not found")
            return self.send(200, log.entry(index))
        if u.path.startswith("/api/v1/log/entries/"):
            with log.lock:
                index = log.find_uuid(u.path.rsplit("/", 1)[1])
            if index is None:
                return self.error(404, "entry not found")
            return self.send(200, log.entry(index))
        self.error(404, "no route " + u.path)

    def do_POST(self):
        u = urlsplit(self.path)
        log = self.log_obj
        data = self.body()
        if u.path == "/__stub/fault":
            log.set_fault(json.loads(data or b"{}").get("fault", ""))
            return self.send(200, {"fault": log.fault})
        if self.faulted():
            return
        if u.path != "/api/v1/log/entries":
            return self.error(404, "no route " + u.path)
        try:
            proposed = json.loads(data)
            created, index = log.add(proposed)
        except (BadRequest, ValueError, KeyError, TypeError) as e:
            return self.error(400, str(e))
        location = "/api/v1/log/entries/" + log.uuid(index)
        if not created:
            return self.error(409, "an equivalent entry already exists in the transparency log with UUID " +
                              log.uuid(index), headers=[("Location", location)])
        self.send(201, log.entry(index), headers=[("Location", location), ("ETag", log.uuid(index))])


class Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of new connections (a client opening its
    # pool at full concurrency) overflows it, and the dropped SYNs cost the client retries.
    request_queue_size = 1024
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--fault", default="")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--public-key-out", help="write the log's public key PEM here")
    a = ap.parse_args()
    Handler.log_obj = Log(a.fault)
    if a.public_key_out:
        with open(a.public_key_out, "wb") as f:
            f.write(Handler.log_obj.pub_pem)
    srv = Server((a.host, a.port), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening on %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""rekor-v2-stub: a Rekor v2 (rekor-tiles) stand-in for tests and benchmarks.

Write API as rekor-tiles serves it over HTTP: POST /api/v2/log/entries with a CreateEntryRequest
(protobuf JSON) holding a hashedRekordRequestV002; the signature is verified over the digest with
the verifier (public key or certificate, DER) and keyDetails as rekor-tiles' algorithm registry
allows (pure Ed25519 is refused); the entry (kind hashedrekord, apiVersion 0.0.2) is canonicalized
(JCS) and appended to a real RFC 6962 tree. Like the real log the answer waits until a checkpoint
covers the entry: checkpoints are published every --checkpoint-interval seconds (default 1), C2SP
signed notes by the log key (ECDSA P-256 or Ed25519, key ID as rekor-tiles computes it) under the
origin (default the scheme-less URL, 127.0.0.1:PORT). The answer is a TransparencyLogEntry
(protobuf JSON: logIndex, logId = untruncated checkpoint key ID, kindVersion, inclusionProof with
the checkpoint, canonicalizedBody). A duplicate gets 409 AlreadyExists with x-log-index.

Read API (C2SP tlog-tiles, under /api/v2 as the public instance serves it): /api/v2/checkpoint,
/api/v2/tile/<L>/<N>[.p/<W>], /api/v2/tile/entries/<N>[.p/<W>].

Faults (--fault LIST or POST /__stub/fault {"fault": "LIST"}, comma-separated): bad-proof,
bad-checkpoint (signature over other bytes), wrong-origin, bad-body (the answer's body records
another digest), wrong-log-id, lose:N (the next N uploads are appended but their connection is
closed unanswered), 5xx:N / 429:N (the next N uploads fail), slow:MS (each upload answer waits MS
more), no-publish (checkpoints stop; uploads wait). POST /__stub/config {"checkpoint_interval": S}.
GET /__stub/stats: uploads, treeSize, published, waiting, maxWaiting, fault.

Under load it works as rekor-tiles does: uploads wait on one asyncio loop (no thread each), a
checkpoint integrates the batch appended since the last one (one note signature for the batch),
and the inclusion proofs of the batch share the hashes of the tree's right edge at the
checkpoint's size, computed once per checkpoint; verifier keys are parsed once each. HTTP/1.1
with keep-alive (stubkit.serve_async).

Debian's python3 + python3-cryptography; the tree is rekor-stub's (tests/support/rekor-stub).
Prints "listening on PORT" once ready (--port 0 picks a free one)."""
import argparse
import asyncio
import base64
import binascii
import hashlib
import json
import os
import sys
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "rekor-stub")]
from rekor_stub import Tree, canonical, leaf_hash, node_hash, sha256, split_point  # noqa: E402
from stubkit import CLOSE, Faults, reply, serve_async  # noqa: E402

TILE = 256


class BadRequest(Exception):
    pass


def b64(b):
    return binascii.b2a_base64(b, newline=False).decode()


def unb64(s, what):
    try:
        return base64.b64decode(s, validate=True)
    except (ValueError, TypeError):
        raise BadRequest("%s is not base64" % what)


def key_details(pub):
    # What rekor-tiles' default algorithm registry accepts, by key.
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return {"secp256r1": "PKIX_ECDSA_P256_SHA_256", "secp384r1": "PKIX_ECDSA_P384_SHA_384",
                "secp521r1": "PKIX_ECDSA_P521_SHA_512"}.get(pub.curve.name)
    if isinstance(pub, rsa.RSAPublicKey) and pub.key_size in (2048, 3072, 4096):
        return "PKIX_RSA_PKCS1V15_%d_SHA256" % pub.key_size
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519_PH"  # pure PKIX_ED25519 cannot sign a digest
    return None


HASHES = {"PKIX_ECDSA_P256_SHA_256": hashes.SHA256(), "PKIX_ECDSA_P384_SHA_384": hashes.SHA384(),
          "PKIX_ECDSA_P521_SHA_512": hashes.SHA512()}


def verify_digest(pub, details, digest, sig):
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            h = HASHES[details]
            if len(digest) != h.digest_size:
                raise BadRequest("digest length does not match %s" % details)
            pub.verify(sig, digest, ec.ECDSA(utils.Prehashed(h)))
        elif isinstance(pub, rsa.RSAPublicKey):
            if len(digest) != 32:
                raise BadRequest("digest length does not match %s" % details)
            pub.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        else:
            raise BadRequest("unsupported signing algorithm %s for hashedrekord" % details)
    except InvalidSignature:
        raise BadRequest("verifying signature: invalid signature")


class Log:
    # Everything runs on the server's one asyncio loop.
    def __init__(self, key_type, fault, interval):
        if key_type == "ed25519":
            self.key = ed25519.Ed25519PrivateKey.generate()
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())
        pub = self.key.public_key()
        self.pub_pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.pub_der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_type = key_type
        self.origin = None  # set once the port is known
        self.tree = Tree()
        self.bodies = []
        self.by_leaf = {}
        self.published = (0, None)  # (size, signed note text)
        self.waiters = []  # (deadline, future) of uploads waiting for the next checkpoint
        self.edge = (0, {})  # (checkpoint size, lo -> MTH(leaves[lo:size])): shared by its batch
        self.verifiers = {}  # DER -> public key
        self.interval = interval
        self.uploads = 0
        self.waiting = 0
        self.max_waiting = 0
        self.set_fault(fault)

    def set_origin(self, origin):
        self.origin = origin
        if self.key_type == "ed25519":
            raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()
        else:
            self.key_id = hashlib.sha256(self.pub_der).digest()
        self.publish()

    def set_fault(self, fault):
        self.faults = Faults(fault, counters=("5xx", "429", "lose"), values=("slow",))

    def has(self, f):
        return self.faults.has(f)

    def sign_note(self, text):
        data = text.encode()
        if self.has("bad-checkpoint"):
            data += b"tampered"
        if self.key_type == "ed25519":
            sig = self.key.sign(data)
        else:
            sig = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return text + "\n\u2014 %s %s\n" % (self.origin, b64(self.key_id[:4] + sig))

    def publish(self):
        # One checkpoint for everything appended so far (Tessera integrates in batches): one
        # signature, and the uploads it covers are answered.
        size = len(self.tree)
        if size == self.published[0] and self.published[1] is not None:
            return
        root = self.mth(0, size)
        origin = "other.example/log" if self.has("wrong-origin") else self.origin
        note = self.sign_note("%s\n%d\n%s\n" % (origin, size, b64(root)))
        self.published = (size, note)
        waiters, self.waiters = self.waiters, []
        for _, f in waiters:
            if not f.done():
                f.set_result(True)

    def expire(self):
        # Uploads past their deadline get no entry (checked every interval, as checkpoints are).
        now = time.monotonic()
        keep = []
        for d, f in self.waiters:
            if d <= now:
                f.done() or f.set_result(False)
            else:
                keep.append((d, f))
        self.waiters = keep

    async def publisher(self):
        while True:
            await asyncio.sleep(self.interval)
            if not self.has("no-publish"):
                self.publish()
            self.expire()

    def mth(self, lo, hi):
        # MTH(leaves[lo:hi]) for the ranges RFC 6962 visits below a checkpoint of size hi (at
        # most the current size): complete subtrees from the tree's levels, ranges ending at the
        # checkpoint's size from the batch's shared edge.
        n = hi - lo
        if n == 0:
            return sha256(b"")
        if n & (n - 1) == 0 and lo % n == 0:
            h = n.bit_length() - 1
            return self.tree.levels[h][lo >> h]
        size, memo = self.edge
        if size != hi:
            size, memo = self.edge = (hi, {})
        if lo in memo:
            return memo[lo]
        k = split_point(n)
        r = node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))
        memo[lo] = r
        return r

    def path_at(self, m, size):
        # RFC 6962 PATH(m, D[size]) for a size at most the current one.
        out = []
        lo, hi = 0, size
        while hi - lo > 1:
            k = split_point(hi - lo)
            if m < lo + k:
                out.append(self.mth(lo + k, hi))
                hi = lo + k
            else:
                out.append(self.mth(lo, lo + k))
                lo = lo + k
        out.reverse()
        return out

    def verifier(self, der, cert):
        pub = self.verifiers.get(der)
        if pub is None:
            pub = x509.load_der_x509_certificate(der).public_key() if cert else serialization.load_der_public_key(der)
            if len(self.verifiers) > 1024:
                self.verifiers.clear()
            self.verifiers[der] = pub
        return pub

    def entry_body(self, req):
        hr = req.get("hashedRekordRequestV002")
        if not isinstance(hr, dict):
            raise BadRequest("invalid type, must be hashedrekord")
        sig = hr.get("signature") or {}
        verifier = sig.get("verifier") or {}
        digest = unb64(hr.get("digest", ""), "digest")
        content = unb64(sig.get("content", ""), "signature")
        if not digest or not content:
            raise BadRequest("missing digest or signature")
        details = verifier.get("keyDetails")
        if "publicKey" in verifier:
            der = unb64((verifier["publicKey"] or {}).get("rawBytes", ""), "publicKey.rawBytes")
            try:
                pub = self.verifier(der, False)
            except ValueError:
                raise BadRequest("parsing verifier: not a DER public key")
            stored = {"publicKey": {"rawBytes": b64(der)}}
        elif "x509Certificate" in verifier:
            der = unb64((verifier["x509Certificate"] or {}).get("rawBytes", ""), "x509Certificate.rawBytes")
            try:
                pub = self.verifier(der, True)
            except ValueError:
                raise BadRequest("parsing verifier: not a DER certificate")
            stored = {"x509Certificate": {"rawBytes": b64(der)}}
        else:
            raise BadRequest("must contain either a public key or X.509 certificate")
        if details == "PKIX_ED25519" or details != key_details(pub):
            raise BadRequest("unsupported entry algorithm %s for this key" % details)
        verify_digest(pub, details, digest, content)
        stored["keyDetails"] = details
        algorithm = {"PKIX_ECDSA_P384_SHA_384": "SHA2_384", "PKIX_ECDSA_P521_SHA_512": "SHA2_512"}.get(details, "SHA2_256")
        # RFC 8785 (JCS) of {"apiVersion", "kind", "spec": {"hashedRekordV002": {"data": {algorithm,
        # digest}, "signature": {content, verifier: {keyDetails, publicKey|x509Certificate:
        # {rawBytes}}}}}}: keys in sorted order, values base64 and names that need no escaping.
        (which, raw), = ((k, v["rawBytes"]) for k, v in stored.items() if k != "keyDetails")
        return ('{"apiVersion":"0.0.2","kind":"hashedrekord","spec":{"hashedRekordV002":{"data":{"algorithm":"%s",'
                '"digest":"%s"},"signature":{"content":"%s","verifier":{"keyDetails":"%s","%s":{"rawBytes":"%s"}}}}}}'
                % (algorithm, b64(digest), b64(content), details, which, raw)).encode()

    def add(self, req):
        body = self.entry_body(req)
        lh = leaf_hash(body)
        if lh in self.by_leaf:
            return False, self.by_leaf[lh]
        index = len(self.bodies)
        self.bodies.append(body)
        self.tree.append(lh)
        self.by_leaf[lh] = index
        self.uploads += 1
        return True, index

    async def wait_published(self, index, timeout):
        deadline = time.monotonic() + timeout
        self.waiting += 1
        self.max_waiting = max(self.max_waiting, self.waiting)
        try:
            while self.published[0] <= index:
                f = asyncio.get_running_loop().create_future()
                self.waiters.append((deadline, f))
                if not await f:
                    return None
            return self.published
        finally:
            self.waiting -= 1

    def entry(self, index, size, note):
        proof = self.path_at(index, size)
        body = self.bodies[index]
        hashes_b64 = [b64(h) for h in proof]
        if self.has("bad-proof"):
            if hashes_b64:
                hashes_b64[0] = b64(sha256(b"wrong"))
            else:
                hashes_b64.append(b64(sha256(b"wrong")))
        if self.has("bad-body"):
            doc = json.loads(body)
            doc["spec"]["hashedRekordV002"]["data"]["digest"] = b64(sha256(b"another artifact"))
            body = canonical(doc)
        log_id = sha256(b"another log") if self.has("wrong-log-id") else self.key_id
        root = self.mth(0, size)
        return {
            "logIndex": str(index),
            "logId": {"keyId": b64(log_id)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {"logIndex": str(index), "rootHash": b64(root), "treeSize": str(size),
                               "hashes": hashes_b64, "checkpoint": {"envelope": note}},
            "canonicalizedBody": b64(body),
        }

    def tile(self, level, index, width):
        # Level-L hashes are the tree's hashes at height 8L (subtrees of 256^L leaves).
        h = 8 * level
        if h >= len(self.tree.levels):
            return None
        hashes = self.tree.levels[h][index * TILE:index * TILE + width]
        return b"".join(hashes) if len(hashes) == width else None

    def entry_bundle(self, index, width):
        bodies = self.bodies[index * TILE:index * TILE + width]
        if len(bodies) != width:
            return None
        return b"".join(len(b).to_bytes(2, "big") + b for b in bodies)


def parse_tile_index(parts):
    # "x001/x234/067" -> 1234067
    n = 0
    for i, p in enumerate(parts):
        if i < len(parts) - 1:
            if not p.startswith("x") or len(p) != 4:
                raise ValueError(p)
            p = p[1:]
        if len(p) != 3 or not p.isdigit():
            raise ValueError(p)
        n = n * 1000 + int(p)
    return n


def parse_tile_path(rest):
    # "<L>/<N>[.p/<W>]" or "entries/<N>[.p/<W>]" -> (level or "entries", index, width)
    width = TILE
    if ".p/" in rest:
        rest, w = rest.rsplit(".p/", 1)
        width = int(w)
        if not 1 <= width <= 255:
            raise ValueError(w)
    parts = rest.split("/")
    head = parts[0]
    return (head if head == "entries" else int(head)), parse_tile_index(parts[1:]), width


def grpc_error(status, code, msg, headers=()):
    # grpc-gateway's error body.
    return reply(status, {"code": code, "message": msg, "details": []}, headers=headers)


def handle_get(log, path):
    if path == "/__stub/stats":
        return reply(200, {"uploads": log.uploads, "treeSize": len(log.tree), "published": log.published[0],
                           "waiting": log.waiting, "maxWaiting": log.max_waiting, "fault": log.faults.text,
                           "origin": log.origin})
    if path == "/api/v2/checkpoint":
        return reply(200, log.published[1].encode(), "text/plain; charset=utf-8")
    if path.startswith("/api/v2/tile/"):
        try:
            level, index, width = parse_tile_path(path[len("/api/v2/tile/"):])
        except (ValueError, IndexError):
            return reply(400, b"bad tile path", "text/plain")
        data = log.entry_bundle(index, width) if level == "entries" else log.tile(level, index, width)
        if data is None:
            return reply(404, b"not found", "text/plain")
        return reply(200, data, "application/octet-stream")
    return reply(404, b"no route", "text/plain")


async def upload(log, data):
    for fault, status in (("5xx", 503), ("429", 429)):
        if log.faults.take(fault):
            return grpc_error(status, 14, "injected fault")
    try:
        created, index = log.add(json.loads(data))
    except BadRequest as e:
        return grpc_error(400, 3, "invalid hashedrekord request: %s" % e)
    except (ValueError, TypeError, AttributeError):
        return grpc_error(400, 3, "invalid request body")
    if not created:
        return grpc_error(409, 6, "an equivalent entry already exists in the log with index %d" % index,
                          headers=[("x-log-index", str(index))])
    published = await log.wait_published(index, 60)
    if published is None:
        return grpc_error(503, 14, "reached max pushback; retry")
    if log.faults.take("lose"):
        return CLOSE
    if log.faults.value("slow"):
        await asyncio.sleep(log.faults.value("slow") / 1000)
    return reply(201, log.entry(index, published[0], published[1]))


def handler(log):
    def handle(req):
        path = req.path.split("?", 1)[0]
        if req.method == "GET":
            return handle_get(log, path)
        if req.method != "POST":
            return reply(405, b"method not allowed", "text/plain")
        if path == "/__stub/fault":
            log.set_fault(json.loads(req.body or b"{}").get("fault", ""))
            return reply(200, {"fault": log.faults.text})
        if path == "/__stub/config":
            cfg = json.loads(req.body or b"{}")
            if "checkpoint_interval" in cfg:
                log.interval = float(cfg["checkpoint_interval"])
            return reply(200, {"checkpoint_interval": log.interval})
        if path != "/api/v2/log/entries":
            return grpc_error(404, 5, "Not Found")
        return upload(log, req.body)
    return handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--key-type", choices=["ecdsa", "ed25519"], default="ecdsa")
    ap.add_argument("--origin", help="checkpoint origin (default: HOST:PORT)")
    ap.add_argument("--checkpoint-interval", type=float, default=1.0)
    ap.add_argument("--fault", default="")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--public-key-out", help="write the log's public key PEM here")
    a = ap.parse_args()
    log = Log(a.key_type, a.fault, a.checkpoint_interval)

    def listening(port):
        log.set_origin(a.origin or "%s:%d" % (a.host, port))
        if a.public_key_out:
            with open(a.public_key_out, "wb") as f:
                f.write(log.pub_pem)
        log.publisher_task = asyncio.ensure_future(log.publisher())

    serve_async(handler(log), a.host, a.port, a.tls_cert, a.tls_key, on_listen=listening)

if __name__ == "__main__":
    main()

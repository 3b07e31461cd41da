#!/usr/bin/python3
"""tsa-stub: an RFC 3161 timestamp authority stand-in (sigstore/timestamp-authority's HTTP API).

POST /api/v1/timestamp with a DER TimeStampReq (application/timestamp-query) answers a DER
TimeStampResp (application/timestamp-reply): status granted and a TimeStampToken, a CMS
SignedData (RFC 5652) over a TSTInfo (RFC 3161 §2.4.2) with the request's message imprint and
nonce, signed attributes contentType, messageDigest and ESS signingCertificateV2 (RFC 5816),
ECDSA P-256 with SHA-256, and the signing certificate when certReq is set. The signing chain
(root CA, intermediate CA, TSA leaf with the critical timeStamping extended key usage) is made
at start; GET /api/v1/timestamp/certchain serves it as PEM, leaf first, as the real TSA does
(--chain-out FILE writes the same). --leaf-validity A:B makes the leaf valid from now+A to now+B
seconds (default -3600:86400).

Faults (--fault LIST or POST /__stub/fault {"fault": "LIST"}, comma-separated): bad-signature,
wrong-imprint, wrong-nonce, no-certs, reject (status rejection, failInfo badRequest),
gen-time:OFFSET (genTime = now + OFFSET seconds), 5xx:N / 429:N (the next N requests fail),
slow:MS. GET /__stub/stats: {"timestamps", "fault"}.

Debian's python3 + python3-cryptography; the DER is written here (no ASN.1 library), which is
why `openssl ts -verify`, OpenSSL's TS API in chainsd and @sigstore/verify all check it.
Served on one asyncio loop, HTTP/1.1 with keep-alive (stubkit.serve_async).
Prints "listening on PORT" once ready (--port 0 picks a free one)."""
import argparse
import asyncio
import datetime
import functools
import hashlib
import json
import os
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, ".."), os.path.join(HERE, "..", "rekor-stub")]
from stubkit import Faults, reply, serve_async  # noqa: E402

# --- DER writing -------------------------------------------------------------------------------


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def set_of(*items):
    return tlv(0x31, b"".join(sorted(items)))  # DER: SET OF sorted by encoding


def integer(v):
    n = max(1, (v.bit_length() + 8) // 8)  # room for the sign bit
    return tlv(0x02, v.to_bytes(n, "big", signed=True))


@functools.lru_cache(maxsize=None)
def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    out = bytes([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7f]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7f))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def octets(b):
    return tlv(0x04, b)


def gentime(t):
    return tlv(0x18, time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t)).encode())


SHA256 = "2.16.840.1.101.3.4.2.1"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
POLICY = "1.3.6.1.4.1.57264.2"  # any policy OID will do; this is the arc Sigstore's TSA uses

CONTENT_TYPE_ATTR = seq(oid(CONTENT_TYPE), set_of(oid(TST_INFO)))
# The parts every token shares, encoded once.
INT_0, INT_1, INT_3 = integer(0), integer(1), integer(3)
SHA256_ALG = seq(oid(SHA256))
DIGEST_ALGS = set_of(SHA256_ALG)
ECDSA_SHA256_ALG = seq(oid(ECDSA_SHA256))

# --- DER reading (just what a TimeStampReq needs) --------------------------------------------


class BadRequest(Exception):
    pass


def read_tlv(b, pos):
    if pos + 2 > len(b):
        raise BadRequest("truncated DER")
    tag, n = b[pos], b[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7f
        if k == 0 or k > 4 or pos + k > len(b):
            raise BadRequest("bad DER length")
        n = int.from_bytes(b[pos:pos + k], "big")
        pos += k
    if pos + n > len(b):
        raise BadRequest("truncated DER")
    return tag, b[pos:pos + n], pos + n


def children(content):
    out, pos = [], 0
    while pos < len(content):
        start = pos
        tag, value, pos = read_tlv(content, pos)
        out.append((tag, value, content[start:pos]))
    return out


def parse_request(der):
    tag, body, end = read_tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise BadRequest("TimeStampReq is not a DER SEQUENCE")
    items = children(body)
    if len(items) < 2 or items[0][0] != 0x02 or items[1][0] != 0x30:
        raise BadRequest("TimeStampReq: version and messageImprint expected")
    imprint_der = items[1][2]
    algo, hashed = children(items[1][1])
    if algo[0] != 0x30 or hashed[0] != 0x04:
        raise BadRequest("messageImprint is malformed")
    if children(algo[1])[0][2] != oid(SHA256) or len(hashed[1]) != 32:
        raise BadRequest("only SHA-256 message imprints are accepted")
    nonce_der, cert_req = None, False
    for tag, value, raw in items[2:]:
        if tag == 0x02:
            nonce_der = raw
        elif tag == 0x01:
            cert_req = value != b"\x00"
    return imprint_der, hashed[1], nonce_der, cert_req


# --- the authority -----------------------------------------------------------------------------


def make_cert(subject, issuer_name, key, issuer_key, not_before, not_after, ca, path_len=None, tsa=False):
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject),
                                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chainsd tests")]))
         .issuer_name(issuer_name)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(datetime.datetime.utcfromtimestamp(not_before))
         .not_valid_after(datetime.datetime.utcfromtimestamp(not_after))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
    if tsa:
        # OpenSSL and RFC 3161 §2.3: the only extended key usage, and critical.
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return b.sign(issuer_key, hashes.SHA256())


class Authority:
    def __init__(self, fault, leaf_from, leaf_to):
        now = int(time.time())
        self.lock = threading.Lock()
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tsa-stub root"),
                               x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chainsd tests")])
        self.root = make_cert("tsa-stub root", root_name, root_key, root_key, now - 86400, now + 10 * 365 * 86400, True, 1)
        mid_key = ec.generate_private_key(ec.SECP256R1())
        self.mid = make_cert("tsa-stub intermediate", self.root.subject, mid_key, root_key, now - 86400,
                             now + 5 * 365 * 86400, True, 0)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = make_cert("tsa-stub timestamping", self.mid.subject, self.key, mid_key, now + leaf_from,
                              now + leaf_to, False, tsa=True)
        self.leaf_der = self.leaf.public_bytes(serialization.Encoding.DER)
        # The same for every token: the ESS signing-certificate attribute and the signer's id.
        self.ess_attr = seq(oid(SIGNING_CERT_V2), set_of(seq(seq(seq(octets(hashlib.sha256(self.leaf_der).digest()))))))
        self.sid = seq(self.leaf.issuer.public_bytes(), integer(self.leaf.serial_number))
        self.chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.leaf, self.mid, self.root))
        self.ecdsa = ec.ECDSA(hashes.SHA256())
        self.serial = 1
        self.count = 0
        self.set_fault(fault)

    def set_fault(self, fault):
        self.faults = Faults(fault, counters=("5xx", "429"), values=("slow", "gen-time"))

    def respond(self, req_der):
        f = self.faults
        if f.has("reject"):
            # PKIStatusInfo { rejection(2), failInfo badRequest(bit 2) }
            return seq(seq(integer(2), tlv(0x03, b"\x05\x20")))
        imprint_der, hashed, nonce_der, cert_req = parse_request(req_der)
        if f.has("wrong-imprint"):
            imprint_der = seq(seq(oid(SHA256)), octets(hashlib.sha256(b"something else").digest()))
        if f.has("wrong-nonce") and nonce_der:
            nonce_der = integer(12345)
        with self.lock:
            serial = self.serial
            self.serial += 1
            self.count += 1
        tst = seq(INT_1, oid(POLICY), imprint_der, integer(serial), gentime(int(time.time()) + f.value("gen-time")),
                  *([nonce_der] if nonce_der else []))
        attrs = [CONTENT_TYPE_ATTR, seq(oid(MESSAGE_DIGEST), set_of(octets(hashlib.sha256(tst).digest()))), self.ess_attr]
        attrs_content = b"".join(sorted(attrs))  # DER SET OF order
        signed_attrs = tlv(0x31, attrs_content)  # signed as a SET, carried as [0] IMPLICIT
        signature = self.key.sign(signed_attrs + (b"x" if f.has("bad-signature") else b""), self.ecdsa)
        signer_info = seq(INT_1, self.sid, SHA256_ALG, tlv(0xa0, attrs_content), ECDSA_SHA256_ALG, octets(signature))
        parts = [INT_3, DIGEST_ALGS, seq(oid(TST_INFO), tlv(0xa0, octets(tst)))]
        if cert_req and not f.has("no-certs"):
            parts.append(tlv(0xa0, self.leaf_der))
        parts.append(set_of(signer_info))
        token = seq(oid(SIGNED_DATA), tlv(0xa0, seq(*parts)))
        return seq(seq(INT_0), token)


async def slow(ms, then):
    await asyncio.sleep(ms / 1000)
    return then()


def handler(a):
    def timestamp(req):
        for fault, status in (("5xx", 503), ("429", 429)):
            if a.faults.take(fault):
                return reply(status, b'{"code":503,"message":"injected fault"}')
        if req.headers.get("content-type", "").split(";")[0].strip() != "application/timestamp-query":
            return reply(400, b'{"code":400,"message":"Content-Type must be application/timestamp-query"}')
        try:
            resp = a.respond(req.body)
        except BadRequest as e:
            return reply(400, {"code": 400, "message": str(e)})
        return reply(200, resp, "application/timestamp-reply")

    def handle(req):
        if req.method == "GET":
            if req.path == "/__stub/stats":
                return reply(200, {"timestamps": a.count, "fault": a.faults.text})
            if req.path == "/api/v1/timestamp/certchain":
                return reply(200, a.chain_pem, "application/pem-certificate-chain")
            return reply(404, b"no route", "text/plain")
        if req.method != "POST":
            return reply(405, b"method not allowed", "text/plain")
        if req.path == "/__stub/fault":
            a.set_fault(json.loads(req.body or b"{}").get("fault", ""))
            return reply(200, {"fault": a.faults.text})
        if req.path != "/api/v1/timestamp":
            return reply(404, b"no route", "text/plain")
        if a.faults.value("slow"):
            return slow(a.faults.value("slow"), lambda: timestamp(req))
        return timestamp(req)
    return handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--fault", default="")
    ap.add_argument("--leaf-validity", default="-3600:86400", help="FROM:TO seconds relative to now")
    ap.add_argument("--chain-out", help="write the certificate chain PEM (leaf first) here")
    a = ap.parse_args()
    lf, lt = (int(x) for x in a.leaf_validity.split(":"))
    authority = Authority(a.fault, lf, lt)
    if a.chain_out:
        with open(a.chain_out, "wb") as f:
            f.write(authority.chain_pem)
    serve_async(handler(authority), a.host, a.port)

if __name__ == "__main__":
    main()

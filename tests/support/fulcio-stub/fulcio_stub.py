#!/usr/bin/python3
"""fulcio-stub: a Fulcio stand-in for tests and benchmarks.

Issues real X.509 code-signing certificates from a test CA (root -> intermediate -> leaf) for OIDC
identity tokens whose signature verifies against a trusted issuer's JWKS (kube-testserver's
/.well-known/openid-configuration + /openid/v1/jwks, or the stub's own GKE-metadata issuer), after
checking the proof of possession: a signature over the token's subject (email if present, else
sub) for v1 and v2 publicKeyRequest, the CSR's self-signature for v2 certificateSigningRequest.
The leaf carries what Fulcio puts there: no subject, a critical SAN (email for email tokens,
https://kubernetes.io/namespaces/<ns>/serviceaccounts/<sa> for Kubernetes tokens, else the
subject as URI), EKU codeSigning, KU digitalSignature, the OIDC issuer in 1.3.6.1.4.1.57264.1.1
(raw bytes, deprecated) and 1.3.6.1.4.1.57264.1.8 (DER UTF8String), 10 minutes validity.

  POST /api/v1/signingCert   legacy: Authorization: Bearer TOKEN, {"publicKey":{"content": b64(PEM|DER)},
                             "signedEmailAddress": b64(sig)} -> 201, PEM chain (leaf first)
  POST /api/v2/signingCert   {"credentials":{"oidcIdentityToken"}, "certificateSigningRequest": b64(PEM)
                             | "publicKeyRequest":{"publicKey":{"content"},"proofOfPossession"}}
                             -> 200 {"signedCertificateEmbeddedSct":{"chain":{"certificates":[PEM...]}}}
                             (--detached-sct: signedCertificateDetachedSct with a dummy SCT)
  GET  /api/v1/rootCert, /api/v2/trustBundle
  GET  /computeMetadata/v1/instance/service-accounts/default/identity?audience=A&format=full
                             (needs Metadata-Flavor: Google): a GKE-metadata stand-in; the token is
                             signed by the stub's own issuer (email --metadata-email, verified)
  GET  /__stub/stats         {"requests","v1","v2","certificates","rejected","metadata","last_error"}
  POST /__stub/reset-stats
  POST /__stub/fault         {"status": 503, "count": N (-1: until cleared)} | {"no_v2": true} | {"clear": true}

Debian's python3 + python3-cryptography, standard library otherwise. Prints "listening on PORT"
once ready (--port 0 picks a free one); --ca-out writes the root CA PEM (the trust anchor)."""
import argparse
import base64
import datetime
import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def b64url_decode(s):
    s = s.encode() if isinstance(s, str) else s
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def der_utf8(s):
    b = s.encode()
    n = len(b)
    if n < 128:
        ln = bytes([n])
    else:
        nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(nb)]) + nb
    return b"\x0c" + ln + b


class Reject(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class CA:
    def __init__(self, validity):
        self.validity = validity
        now = datetime.datetime.now(datetime.timezone.utc)
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fulcio-stub"),
                               x509.NameAttribute(NameOID.COMMON_NAME, "fulcio-stub root")])
        self.root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
                     .public_key(self.root_key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key()), critical=False)
                     .sign(self.root_key, hashes.SHA384()))
        self.int_key = ec.generate_private_key(ec.SECP384R1())
        int_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fulcio-stub"),
                              x509.NameAttribute(NameOID.COMMON_NAME, "fulcio-stub intermediate")])
        self.intermediate = (x509.CertificateBuilder().subject_name(int_name).issuer_name(root_name)
                             .public_key(self.int_key.public_key()).serial_number(x509.random_serial_number())
                             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=180))
                             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                             .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
                             .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.int_key.public_key()), critical=False)
                             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()), critical=False)
                             .sign(self.root_key, hashes.SHA384()))

    def pem(self, cert):
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def chain_pems(self):
        return [self.pem(self.intermediate), self.pem(self.root)]

    def issue(self, public_key, claims):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        if claims.get("email"):
            san = x509.RFC822Name(claims["email"])
        elif isinstance(claims.get("kubernetes.io"), dict):
            k = claims["kubernetes.io"]
            san = x509.UniformResourceIdentifier("https://kubernetes.io/namespaces/%s/serviceaccounts/%s"
                                                 % (k.get("namespace", ""), (k.get("serviceaccount") or {}).get("name", "")))
        else:
            san = x509.UniformResourceIdentifier(claims["sub"])
        iss = claims["iss"]
        cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.intermediate.subject)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(seconds=self.validity))
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.int_key.public_key()), critical=False)
                .add_extension(x509.SubjectAlternativeName([san]), critical=True)
                .add_extension(x509.UnrecognizedExtension(OID_ISSUER_V1, iss.encode()), critical=False)
                .add_extension(x509.UnrecognizedExtension(OID_ISSUER_V2, der_utf8(iss)), critical=False)
                .sign(self.int_key, hashes.SHA256()))
        return [self.pem(cert)] + self.chain_pems()


class Issuers:
    """Trusted OIDC issuers: iss -> {kid: public key}. Remote ones are (re)fetched on an unknown kid."""

    def __init__(self, discovery_urls):
        self.lock = threading.Lock()
        self.discovery_urls = list(discovery_urls)
        self.keys = {}  # iss -> {kid: key}
        for u in self.discovery_urls:
            self.fetch(u)

    def fetch(self, base):
        try:
            with urllib.request.urlopen(base.rstrip("/") + "/.well-known/openid-configuration", timeout=5) as r:
                conf = json.loads(r.read())
            with urllib.request.urlopen(conf["jwks_uri"], timeout=5) as r:
                jwks = json.loads(r.read())
        except Exception as e:  # noqa: BLE001 - reported per token
            print("fulcio-stub: cannot fetch issuer %s: %s" % (base, e), file=sys.stderr, flush=True)
            return
        keys = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "EC":
                curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}[jwk["crv"]]
                x = int.from_bytes(b64url_decode(jwk["x"]), "big")
                y = int.from_bytes(b64url_decode(jwk["y"]), "big")
                keys[jwk.get("kid", "")] = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
            elif jwk.get("kty") == "RSA":
                n = int.from_bytes(b64url_decode(jwk["n"]), "big")
                e = int.from_bytes(b64url_decode(jwk["e"]), "big")
                keys[jwk.get("kid", "")] = rsa.RSAPublicNumbers(e, n).public_key()
        with self.lock:
            self.keys.setdefault(conf["issuer"], {}).update(keys)

    def add_local(self, iss, kid, public_key):
        with self.lock:
            self.keys.setdefault(iss, {})[kid] = public_key

    def verify(self, token, audience="sigstore"):
        """Returns the claims of a valid token or raises Reject(401)."""
        try:
            h64, p64, s64 = token.strip().split(".")
            header = json.loads(b64url_decode(h64))
            claims = json.loads(b64url_decode(p64))
            sig = b64url_decode(s64)
        except Exception:  # noqa: BLE001
            raise Reject(401, "the identity token is not a JWT")
        iss = claims.get("iss", "")
        with self.lock:
            known = self.keys.get(iss)
        if known is None:
            raise Reject(401, "unsupported issuer: %s" % iss)
        kid = header.get("kid", "")
        key = known.get(kid) or (next(iter(known.values())) if len(known) == 1 and not kid else None)
        if key is None:
            for u in self.discovery_urls:
                self.fetch(u)
            with self.lock:
                key = self.keys.get(iss, {}).get(kid)
        if key is None:
            raise Reject(401, "no key %s for issuer %s" % (kid, iss))
        signed = (h64 + "." + p64).encode()
        alg = header.get("alg")
        try:
            if alg in ("ES256", "ES384"):
                half = len(sig) // 2
                der = utils.encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big"))
                key.verify(der, signed, ec.ECDSA(hashes.SHA256() if alg == "ES256" else hashes.SHA384()))
            elif alg == "RS256":
                key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
            else:
                raise Reject(401, "unsupported token algorithm %s" % alg)
        except InvalidSignature:
            raise Reject(401, "the identity token's signature does not verify against %s's JWKS" % iss)
        now = time.time()
        if "exp" not in claims or claims["exp"] < now:
            raise Reject(401, "the identity token has expired")
        if claims.get("nbf", 0) > now + 60:
            raise Reject(401, "the identity token is not valid yet")
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if audience not in auds:
            raise Reject(401, "the identity token's audience %s does not include %s" % (auds, audience))
        if claims.get("email") and not claims.get("email_verified"):
            raise Reject(401, "email not verified")
        if not claims.get("sub") and not claims.get("email"):
            raise Reject(401, "the identity token has no subject")
        return claims


def load_public_key(content):
    """PEM or DER SubjectPublicKeyInfo (Fulcio accepts both)."""
    try:
        if content.lstrip().startswith(b"-----BEGIN"):
            return serialization.load_pem_public_key(content)
        return serialization.load_der_public_key(content)
    except Exception:  # noqa: BLE001
        raise Reject(400, "invalid public key")


def check_proof(public_key, proof, subject):
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(proof, subject.encode(), ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(proof, subject.encode(), padding.PKCS1v15(), hashes.SHA256())
        else:
            raise Reject(400, "unsupported public key type")
    except InvalidSignature:
        raise Reject(400, "The signature supplied in the request could not be verified (proof of possession over %s)" % subject)


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.ca = CA(args.validity)
        self.issuers = Issuers(args.trust)
        self.stats = {}
        self.reset_stats()
        self.fault_status = 0
        self.fault_count = 0
        self.no_v2 = args.no_v2
        self.detached = args.detached_sct
        self.metadata_email = args.metadata_email
        self.self_key = ec.generate_private_key(ec.SECP256R1())
        self.self_kid = "fulcio-stub-metadata"
        self.self_issuer = None  # set once the port is known

    def reset_stats(self):
        with self.lock:
            old = self.stats
            self.stats = {"requests": 0, "v1": 0, "v2": 0, "certificates": 0, "rejected": 0, "metadata": 0,
                          "faults": 0, "last_error": ""}
        return old

    def bump(self, key, by=1):
        with self.lock:
            self.stats[key] += by

    def take_fault(self):
        with self.lock:
            if self.fault_status and self.fault_count != 0:
                if self.fault_count > 0:
                    self.fault_count -= 1
                self.stats["faults"] += 1
                return self.fault_status
        return 0

    def metadata_token(self, audience):
        now = int(time.time())
        header = {"alg": "ES256", "kid": self.self_kid, "typ": "JWT"}
        claims = {"iss": self.self_issuer, "aud": audience, "azp": "fulcio-stub", "sub": "1234567890",
                  "email": self.metadata_email, "email_verified": True, "iat": now, "exp": now + 3600}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        r, s = utils.decode_dss_signature(self.self_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return signing_input.decode() + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        st = self.state
        u = urlsplit(self.path)
        if u.path == "/__stub/stats":
            with st.lock:
                return self.send(200, dict(st.stats))
        if u.path == "/api/v1/rootCert":
            return self.send(200, "".join(st.ca.chain_pems()), "application/pem-certificate-chain")
        if u.path == "/api/v2/trustBundle":
            return self.send(200, {"chains": [{"certificates": st.ca.chain_pems()}]})
        if u.path == "/computeMetadata/v1/instance/service-accounts/default/identity":
            st.bump("metadata")
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.send(403, "Missing Metadata-Flavor:Google header", "text/plain")
            if not st.metadata_email:
                return self.send(404, "no service account (start with --metadata-email)", "text/plain")
            aud = parse_qs(u.query).get("audience", [""])[0]
            return self.send(200, st.metadata_token(aud), "text/html")
        if u.path == "/.well-known/openid-configuration":
            return self.send(200, {"issuer": st.self_issuer, "jwks_uri": st.self_issuer + "/jwks"})
        self.send(404, {"code": 5, "message": "Not Found"})

    def do_POST(self):
        st = self.state
        u = urlsplit(self.path)
        raw = self.body()
        if u.path == "/__stub/reset-stats":
            return self.send(200, st.reset_stats())
        if u.path == "/__stub/fault":
            f = json.loads(raw or b"{}")
            with st.lock:
                if f.get("clear"):
                    st.fault_status, st.fault_count, st.no_v2 = 0, 0, False
                if "status" in f:
                    st.fault_status, st.fault_count = int(f["status"]), int(f.get("count", -1))
                if "no_v2" in f:
                    st.no_v2 = bool(f["no_v2"])
            return self.send(200, {"ok": True})
        if u.path not in ("/api/v1/signingCert", "/api/v2/signingCert"):
            return self.send(404, {"code": 5, "message": "Not Found"})
        v2 = u.path == "/api/v2/signingCert"
        st.bump("requests")
        if v2 and st.no_v2:
            return self.send(404, {"code": 5, "message": "Not Found"})
        st.bump("v2" if v2 else "v1")
        fault = st.take_fault()
        if fault:
            return self.send(fault, {"code": 14, "message": "injected fault"})
        try:
            req = json.loads(raw)
            if v2:
                token = ((req.get("credentials") or {}).get("oidcIdentityToken")
                         or self.headers.get("Authorization", "").removeprefix("Bearer ").strip())
            else:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not token:
                raise Reject(401, "missing identity token")
            claims = st.issuers.verify(token)
            subject = claims.get("email") or claims["sub"]
            if v2 and req.get("certificateSigningRequest"):
                try:
                    csr = x509.load_pem_x509_csr(base64.b64decode(req["certificateSigningRequest"]))
                except Exception:  # noqa: BLE001
                    raise Reject(400, "invalid certificate signing request")
                if not csr.is_signature_valid:
                    raise Reject(400, "The CSR's signature does not verify (proof of possession)")
                public_key = csr.public_key()
            else:
                if v2:
                    pkr = req.get("publicKeyRequest") or {}
                    content = ((pkr.get("publicKey") or {}).get("content") or "").encode()
                    proof = base64.b64decode(pkr.get("proofOfPossession") or "")
                else:
                    content = base64.b64decode((req.get("publicKey") or {}).get("content") or "")
                    proof = base64.b64decode(req.get("signedEmailAddress") or "")
                if not content:
                    raise Reject(400, "public key not provided")
                public_key = load_public_key(content)
                check_proof(public_key, proof, subject)
            chain = st.ca.issue(public_key, claims)
        except Reject as e:
            st.bump("rejected")
            with st.lock:
                st.stats["last_error"] = str(e)
            return self.send(e.status, {"code": 16 if e.status == 401 else 3, "message": str(e)})
        except (ValueError, KeyError) as e:
            st.bump("rejected")
            return self.send(400, {"code": 3, "message": "bad request: %s" % e})
        st.bump("certificates")
        if not v2:
            return self.send(201, "".join(chain).strip(), "application/pem-certificate-chain")
        if st.detached:
            return self.send(200, {"signedCertificateDetachedSct": {"chain": {"certificates": chain},
                                                                    "signedCertificateTimestamp": base64.b64encode(b"stub-sct").decode()}})
        return self.send(200, {"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--trust", action="append", default=[],
                    help="base URL of a trusted OIDC issuer's discovery document (repeatable), e.g. kube-testserver's URL")
    ap.add_argument("--validity", type=int, default=600, help="leaf certificate lifetime in seconds (Fulcio: 600)")
    ap.add_argument("--ca-out", help="write the root CA certificate (PEM) here")
    ap.add_argument("--no-v2", action="store_true", help="answer 404 on /api/v2 (a legacy-only Fulcio)")
    ap.add_argument("--detached-sct", action="store_true", help="v2 answers with signedCertificateDetachedSct")
    ap.add_argument("--metadata-email", default="chains@test-project.iam.gserviceaccount.com",
                    help="the service account of the GKE metadata stand-in ('' disables it)")
    args = ap.parse_args()
    state = State(args)
    Handler.state = state
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    state.self_issuer = "http://%s:%d" % (args.host, port)
    state.issuers.add_local(state.self_issuer, state.self_kid, state.self_key.public_key())
    if args.ca_out:
        with open(args.ca_out, "w") as f:
            f.write(state.ca.pem(state.ca.root))
    print("listening on %d" % port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

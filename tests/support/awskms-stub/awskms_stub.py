#!/usr/bin/python3
"""awskms-stub: an AWS KMS stand-in (JSON 1.1 protocol, SigV4) and the STS AssumeRoleWithWebIdentity
action, for tests.

KMS: POST / with `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: TrentService.<Op>`,
Op one of CreateKey (KeySpec ECC_NIST_P256 | ECC_NIST_P384 | RSA_2048, KeyUsage SIGN_VERIFY),
CreateAlias, DescribeKey, GetPublicKey, Sign, Verify, DisableKey, EnableKey. Keys are named by key
id, key ARN, alias name (alias/...) or alias ARN, as KMS resolves them. Sign and Verify take
MessageType RAW (up to 4096 bytes) or DIGEST (exactly the algorithm's digest size, else
ValidationException) and a SigningAlgorithm the key lists (else InvalidKeyUsageException).
Errors as KMS sends them: HTTP 400 (500 for internal ones), `x-amzn-ErrorType`, body
{"__type": "<Name>Exception", "message": "..."}.

Every KMS request must carry a valid SigV4 Authorization (AWS4-HMAC-SHA256), verified as AWS does:
credential scope (date of X-Amz-Date, --region, service kms, aws4_request), Host among the signed
headers, X-Amz-Date within 5 minutes, the canonical request rebuilt from the signed headers as
received, the access key known and, for temporary credentials, X-Amz-Security-Token matching.
Unknown keys / tokens → UnrecognizedClientException; a wrong signature → InvalidSignatureException;
no Authorization → MissingAuthenticationTokenException.

STS: POST / (form body) Action=AssumeRoleWithWebIdentity&RoleArn=...&RoleSessionName=...&
WebIdentityToken=... (unsigned, as AWS allows) → XML Credentials with temporary ASIA... keys and a
session token, valid --sts-duration seconds (default 3600). --web-identity-token T accepts only T.
Container credentials (ECS, EKS Pod Identity): GET /v1/credentials with Authorization equal to
--container-token → {AccessKeyId, SecretAccessKey, Token, Expiration}.

Credentials: --credentials AKID:SECRET (repeatable, default AKIDSTUB:stub-secret). POST
/__stub/revoke {"access_key"} makes a key unknown, POST /__stub/deny {"access_key", "key"} denies it
kms:Sign and kms:GetPublicKey on one key (AccessDeniedException, as an IAM policy would). Faults
(--fault or POST /__stub/fault {"fault"}): 5xx:N (KMSInternalException), throttle:N
(ThrottlingException), bad-signature, slow:MS. GET /__stub/stats: sign (calls per key id, after
authentication, whatever the answer), get_public_key, assume_role, auth_failures, requests.

--tls-self-signed CERT_OUT serves HTTPS with an EC certificate for 127.0.0.1 written to CERT_OUT
(sigstore's client always uses https:// for an endpoint in the kmsref). Debian's python3 +
python3-cryptography. Prints "listening on PORT" once ready."""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

sys.path[:0] = [os.path.dirname(os.path.abspath(__file__)), os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")]
from stubkit import Faults, self_signed_cert, serve  # noqa: E402
import sigv4  # noqa: E402
from sigv4 import client_headers  # noqa: E402,F401  (re-exported for test harnesses)

ACCOUNT = "111122223333"
ALGORITHMS = {"ECC_NIST_P256": ["ECDSA_SHA_256"], "ECC_NIST_P384": ["ECDSA_SHA_384"],
              "RSA_2048": ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
                           "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"]}
HASH_OF = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
BAD_SIG = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret "
           "Access Key and signing method. Consult the service documentation for details.")


class KmsError(Exception):
    def __init__(self, name, message, status=400):
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


class Key:
    def __init__(self, region, spec, description):
        self.id = str(uuid.uuid4())
        self.arn = "arn:aws:kms:%s:%s:key/%s" % (region, ACCOUNT, self.id)
        self.spec, self.description, self.enabled = spec, description, True
        self.created = time.time()
        if spec == "ECC_NIST_P256":
            self.priv = ec.generate_private_key(ec.SECP256R1())
        elif spec == "ECC_NIST_P384":
            self.priv = ec.generate_private_key(ec.SECP384R1())
        else:
            self.priv = rsa.generate_private_key(65537, 2048)

    def metadata(self):
        return {"AWSAccountId": ACCOUNT, "KeyId": self.id, "Arn": self.arn, "CreationDate": self.created,
                "Enabled": self.enabled, "Description": self.description, "KeyUsage": "SIGN_VERIFY",
                "KeyState": "Enabled" if self.enabled else "Disabled", "Origin": "AWS_KMS", "KeyManager": "CUSTOMER",
                "CustomerMasterKeySpec": self.spec, "KeySpec": self.spec, "SigningAlgorithms": ALGORITHMS[self.spec],
                "MultiRegion": False}

    def public_der(self):
        return self.priv.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)


class State:
    def __init__(self, a):
        self.lock = threading.Lock()
        self.region = a.region
        self.keys, self.aliases = {}, {}
        self.creds = {}  # access key -> (secret, session token or None, expiry or None)
        for c in a.credentials or ["AKIDSTUB:stub-secret"]:
            ak, _, secret = c.partition(":")
            self.creds[ak] = (secret, None, None)
        self.denied = set()
        self.web_token = a.web_identity_token
        self.container_token = a.container_token
        self.sts_duration = a.sts_duration
        self.faults = Faults(a.fault, counters=("5xx", "throttle"), values=("slow",))
        self.stats = {"sign": {}, "get_public_key": 0, "assume_role": 0, "auth_failures": 0, "requests": 0}

    def resolve(self, key_id):
        if not key_id:
            raise KmsError("ValidationException", "1 validation error detected: Value null at 'keyId' failed to "
                                                  "satisfy constraint: Member must not be null")
        m = re.match(r"^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key|alias)/(.+)$", key_id)
        if m:
            if m.group(1) != self.region or m.group(2) != ACCOUNT:
                raise KmsError("NotFoundException", "Invalid arn %s" % m.group(1))
            key_id = m.group(4) if m.group(3) == "key" else "alias/" + m.group(4)
        if key_id.startswith("alias/"):
            target = self.aliases.get(key_id)
            if target is None:
                raise KmsError("NotFoundException", "Alias arn:aws:kms:%s:%s:%s is not found." %
                               (self.region, ACCOUNT, key_id))
            key_id = target
        key = self.keys.get(key_id)
        if key is None:
            raise KmsError("NotFoundException", "Key 'arn:aws:kms:%s:%s:key/%s' does not exist" %
                           (self.region, ACCOUNT, key_id))
        return key


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awskms-stub"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, content_type="application/x-amz-json-1.1", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        st = self.server.state
        if self.path == "/v1/credentials" or self.path.startswith("/v2/credentials"):
            return self.container_credentials()
        if self.path == "/__stub/stats":
            with st.lock:
                return self.reply(200, json.dumps(dict(st.stats, fault=st.faults.text)), "application/json")
        self.reply(404, "{}", "application/json")

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with st.lock:
            st.stats["requests"] += 1
        if self.path.startswith("/__stub/"):
            return self.stub(self.path[len("/__stub/"):], json.loads(body or b"{}"))
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            return self.sts(urllib.parse.parse_qs(body.decode()))
        try:
            target = self.headers.get("X-Amz-Target", "")
            if not target.startswith("TrentService."):
                raise KmsError("UnknownOperationException", "")
            self.authenticate(body)
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                raise KmsError("SerializationException", "Start of structure or map found where not expected.")
            out = self.operation(target[len("TrentService."):], doc)
            self.reply(200, json.dumps(out))
        except KmsError as e:
            self.reply(e.status, json.dumps({"__type": e.name, "message": e.message}),
                       extra=[("x-amzn-ErrorType", e.name + ":")])

    # --- SigV4, verified the way AWS does -------------------------------------------------------
    def authenticate(self, body):
        st = self.server.state
        try:
            self.check_signature(body)
        except KmsError:
            with st.lock:
                st.stats["auth_failures"] += 1
            raise

    def check_signature(self, body):
        st = self.server.state
        auth = self.headers.get("Authorization")
        if not auth:
            raise KmsError("MissingAuthenticationTokenException", "Missing Authentication Token")
        m = re.match(r"^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$",
                     auth)
        if not m:
            raise KmsError("IncompleteSignatureException", "Authorization header requires 'Credential', "
                                                           "'Signature' and 'SignedHeaders' parameters.")
        credential, signed_headers, signature = m.groups()
        parts = credential.split("/")
        if len(parts) != 5:
            raise KmsError("IncompleteSignatureException", "Credential is malformed: " + credential)
        access_key, date, region, service, terminal = parts
        amz_date = self.headers.get("X-Amz-Date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise KmsError("IncompleteSignatureException", "Authorization header requires existence of either a "
                                                           "'X-Amz-Date' or a 'Date' header.")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs((now - when).total_seconds()) > 300:
            raise KmsError("InvalidSignatureException", "Signature expired: %s is now earlier than %s (%s - 5 min.)" %
                           (amz_date, (now - datetime.timedelta(minutes=5)).strftime("%Y%m%dT%H%M%SZ"),
                            now.strftime("%Y%m%dT%H%M%SZ")))
        if date != amz_date[:8]:
            raise KmsError("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from "
                                                        "ISO-8601 version of date from HTTP: '%s' != '%s'" %
                           (date, amz_date[:8]))
        if region != st.region:
            raise KmsError("InvalidSignatureException", "Credential should be scoped to a valid region. ")
        if service != "kms" or terminal != "aws4_request":
            raise KmsError("InvalidSignatureException", "Credential should be scoped to correct service: 'kms'. ")
        names = signed_headers.split(";")
        if "host" not in names:
            raise KmsError("InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                                                        "Authorization.")
        with st.lock:
            cred = st.creds.get(access_key)
        if cred is None or (cred[2] is not None and cred[2] < time.time()):
            raise KmsError("UnrecognizedClientException", "The security token included in the request is invalid.")
        secret, session, _ = cred
        if session is not None and self.headers.get("X-Amz-Security-Token") != session:
            raise KmsError("UnrecognizedClientException", "The security token included in the request is invalid.")
        path, _, query = self.path.partition("?")
        expected = sigv4.expected_signature("POST", path, query, self.headers.get_all, names, body, secret, amz_date,
                                            parts[1:])
        if not hmac.compare_digest(expected, signature):
            raise KmsError("InvalidSignatureException", BAD_SIG)
        self.access_key = access_key

    # --- KMS operations -------------------------------------------------------------------------
    def operation(self, op, doc):
        st = self.server.state
        if op == "CreateKey":
            spec = doc.get("KeySpec") or doc.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
            if spec not in ALGORITHMS or doc.get("KeyUsage") != "SIGN_VERIFY":
                raise KmsError("ValidationException", "this stand-in makes SIGN_VERIFY keys of %s only" %
                               ", ".join(ALGORITHMS))
            key = Key(st.region, spec, doc.get("Description", ""))
            with st.lock:
                st.keys[key.id] = key
            return {"KeyMetadata": key.metadata()}
        if op == "CreateAlias":
            name = doc.get("AliasName", "")
            if not name.startswith("alias/") or name.startswith("alias/aws/"):
                raise KmsError("ValidationException", "Alias must start with the prefix \"alias/\".")
            with st.lock:
                key = st.resolve(doc.get("TargetKeyId"))
                if name in st.aliases:
                    raise KmsError("AlreadyExistsException", "An alias with the name arn:aws:kms:%s:%s:%s already "
                                                             "exists" % (st.region, ACCOUNT, name))
                st.aliases[name] = key.id
            return {}
        with st.lock:
            key = st.resolve(doc.get("KeyId"))
        if op == "DescribeKey":
            return {"KeyMetadata": key.metadata()}
        if op in ("DisableKey", "EnableKey"):
            key.enabled = op == "EnableKey"
            return {}
        if op in ("Sign", "GetPublicKey"):
            with st.lock:
                if op == "Sign":
                    st.stats["sign"][key.id] = st.stats["sign"].get(key.id, 0) + 1
                else:
                    st.stats["get_public_key"] += 1
                denied = (self.access_key, key.id) in st.denied
            if denied:
                raise KmsError("AccessDeniedException", "User: arn:aws:iam::%s:user/%s is not authorized to perform: "
                               "kms:%s on resource: %s because no identity-based policy allows the kms:%s action" %
                               (ACCOUNT, self.access_key, op, key.arn, op))
        if not key.enabled:
            raise KmsError("DisabledException", "%s is disabled." % key.arn)
        if op == "GetPublicKey":
            return {"KeyId": key.arn, "PublicKey": base64.b64encode(key.public_der()).decode(),
                    "CustomerMasterKeySpec": key.spec, "KeySpec": key.spec, "KeyUsage": "SIGN_VERIFY",
                    "SigningAlgorithms": ALGORITHMS[key.spec]}
        if op in ("Sign", "Verify"):
            return self.sign_or_verify(op, key, doc)
        raise KmsError("UnknownOperationException", "")

    def sign_or_verify(self, op, key, doc):
        st = self.server.state
        if op == "Sign":
            slow = st.faults.value("slow")
            if slow:
                time.sleep(slow / 1000.0)
            if st.faults.take("5xx"):
                raise KmsError("KMSInternalException", "An internal error occurred.", 500)
            if st.faults.take("throttle"):
                raise KmsError("ThrottlingException", "Rate exceeded")
        alg = doc.get("SigningAlgorithm", "")
        if alg not in ALGORITHMS[key.spec]:
            raise KmsError("InvalidKeyUsageException", "Signing algorithm %s is not valid for %s" % (alg, key.arn))
        try:
            message = base64.b64decode(doc.get("Message", ""), validate=True)
        except ValueError:
            raise KmsError("SerializationException", "Message is not base64")
        hash_cls = HASH_OF[alg[-3:]]
        mtype = doc.get("MessageType", "RAW")
        if mtype == "DIGEST":
            if len(message) != hash_cls.digest_size:
                raise KmsError("ValidationException", "Digest is invalid length for algorithm %s." % alg)
            digest = message
        elif mtype == "RAW":
            if len(message) > 4096:
                raise KmsError("ValidationException", "Message exceeds 4096 bytes; use MessageType DIGEST")
            digest = hashlib.new(hash_cls.name, message).digest()
        else:
            raise KmsError("ValidationException", "MessageType must be RAW or DIGEST")
        pre = utils.Prehashed(hash_cls())
        if alg.startswith("ECDSA"):
            pad = None
        elif "PSS" in alg:
            pad = padding.PSS(padding.MGF1(hash_cls()), hash_cls.digest_size)
        else:
            pad = padding.PKCS1v15()
        if op == "Verify":
            sig = base64.b64decode(doc.get("Signature", ""))
            try:
                if pad is None:
                    key.priv.public_key().verify(sig, digest, ec.ECDSA(pre))
                else:
                    key.priv.public_key().verify(sig, digest, pad, pre)
            except InvalidSignature:
                raise KmsError("KMSInvalidSignatureException", "")
            return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": alg}
        if st.faults.has("bad-signature"):
            digest = hashlib.new(hash_cls.name, b"not what was asked" + digest).digest()
        sig = key.priv.sign(digest, ec.ECDSA(pre)) if pad is None else key.priv.sign(digest, pad, pre)
        return {"KeyId": key.arn, "Signature": base64.b64encode(sig).decode(), "SigningAlgorithm": alg}

    # --- STS ------------------------------------------------------------------------------------
    def sts(self, form):
        st = self.server.state
        get = lambda k: (form.get(k) or [""])[0]  # noqa: E731
        if get("Action") != "AssumeRoleWithWebIdentity":
            return self.sts_error(400, "InvalidAction", "Could not find operation %s" % get("Action"))
        token, role, session = get("WebIdentityToken"), get("RoleArn"), get("RoleSessionName")
        if not token or not role or not session:
            return self.sts_error(400, "ValidationError", "RoleArn, RoleSessionName and WebIdentityToken are required")
        if st.web_token is not None and token != st.web_token:
            return self.sts_error(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your "
                                                               "identity provider")
        ak = "ASIA" + secrets.token_hex(8).upper()
        secret, session_token = secrets.token_urlsafe(30), secrets.token_urlsafe(60)
        expiry = time.time() + st.sts_duration
        with st.lock:
            st.creds[ak] = (secret, session_token, expiry)
            st.stats["assume_role"] += 1
        exp = datetime.datetime.fromtimestamp(expiry, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        role_name = role.rsplit("/", 1)[-1]
        xml = ('<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
               '<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>system:serviceaccount</SubjectFromWebIdentityToken>'
               '<Audience>sts.amazonaws.com</Audience><AssumedRoleUser>'
               '<Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn><AssumedRoleId>AROASTUB:%s</AssumedRoleId>'
               '</AssumedRoleUser><Credentials><SessionToken>%s</SessionToken><SecretAccessKey>%s</SecretAccessKey>'
               '<Expiration>%s</Expiration><AccessKeyId>%s</AccessKeyId></Credentials>'
               '<Provider>stub</Provider></AssumeRoleWithWebIdentityResult>'
               '<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>' %
               (ACCOUNT, role_name, session, session, session_token, secret, exp, ak, uuid.uuid4()))
        self.reply(200, xml, "text/xml")

    def container_credentials(self):
        # The ECS / EKS Pod Identity credentials endpoint: an Authorization token in, JSON credentials out.
        st = self.server.state
        if st.container_token is None or self.headers.get("Authorization") != st.container_token:
            return self.reply(401, json.dumps({"code": "AccessDeniedException", "message": "invalid token"}),
                              "application/json")
        ak = "ASIA" + secrets.token_hex(8).upper()
        secret, session_token = secrets.token_urlsafe(30), secrets.token_urlsafe(60)
        expiry = time.time() + st.sts_duration
        with st.lock:
            st.creds[ak] = (secret, session_token, expiry)
            st.stats["container"] = st.stats.get("container", 0) + 1
        exp = datetime.datetime.fromtimestamp(expiry, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.reply(200, json.dumps({"AccessKeyId": ak, "SecretAccessKey": secret, "Token": session_token,
                                    "Expiration": exp, "RoleArn": "arn:aws:iam::%s:role/chains" % ACCOUNT}),
                   "application/json")

    def sts_error(self, status, code, message):
        xml = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
               '<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>' %
               (code, message, uuid.uuid4()))
        self.reply(status, xml, "text/xml")

    def stub(self, what, doc):
        st = self.server.state
        with st.lock:
            if what == "fault":
                st.faults = Faults(doc.get("fault", ""), counters=("5xx", "throttle"), values=("slow",))
            elif what == "revoke":
                st.creds.pop(doc.get("access_key"), None)
            elif what == "deny":
                st.denied.add((doc.get("access_key"), st.resolve(doc.get("key")).id))
            elif what == "credentials":
                st.creds[doc["access_key"]] = (doc["secret"], doc.get("session_token"), None)
            else:
                return self.reply(404, "{}", "application/json")
        self.reply(200, "{}", "application/json")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=4566)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--credentials", action="append")
    p.add_argument("--key", action="append", default=[], help="ALIAS[:SPEC] created at start (alias/ALIAS)")
    p.add_argument("--web-identity-token")
    p.add_argument("--sts-duration", type=int, default=3600)
    p.add_argument("--container-token", help="serve GET /v1/credentials to this Authorization value")
    p.add_argument("--fault", default="")
    p.add_argument("--tls-self-signed", metavar="CERT_OUT")
    a = p.parse_args()
    server = Server((a.host, a.port), Handler)
    server.state = State(a)
    for k in a.key:
        alias, _, spec = k.partition(":")
        key = Key(a.region, spec or "ECC_NIST_P256", "")
        server.state.keys[key.id] = key
        server.state.aliases["alias/" + alias] = key.id
    cert = key_file = None
    if a.tls_self_signed:
        cert, key_file = self_signed_cert(a.tls_self_signed, "awskms-stub")
    serve(server, cert, key_file)


if __name__ == "__main__":
    main()

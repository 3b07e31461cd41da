"""Auth pieces of vault-stub: ACL policy rules (HCL path blocks, Vault's `*` and `+`) and JWT checks
as Vault's jwt auth method makes them with static jwt_validation_pubkeys."""
import base64
import json
import re
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils


class VaultError(Exception):
    def __init__(self, status, *errors):
        super().__init__(errors)
        self.status, self.errors = status, list(errors)


def parse_policy(text):
    rules = []
    for path, caps in re.findall(r'path\s+"([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]\s*\}', text):
        rules.append((path, set(re.findall(r'"([a-z]+)"', caps))))
    if not rules and text.strip():
        raise VaultError(400, "failed to parse policy: no path rules")
    return rules


def path_matches(pattern, path):
    if pattern.endswith("*"):
        pattern, prefix = pattern[:-1], True
    else:
        prefix = False
    rx = "^" + "/".join("[^/]+" if seg == "+" else re.escape(seg) for seg in pattern.split("/"))
    return re.match(rx + ("" if prefix else "$"), path) is not None


def verify_jwt(mount, jwt):
    """Checks a JWT as Vault's jwt auth method does with jwt_validation_pubkeys; returns its claims."""
    try:
        head64, claims64, sig64 = jwt.split(".")
        pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
        head = json.loads(base64.urlsafe_b64decode(pad(head64)))
        claims = json.loads(base64.urlsafe_b64decode(pad(claims64)))
        sig = base64.urlsafe_b64decode(pad(sig64))
    except ValueError:
        raise VaultError(400, "error validating token: malformed JWT")
    data = (head64 + "." + claims64).encode()
    ok = False
    for pem in mount["config"].get("jwt_validation_pubkeys", []):
        pub = serialization.load_pem_public_key(pem.encode())
        try:
            if head.get("alg") == "RS256" and isinstance(pub, rsa.RSAPublicKey):
                pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
                ok = True
            elif head.get("alg") == "ES256" and isinstance(pub, ec.EllipticCurvePublicKey) and len(sig) == 64:
                pub.verify(utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
                           data, ec.ECDSA(hashes.SHA256()))
                ok = True
        except InvalidSignature:
            pass
    if not ok:
        raise VaultError(400, "error validating token: failed to verify id token signature")
    now = time.time()
    if claims.get("exp", 0) < now - 150 or claims.get("nbf", 0) > now + 150:
        raise VaultError(400, "error validating token: token is expired or not yet valid")
    issuer = mount["config"].get("bound_issuer")
    if issuer and claims.get("iss") != issuer:
        raise VaultError(400, "error validating claims: claim \"iss\" is invalid")
    return claims

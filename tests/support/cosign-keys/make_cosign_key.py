#!/usr/bin/env python3
"""Writes a cosign key pair as `cosign generate-key-pair k8s://ns/name` stores it in a Secret:
cosign.key (ENCRYPTED SIGSTORE PRIVATE KEY: scrypt KDF + NaCl secretbox around a PKCS#8 DER
key, go-securesystemslib's "encrypted" JSON), cosign.pub (PUBLIC KEY PEM) and cosign.password.

An implementation independent of chainsd's: the EC P-256 key comes from the openssl CLI, the KDF
from Python's hashlib.scrypt, the secretbox from libsodium through ctypes (python3-nacl is not
installed). --declare writes other KDF parameters than those used (keys chainsd must refuse
before deriving anything).

usage: make_cosign_key.py OUT_DIR [--password P] [--params N,r,p] [--declare N,r,p] [--pem-type T]
"""
import argparse
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import subprocess
import sys


def secretbox(message: bytes, nonce: bytes, key: bytes) -> bytes:
    name = ctypes.util.find_library("sodium")
    if not name:
        sys.exit("libsodium not found")
    lib = ctypes.CDLL(name)
    if lib.sodium_init() < 0:
        sys.exit("sodium_init failed")
    out = ctypes.create_string_buffer(len(message) + 16)  # crypto_secretbox_MACBYTES
    if lib.crypto_secretbox_easy(out, message, ctypes.c_ulonglong(len(message)), nonce, key) != 0:
        sys.exit("crypto_secretbox_easy failed")
    return out.raw


def triple(text):
    n, r, p = (int(x) for x in text.split(","))
    return n, r, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--password", default="chainsd-test-password")
    ap.add_argument("--params", type=triple, default=(32768, 8, 1))  # cosign's (securesystemslib "Legacy")
    ap.add_argument("--declare", type=triple)
    ap.add_argument("--pem-type", default="ENCRYPTED SIGSTORE PRIVATE KEY")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    der = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                          "-outform", "DER"], check=True, capture_output=True).stdout
    pub = subprocess.run(["openssl", "pkey", "-inform", "DER", "-pubout"], input=der, check=True,
                         capture_output=True).stdout
    n, r, p = a.params
    salt, nonce = os.urandom(32), os.urandom(24)
    key = hashlib.scrypt(a.password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * n * r * p + (1 << 20))
    dn, dr, dp = a.declare or a.params
    doc = {"kdf": {"name": "scrypt", "params": {"N": dn, "r": dr, "p": dp}, "salt": base64.b64encode(salt).decode()},
           "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
           "ciphertext": base64.b64encode(secretbox(der, nonce, key)).decode()}
    body = base64.b64encode(json.dumps(doc).encode()).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (a.pem_type, "\n".join(lines), a.pem_type)
    with open(os.path.join(a.out_dir, "cosign.key"), "w") as f:
        f.write(pem)
    with open(os.path.join(a.out_dir, "cosign.pub"), "wb") as f:
        f.write(pub)
    with open(os.path.join(a.out_dir, "cosign.password"), "w") as f:
        f.write(a.password)


if __name__ == "__main__":
    main()

"""The real chainsd with the kms signer plugin against kube-testserver and tests/support/vault-stub
(Vault transit): a TaskRun and its image signed through Vault, verified with openssl against the
public key Vault returns; a flipped byte fails; a Vault that returns a bad signature, or a revoked
token, fails the run with the reason (one sign call, no retry storm); the token file is rotated
without a restart; `chainsd config check` names a bad signers.kms.kmsref. The same for AWS KMS
(tests/support/awskms-stub over HTTPS, SigV4 checked): signed and verified, a denied key fails;
Google Cloud KMS (tests/support/gcpkms-stub, a metadata-server token) and Azure Key Vault
(tests/support/azurekv-stub over HTTPS, a managed-identity token): signed and verified."""
import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import e2elib
from e2elib import (CHAINSD, Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, dsse_parts,
                    run_tests, taskrun, verify_openssl, wait_signed, wait_until, SOURCE_ROOT, TESTSERVER)
import ktsutil

VAULT_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "vault-stub", "vault_stub.py")
AWSKMS_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "awskms-stub", "awskms_stub.py")
GCPKMS_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "gcpkms-stub", "gcpkms_stub.py")
AZUREKV_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "azurekv-stub", "azurekv_stub.py")
sys.path.insert(0, os.path.dirname(AWSKMS_STUB))
import awskms_stub  # noqa: E402  (its client_headers signs the test's own calls)
KMS_SO = os.environ.get("SIGNER_KMS_SO") or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(CHAINSD))),
                                                         "plugins", "signer-kms", "signer-kms.so")
if KMS_SO not in e2elib.PLUGINS:
    e2elib.PLUGINS.append(KMS_SO)
ROOT = "root-token"


class Vault(StubProcess):
    def __init__(self, *args):
        super().__init__(VAULT_STUB, "--root-token", ROOT, "--key", "release", *args)

    def api(self, method, path, doc=None, token=ROOT):
        req = urllib.request.Request(self.url + "/v1/" + path, method=method,
                                     data=None if doc is None else json.dumps(doc).encode(),
                                     headers={"X-Vault-Token": token})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                return r.status, json.loads(body) if body else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def token(self, name):
        st, doc = self.api("POST", "auth/token/create", {"id": name, "policies": ["signer"]})
        check(st == 200, "token %s created" % name)
        return doc["auth"]["client_token"]

    def public_pem(self):
        st, doc = self.api("GET", "transit/keys/release")
        check(st == 200, "the key is readable")
        return doc["data"]["keys"][str(doc["data"]["latest_version"])]["public_key"]

    def signs(self):
        return self.stats()["sign"].get("release", 0)


def kms_env(vault, work, token):
    """kube-testserver with chains-config selecting the kms signer for TaskRuns and images, and the
    Vault token in a file (as a mounted secret would be)."""
    vault.api("PUT", "sys/policy/signer", {"policy": 'path "transit/sign/release*" { capabilities = ["update"] }\n'
                                                     'path "transit/keys/release" { capabilities = ["read"] }'})
    work.token_path = os.path.join(work.path, "vault-token")
    write_token(work.token_path, vault.token(token))
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, {"artifacts.oci.storage": "tekton", "artifacts.taskrun.signer": "kms",
                           "artifacts.oci.signer": "kms", "signers.kms.kmsref": "hashivault://release",
                           "signers.kms.auth.address": vault.url,
                           "signers.kms.auth.token-path": work.token_path})
    return server


def write_token(path, token):
    with open(path + ".tmp", "w") as f:
        f.write(token + "\n")
    os.replace(path + ".tmp", path)  # a new file, as a secret volume update swaps one in


def ssh_fingerprint(work, pem):
    pub = os.path.join(work.path, "vault-pub.pem")
    with open(pub, "w") as f:
        f.write(pem)
    ssh = subprocess.run(["ssh-keygen", "-i", "-m", "PKCS8", "-f", pub], check=True, capture_output=True).stdout
    with open(pub + ".ssh", "wb") as f:
        f.write(ssh)
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", pub + ".ssh"], check=True, capture_output=True)
    return out.stdout.decode().split()[1]


def test_taskrun_and_image_signed_through_vault_and_verified_with_its_key():
    work = Workdir(key=None)
    with Vault() as vault:
        server = kms_env(vault, work, "t-sign")
        with server, Chainsd(server, work) as c:
            create(server, taskrun("kms-build", image_digest="d" * 64))
            tr = wait_signed(server, "taskruns", "default", "kms-build")
            ann = annotations(tr)
            uid = tr["metadata"]["uid"]
            pem = vault.public_pem()
            with open(os.path.join(work.path, "pub.pem"), "w") as f:
                f.write(pem)
            env, payload, pae = dsse_parts(ann["chains.tekton.dev/signature-taskrun-" + uid])
            sig = base64.b64decode(env["signatures"][0]["sig"])
            check(verify_openssl(work, sig, pae), "openssl verifies the DSSE signature with Vault's public key")
            flipped = bytearray(pae)
            flipped[len(flipped) // 2] ^= 1
            check(not verify_openssl(work, sig, bytes(flipped)), "a flipped payload byte fails")
            keyid = env["signatures"][0]["keyid"]
            check(keyid == ssh_fingerprint(work, pem),
                  "key id is the SSH SHA256 fingerprint of Vault's key, as upstream records it: " + keyid)
            img_payload = base64.b64decode(ann["chains.tekton.dev/payload-" + "d" * 12])
            img_sig = base64.b64decode(ann["chains.tekton.dev/signature-" + "d" * 12])
            check(verify_openssl(work, img_sig, img_payload), "the image's simplesigning signature verifies too")
            stats = vault.stats()
            check(stats["sign"]["release"] == 2, "two sign calls (attestation + image): %s" % stats["sign"])
            check(stats["key_reads"]["release"] == 2, "the key was read once by chainsd (and once here)")
            create(server, taskrun("kms-second"))
            wait_signed(server, "taskruns", "default", "kms-second")
            check(vault.stats()["key_reads"]["release"] == 2, "and not again for the next run")
            check(c.metric("chainsd_plugin_kms_sign_total") == 3, "sign calls counted in /metrics")
    work.remove()


def test_revoked_token_fails_the_run_with_vaults_reason_after_one_call():
    work = Workdir(key=None)
    with Vault() as vault:
        server = kms_env(vault, work, "t-revoke")
        with server, Chainsd(server, work, retry_base_ms=20):
            create(server, taskrun("before-revoke"))
            wait_signed(server, "taskruns", "default", "before-revoke")
            vault.api("POST", "auth/token/revoke", {"token": "t-revoke"})
            before = vault.signs()
            create(server, taskrun("after-revoke"))
            tr = wait_signed(server, "taskruns", "default", "after-revoke", value="failed", timeout=30)
            err = annotations(tr).get("chains.tekton.dev/error", "")
            check("permission denied" in err and vault.url in err, "the run names Vault and its reason: " + err)
            time.sleep(1.5)  # retries, if any, would show now (retry base 20 ms)
            check(vault.signs() - before == 1, "exactly one sign call for the failed run (got %d)" % (vault.signs() - before))
    work.remove()


def test_token_file_rotation_without_restart():
    work = Workdir(key=None)
    with Vault() as vault:
        server = kms_env(vault, work, "t-old")
        with server, Chainsd(server, work) as c:
            create(server, taskrun("rot-1"))
            wait_signed(server, "taskruns", "default", "rot-1")
            write_token(work.token_path, vault.token("t-new"))
            vault.api("POST", "auth/token/revoke", {"token": "t-old"})
            create(server, taskrun("rot-2"))
            wait_signed(server, "taskruns", "default", "rot-2")
            check(c.proc.poll() is None, "the same process signed with the new token")
            wait_until(lambda: c.lines("vault token file changed; using the new token"),
                       what="the change to be logged")  # stdout is a file here: lines arrive in blocks
    work.remove()


def test_bad_signature_from_vault_fails_the_run_naming_the_provider():
    work = Workdir(key=None)
    with Vault("--fault", "bad-signature") as vault:
        server = kms_env(vault, work, "t-bad")
        with server, Chainsd(server, work, retry_base_ms=20):
            create(server, taskrun("bad-sig"))
            tr = wait_signed(server, "taskruns", "default", "bad-sig", value="failed", timeout=30)
            err = annotations(tr).get("chains.tekton.dev/error", "")
            check("hashivault" in err and "does not verify" in err, "the error names the provider: " + err)
            check(not any(k.startswith("chains.tekton.dev/signature-") for k in annotations(tr)),
                  "no signature is stored")
    work.remove()


def test_config_check_names_a_bad_kmsref():
    work = Workdir(key=None)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "chains-config", "namespace": "tekton-chains"},
          "data": {"artifacts.taskrun.signer": "kms", "artifacts.oci.storage": "tekton", "signers.kms.kmsref": "hashivault://no/slashes",
                   "signers.kms.auth.address": "http://127.0.0.1:8200", "signers.kms.auth.token": "t"}}
    r = subprocess.run([CHAINSD, "config", "check", "--plugin-dir", work.plugins, "-"], input=json.dumps(cm),
                       capture_output=True, text=True, timeout=60)
    print(r.stdout + r.stderr, flush=True)
    check(r.returncode == 1 and 'signers.kms.kmsref: invalid value "hashivault://no/slashes"' in r.stdout,
          "config check rejects the reference, naming the key")
    cm["data"]["signers.kms.kmsref"] = "awskms:///alias/release"
    r = subprocess.run([CHAINSD, "config", "check", "--plugin-dir", work.plugins, "-"], input=json.dumps(cm),
                       capture_output=True, text=True, timeout=60)
    print(r.stdout + r.stderr, flush=True)
    check("signers.kms.kmsref: invalid value" not in r.stdout, "a valid awskms reference passes the syntax check")
    work.remove()


class AwsKms(StubProcess):
    REGION, AK, SECRET = "eu-west-1", "AKIDE2E", "e2e-secret"

    def __init__(self, cert):
        super().__init__(AWSKMS_STUB, "--region", self.REGION, "--credentials", self.AK + ":" + self.SECRET,
                         "--key", "release", "--tls-self-signed", cert)
        self.url = "https://127.0.0.1:" + self.port
        self.ctx = ssl.create_default_context(cafile=cert)

    def call(self, target, doc):
        body = json.dumps(doc).encode()
        headers = awskms_stub.client_headers("127.0.0.1:" + self.port, body, target, self.AK, self.SECRET, self.REGION)
        req = urllib.request.Request(self.url + "/", data=body, method="POST", headers=headers)
        with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
            return json.loads(r.read())

    def stats(self):
        with urllib.request.urlopen(self.url + "/__stub/stats", timeout=10, context=self.ctx) as r:
            return json.loads(r.read())

    def stub(self, what, doc):
        req = urllib.request.Request(self.url + "/__stub/" + what, data=json.dumps(doc).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10, context=self.ctx).read()

    def public_pem(self):
        der = base64.b64decode(self.call("GetPublicKey", {"KeyId": "alias/release"})["PublicKey"])
        return subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-pubout"], input=der, check=True,
                              capture_output=True).stdout.decode()


class environ:
    """chainsd's environment for a provider (it inherits this process's): set for the block."""

    def __init__(self, **vars):
        self.vars = vars

    def __enter__(self):
        self.saved = {k: os.environ.get(k) for k in self.vars}
        os.environ.update(self.vars)

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


def aws_env(cert):
    # Static credentials, the region, and the stand-in's certificate as the trust store
    # (SSL_CERT_FILE: the kmsref endpoint is always https://, as in sigstore).
    return environ(AWS_ACCESS_KEY_ID=AwsKms.AK, AWS_SECRET_ACCESS_KEY=AwsKms.SECRET, AWS_REGION=AwsKms.REGION,
                   SSL_CERT_FILE=cert)


def aws_server(kms):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, {"artifacts.oci.storage": "tekton", "artifacts.taskrun.signer": "kms",
                           "artifacts.oci.signer": "kms",
                           "signers.kms.kmsref": "awskms://127.0.0.1:%s/alias/release" % kms.port})
    return server


def test_aws_kms_signs_taskrun_and_image_verified_with_its_public_key():
    work = Workdir(key=None)
    cert = os.path.join(work.path, "kms-cert.pem")
    with AwsKms(cert) as kms, aws_env(cert):
        server = aws_server(kms)
        with server, Chainsd(server, work):
            create(server, taskrun("aws-build", image_digest="e" * 64))
            tr = wait_signed(server, "taskruns", "default", "aws-build")
            ann = annotations(tr)
            pem = kms.public_pem()
            with open(os.path.join(work.path, "pub.pem"), "w") as f:
                f.write(pem)
            env, payload, pae = dsse_parts(ann["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]])
            sig = base64.b64decode(env["signatures"][0]["sig"])
            check(verify_openssl(work, sig, pae), "openssl verifies the DSSE signature with the key GetPublicKey returns")
            flipped = bytearray(pae)
            flipped[10] ^= 1
            check(not verify_openssl(work, sig, bytes(flipped)), "a flipped payload byte fails")
            check(env["signatures"][0]["keyid"] == ssh_fingerprint(work, pem), "key id: the SSH fingerprint of the KMS key")
            img_sig = base64.b64decode(ann["chains.tekton.dev/signature-" + "e" * 12])
            img_payload = base64.b64decode(ann["chains.tekton.dev/payload-" + "e" * 12])
            check(verify_openssl(work, img_sig, img_payload), "the image's signature verifies too")
            st = kms.stats()
            check(sum(st["sign"].values()) == 2 and st["get_public_key"] == 2 and st["auth_failures"] == 0,
                  "two Sign calls, GetPublicKey once by chainsd (and once here), every SigV4 signature valid: %s" % st)
    work.remove()


def test_aws_kms_denied_key_fails_the_run_after_one_call():
    work = Workdir(key=None)
    cert = os.path.join(work.path, "kms-cert.pem")
    with AwsKms(cert) as kms, aws_env(cert):
        server = aws_server(kms)
        with server, Chainsd(server, work, retry_base_ms=20):
            create(server, taskrun("aws-before"))
            wait_signed(server, "taskruns", "default", "aws-before")
            kms.stub("deny", {"access_key": AwsKms.AK, "key": "alias/release"})
            before = sum(kms.stats()["sign"].values())
            create(server, taskrun("aws-denied"))
            tr = wait_signed(server, "taskruns", "default", "aws-denied", value="failed", timeout=30)
            err = annotations(tr).get("chains.tekton.dev/error", "")
            check("AccessDeniedException" in err and "kms:Sign" in err, "the run carries AWS's reason: " + err)
            time.sleep(1.5)
            calls = sum(kms.stats()["sign"].values()) - before
            check(calls == 1, "exactly one Sign call for the failed run (got %d)" % calls)
    work.remove()


GCP_KEY = "projects/p/locations/global/keyRings/r/cryptoKeys/release"


def test_gcp_kms_signs_with_a_metadata_server_token_verified_with_its_public_key():
    work = Workdir(key=None)
    with StubProcess(GCPKMS_STUB, "--key", "release") as kms, \
            environ(CHAINSD_GCPKMS_ENDPOINT=kms.url, GCE_METADATA_HOST="127.0.0.1:" + kms.port):
        server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
        chains_config(server, {"artifacts.oci.storage": "tekton", "artifacts.taskrun.signer": "kms",
                               "artifacts.oci.signer": "kms", "signers.kms.kmsref": "gcpkms://" + GCP_KEY})
        with server, Chainsd(server, work):
            create(server, taskrun("gcp-build", image_digest="f" * 64))
            tr = wait_signed(server, "taskruns", "default", "gcp-build")
            ann = annotations(tr)
            md = urllib.request.Request(kms.url + "/computeMetadata/v1/instance/service-accounts/default/token",
                                        headers={"Metadata-Flavor": "Google"})
            token = json.loads(urllib.request.urlopen(md, timeout=10).read())["access_token"]
            req = urllib.request.Request(kms.url + "/v1/%s/cryptoKeyVersions/1/publicKey" % GCP_KEY,
                                         headers={"Authorization": "Bearer " + token})
            pem = json.loads(urllib.request.urlopen(req, timeout=10).read())["pem"]
            with open(os.path.join(work.path, "pub.pem"), "w") as f:
                f.write(pem)
            env, payload, pae = dsse_parts(ann["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]])
            sig = base64.b64decode(env["signatures"][0]["sig"])
            check(verify_openssl(work, sig, pae), "openssl verifies the DSSE signature with the key publicKey returns")
            flipped = bytearray(pae)
            flipped[-3] ^= 1
            check(not verify_openssl(work, sig, bytes(flipped)), "a flipped payload byte fails")
            check(env["signatures"][0]["keyid"] == ssh_fingerprint(work, pem), "key id: the SSH fingerprint of the KMS key")
            img_sig = base64.b64decode(ann["chains.tekton.dev/signature-" + "f" * 12])
            img_payload = base64.b64decode(ann["chains.tekton.dev/payload-" + "f" * 12])
            check(verify_openssl(work, img_sig, img_payload), "the image's signature verifies too")
            st = kms.stats()
            check(st["sign"].get(GCP_KEY + "/cryptoKeyVersions/1") == 2 and st["public_key"] == 2 and st["list"] == 1,
                  "two asymmetricSign calls; the version listed and its key read once by chainsd: %s" % st)
    work.remove()


def test_azure_key_vault_signs_with_a_managed_identity_verified_with_its_key():
    work = Workdir(key=None)
    cert = os.path.join(work.path, "kv-cert.pem")
    with StubProcess(AZUREKV_STUB, "--key", "release", "--tls-self-signed", cert) as kv:
        base = "https://127.0.0.1:" + kv.port
        ctx = ssl.create_default_context(cafile=cert)
        with environ(SSL_CERT_FILE=cert, AZURE_POD_IDENTITY_AUTHORITY_HOST=base):
            server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
            chains_config(server, {"artifacts.oci.storage": "tekton", "artifacts.taskrun.signer": "kms",
                                   "artifacts.oci.signer": "kms",
                                   "signers.kms.kmsref": "azurekms://127.0.0.1:%s/release" % kv.port})
            with server, Chainsd(server, work):
                create(server, taskrun("azure-build", image_digest="a" * 64))
                tr = wait_signed(server, "taskruns", "default", "azure-build")
                ann = annotations(tr)
                md = urllib.request.Request(base + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                                            "https%3A%2F%2Fvault.azure.net", headers={"Metadata": "true"})
                token = json.loads(urllib.request.urlopen(md, timeout=10, context=ctx).read())["access_token"]
                req = urllib.request.Request(base + "/keys/release?api-version=7.4",
                                             headers={"Authorization": "Bearer " + token})
                jwk = json.loads(urllib.request.urlopen(req, timeout=10, context=ctx).read())["key"]
                # The JWK as SubjectPublicKeyInfo PEM, through openssl: the fixed P-256 prefix + 04||x||y.
                pad = lambda v: base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))  # noqa: E731
                der = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + \
                    pad(jwk["x"]) + pad(jwk["y"])
                pem = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-pubout"], input=der,
                                     check=True, capture_output=True).stdout.decode()
                with open(os.path.join(work.path, "pub.pem"), "w") as f:
                    f.write(pem)
                env, payload, pae = dsse_parts(ann["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]])
                sig = base64.b64decode(env["signatures"][0]["sig"])
                check(verify_openssl(work, sig, pae), "openssl verifies the DSSE signature with the vault's JWK")
                flipped = bytearray(pae)
                flipped[20] ^= 1
                check(not verify_openssl(work, sig, bytes(flipped)), "a flipped payload byte fails")
                check(env["signatures"][0]["keyid"] == ssh_fingerprint(work, pem), "key id: the SSH fingerprint")
                img_sig = base64.b64decode(ann["chains.tekton.dev/signature-" + "a" * 12])
                img_payload = base64.b64decode(ann["chains.tekton.dev/payload-" + "a" * 12])
                check(verify_openssl(work, img_sig, img_payload), "the image's signature verifies too")
                with urllib.request.urlopen(base + "/__stub/stats", timeout=10, context=ctx) as r:
                    st = json.loads(r.read())
                check(st["sign"].get("release") == 2 and st["get_key"] == 2,
                      "two sign calls; the key read once by chainsd (and once here): %s" % st)
    work.remove()


if __name__ == "__main__":
    run_tests(globals())

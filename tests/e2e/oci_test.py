"""The real chainsd with the storage-oci plugin against kube-testserver and Debian's docker-registry
(started here on 127.0.0.1): a TaskRun that built an image gets its image signature under
sha256-<hex>.sig and its attestation under sha256-<hex>.att, verified independently with openssl
and securesystemslib; a registry that is down fails the run with a reason naming it. With
artifacts.oci.sign-platform-manifests an image index and each of its platform manifests are signed
(and the key is refused where no storage can read indexes). Keyless (tests/support fulcio-stub and
rekor-stub): the .sig/.att layers become Sigstore bundles that @sigstore/verify accepts for the
controller's identity, and rejects when tampered with."""
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
import urllib.error
import urllib.request

import e2elib  # noqa: E402
from e2elib import (CHAINSD, Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, dsse_parts,
                    keyless_identity, run_tests, taskrun, verify_openssl, verify_sslib, wait_signed, wait_until,
                    SOURCE_ROOT, TESTSERVER)
import ktsutil

REGISTRY = "/usr/bin/docker-registry"
FULCIO_STUB = os.environ.get("FULCIO_STUB", os.path.join(SOURCE_ROOT, "tests/support/fulcio-stub/fulcio_stub.py"))
REKOR_STUB = os.environ.get("REKOR_STUB", os.path.join(SOURCE_ROOT, "tests/support/rekor-stub/rekor_stub.py"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """docker-registry with filesystem storage in a temp dir, no auth, plain HTTP on loopback."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chainsd-e2e-registry-")
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n"
                    "http:\n  addr: %s\n" % (self.dir, self.host))
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._up, what="docker-registry to listen")

    def _up(self):
        try:
            return self.call("GET", "/v2/")[0] == 200
        except OSError:
            return False

    def call(self, method, path, body=None, headers=None):
        url = path if path.startswith("http") else "http://" + self.host + path
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def put_blob(self, repo, data):
        st, h, _ = self.call("POST", "/v2/%s/blobs/uploads/" % repo, b"")
        check(st == 202, "blob upload started")
        loc = h["Location"]
        loc += ("&" if "?" in loc else "?") + "digest=sha256%3A" + hashlib.sha256(data).hexdigest()
        st, _, _ = self.call("PUT", loc, data, {"Content-Type": "application/octet-stream"})
        check(st == 201, "blob uploaded")

    def push_image(self, repo):
        return self.push_platform(repo, "amd64", "v1")["digest"][len("sha256:"):]

    def push_platform(self, repo, arch, tag):
        """A one-layer image for `arch` under `tag`; returns its descriptor as an index lists it."""
        layer = b"e2e layer %s %d" % (arch.encode(), time.monotonic_ns())
        config = json.dumps({"architecture": arch, "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}
                             }).encode()
        self.put_blob(repo, layer)
        self.put_blob(repo, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config),
                       "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(layer),
                        "digest": "sha256:" + hashlib.sha256(layer).hexdigest()}]}).encode()
        st, _, _ = self.call("PUT", "/v2/%s/manifests/%s" % (repo, tag), manifest,
                             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        check(st == 201, "image manifest pushed")
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": len(manifest),
                "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
                "platform": {"architecture": arch, "os": "linux"}}

    def push_index(self, repo, manifests, tag):
        """An OCI image index of these descriptors under `tag`; returns its digest's hex."""
        body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                           "manifests": manifests}).encode()
        st, _, _ = self.call("PUT", "/v2/%s/manifests/%s" % (repo, tag), body,
                             {"Content-Type": "application/vnd.oci.image.index.v1+json"})
        check(st == 201, "image index pushed")
        return hashlib.sha256(body).hexdigest()

    def status(self, repo, ref):
        return self.call("GET", "/v2/%s/manifests/%s" % (repo, ref), None,
                         {"Accept": "application/vnd.oci.image.manifest.v1+json"})[0]

    def manifest(self, repo, ref):
        st, _, body = self.call("GET", "/v2/%s/manifests/%s" % (repo, ref), None,
                                {"Accept": "application/vnd.oci.image.manifest.v1+json"})
        check(st == 200, "manifest %s of %s exists (HTTP %d)" % (ref, repo, st))
        return json.loads(body)

    def blob(self, repo, digest):
        st, _, body = self.call("GET", "/v2/%s/blobs/%s" % (repo, digest))
        check(st == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == digest, "blob %s readable" % digest)
        return body

    def stop(self):
        e2elib.stop_process(self.proc)
        self.log.close()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def image_taskrun(name, image, hexdigest):
    tr = taskrun(name, image_digest=hexdigest)
    for r in tr["status"]["results"]:
        if r["name"] == "IMAGE_URL":
            r["value"] = image
    return tr


def oci_env():
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    # Every storage named must be installed, pipelinerun's default (tekton) included.
    chains_config(server, {"artifacts.oci.storage": "oci", "artifacts.taskrun.storage": "oci",
                           "artifacts.pipelinerun.storage": "oci"})
    return server, Workdir("ecdsa")


def test_taskrun_image_signature_and_attestation_in_registry():
    reg = Registry()
    try:
        repo = "e2e/app"
        hexdigest = reg.push_image(repo)
        server, work = oci_env()
        with server, Chainsd(server, work) as c:
            create(server, image_taskrun("oci-build", reg.host + "/" + repo, hexdigest))
            tr = wait_signed(server, "taskruns", "default", "oci-build", timeout=40)
            ann = annotations(tr)
            check(not any(k.startswith("chains.tekton.dev/payload-") for k in ann),
                  "oci storage writes no payload annotations on the run")
            sig_m = reg.manifest(repo, "sha256-%s.sig" % hexdigest)
            check(sig_m["mediaType"] == "application/vnd.oci.image.manifest.v1+json", "OCI manifest")
            check(len(sig_m["layers"]) == 1, "one signature layer")
            layer = sig_m["layers"][0]
            check(layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json", "simplesigning layer")
            payload = reg.blob(repo, layer["digest"])
            check(json.loads(payload)["critical"]["image"]["docker-manifest-digest"] == "sha256:" + hexdigest,
                  "the stored payload names the image digest")
            sig = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
            check(verify_openssl(work, sig, payload), "openssl verifies the stored image signature")
            check(not verify_openssl(work, sig, payload + b" "), "and rejects a changed payload")

            att_m = reg.manifest(repo, "sha256-%s.att" % hexdigest)
            check(len(att_m["layers"]) == 1, "one attestation layer")
            al = att_m["layers"][0]
            check(al["mediaType"] == "application/vnd.dsse.envelope.v1+json", "DSSE layer")
            check(al["annotations"]["dev.cosignproject.cosign/signature"] == "", "empty signature annotation")
            envelope = reg.blob(repo, al["digest"])
            env, stmt, pae = dsse_parts(base64.b64encode(envelope))
            check(al["annotations"]["predicateType"] == json.loads(stmt)["predicateType"], "predicateType annotation")
            check(json.loads(stmt)["subject"][0]["name"] == reg.host + "/" + repo, "the image is the subject")
            s = base64.b64decode(env["signatures"][0]["sig"])
            check(verify_sslib(work.public_pem, env["signatures"][0]["keyid"], s, pae),
                  "securesystemslib verifies the stored attestation")
            check(verify_openssl(work, s, pae), "openssl verifies it too")
            check(c.metric("chainsd_plugin_oci_pushes_total") >= 2, "pushes counted")
        work.remove()
    finally:
        reg.stop()
        reg.remove()


def test_registry_down_fails_the_run_naming_the_registry():
    host = "127.0.0.1:%d" % free_port()  # nothing listens there
    server, work = oci_env()
    with server, Chainsd(server, work, retry_base_ms=20):
        create(server, image_taskrun("oci-down", host + "/e2e/app", "c" * 64))
        tr = wait_signed(server, "taskruns", "default", "oci-down", value="failed", timeout=60)
        err = annotations(tr).get("chains.tekton.dev/error", "")
        check(host in err, "the error names the registry: " + err)
    work.remove()


def sig_payload_verified(reg, repo, work, hexdigest):
    """The payload of the one layer under sha256-<hex>.sig, checked with openssl; returns it parsed."""
    m = reg.manifest(repo, "sha256-%s.sig" % hexdigest)
    check(len(m["layers"]) == 1, "one signature layer for %s" % hexdigest[:12])
    layer = m["layers"][0]
    payload = reg.blob(repo, layer["digest"])
    sig = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    check(verify_openssl(work, sig, payload), "openssl verifies the signature of %s" % hexdigest[:12])
    return json.loads(payload)


def test_image_index_and_each_platform_manifest_signed():
    """artifacts.oci.sign-platform-manifests: the run reports an index; chainsd reads it from the
    registry and signs the index and both platform manifests, each under its own .sig tag, as
    `cosign sign --recursive` would. The attestation stays on the reported digest."""
    reg = Registry()
    try:
        repo = "e2e/multi"
        amd64 = reg.push_platform(repo, "amd64", "amd64")
        arm64 = reg.push_platform(repo, "arm64", "arm64")
        index = reg.push_index(repo, [amd64, arm64], "latest")
        server, work = oci_env()
        chains_config(server, {"artifacts.oci.sign-platform-manifests": "true"})
        with server, Chainsd(server, work) as c:
            create(server, image_taskrun("oci-index", reg.host + "/" + repo, index))
            tr = wait_signed(server, "taskruns", "default", "oci-index", timeout=40)
            check("chains.tekton.dev/error" not in annotations(tr), "no error on the run")
            for hexdigest in (index, amd64["digest"][7:], arm64["digest"][7:]):
                p = sig_payload_verified(reg, repo, work, hexdigest)
                check(p["critical"]["image"]["docker-manifest-digest"] == "sha256:" + hexdigest,
                      "the payload under sha256-%s.sig names that digest" % hexdigest[:12])
                check(p["critical"]["identity"]["docker-reference"] == reg.host + "/" + repo,
                      "and the image's repository")
            att = reg.manifest(repo, "sha256-%s.att" % index)
            check(len(att["layers"]) == 1, "the attestation is stored for the index")
            for d in (amd64, arm64):
                check(reg.status(repo, "sha256-%s.att" % d["digest"][7:]) == 404,
                      "no attestation under a platform manifest (cosign attest attaches to the digest given)")
            check(c.metric("chainsd_plugin_oci_index_reads_total") == 1, "one index read")
            check(c.metric("chainsd_plugin_oci_pushes_total") == 4, "three signatures and one attestation pushed")

        # Without the key (the default) only the reported digest is signed.
        server, work2 = oci_env()
        with server, Chainsd(server, work2):
            single_repo = "e2e/multi-off"
            a = reg.push_platform(single_repo, "amd64", "amd64")
            idx = reg.push_index(single_repo, [a], "latest")
            create(server, image_taskrun("oci-index-off", reg.host + "/" + single_repo, idx))
            wait_signed(server, "taskruns", "default", "oci-index-off", timeout=40)
            sig_payload_verified(reg, single_repo, work2, idx)
            check(reg.status(single_repo, "sha256-%s.sig" % a["digest"][7:]) == 404,
                  "with the key off the platform manifest is not signed")
        work.remove()
        work2.remove()
    finally:
        reg.stop()
        reg.remove()


def config_check(work, data):
    doc = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "data": data})
    r = subprocess.run([CHAINSD, "config", "check", "--plugin-dir", work.plugins, "--signing-secrets", work.secrets,
                        "-"], input=doc, capture_output=True, text=True, timeout=60)
    print(r.stdout + r.stderr, flush=True)
    return r.returncode, r.stdout


def test_sign_platform_manifests_needs_a_storage_that_reads_indexes():
    work = Workdir("ecdsa")
    base = {"artifacts.taskrun.storage": "tekton", "artifacts.pipelinerun.storage": "tekton"}
    rc, out = config_check(work, dict(base, **{"artifacts.oci.storage": "tekton",
                                               "artifacts.oci.sign-platform-manifests": "true"}))
    check(rc == 1, "config check rejects the key when no storage of artifacts.oci.storage reads indexes")
    check("error: artifacts.oci.sign-platform-manifests is true but no storage in artifacts.oci.storage (tekton)"
          in out, "the error names the key and the storages")
    rc, out = config_check(work, dict(base, **{"artifacts.oci.storage": "tekton,oci",
                                               "artifacts.oci.sign-platform-manifests": "true"}))
    check(rc == 0, "with oci among them it is accepted")
    rc, out = config_check(work, dict(base, **{"artifacts.oci.sign-platform-manifests": "yes"}))
    check(rc == 1 and 'artifacts.oci.sign-platform-manifests: invalid value "yes"' in out,
          "a value that is not a boolean is rejected naming the key")

    # The controller with that config: image signing fails with the reason, retried, then failed.
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict(base, **{"artifacts.oci.storage": "tekton",
                                        "artifacts.oci.sign-platform-manifests": "true"}))
    with server, Chainsd(server, work, retry_base_ms=20) as c:
        create(server, image_taskrun("no-reader", "registry.example.com/e2e/app", "d" * 64))
        tr = wait_signed(server, "taskruns", "default", "no-reader", value="failed", timeout=60)
        err = annotations(tr).get("chains.tekton.dev/error", "")
        check("artifacts.oci.sign-platform-manifests" in err and "registry.example.com/e2e/app@sha256:" + "d" * 64 in err,
              "the run's error names the key and the image: " + err)
        check(c.lines("platform manifests cannot be signed; runs that sign images will fail"),
              "chainsd logged the config problem when it built the plugins")
    work.remove()


def sigstore_verify(layer, trust):
    """tests/support/sigstore-verify on a cosign layer with the keyless trust: (verified, output)."""
    rc, out = e2elib.sigstore_verify(dict(trust, **layer))
    return rc == 0, out


def pem_certs(text):
    """The PEM certificates in `text`, each normalised to "-----BEGIN…\n<base64>\n-----END…\n"."""
    return ["-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % "\n".join(textwrap.wrap("".join(b.split()), 64))
            for b in re.findall(r"-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----", text)]


def registry_layer(reg, repo, tag):
    m = reg.manifest(repo, tag)
    check(len(m["layers"]) == 1, "one layer under " + tag)
    layer = m["layers"][0]
    return {"mediaType": layer["mediaType"], "annotations": layer["annotations"],
            "content": base64.b64encode(reg.blob(repo, layer["digest"])).decode()}


def test_keyless_layers_verify_as_sigstore_bundles():
    """Keyless (fulcio-stub certificate, rekor-stub entry) into the registry: the .sig and .att
    layers, with their certificate, chain and cosign bundle annotations, become Sigstore bundles
    that @sigstore/verify accepts against the stub CA and log key for the controller's identity and
    issuer; a changed payload, another identity or another issuer are rejected."""
    reg = Registry()
    try:
        repo = "e2e/keyless"
        hexdigest = reg.push_image(repo)
        server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
        work = Workdir(key=None)
        os.environ["CHAINSD_SERVICEACCOUNT_DIR"] = keyless_identity(server, work)
        try:
            with server, StubProcess(FULCIO_STUB, "--trust", server.url, "--ca-out", os.path.join(work.path, "root.pem")) as fulcio, \
                    StubProcess(REKOR_STUB) as rekor:
                chains_config(server, {"artifacts.oci.storage": "oci", "artifacts.taskrun.storage": "oci",
                                       "artifacts.pipelinerun.storage": "oci",
                                       "signers.x509.fulcio.enabled": "true", "signers.x509.fulcio.address": fulcio.url,
                                       "transparency.enabled": "true", "transparency.url": rekor.url})
                with Chainsd(server, work):
                    create(server, image_taskrun("keyless-oci", reg.host + "/" + repo, hexdigest))
                    wait_signed(server, "taskruns", "default", "keyless-oci", timeout=40)
                sig = registry_layer(reg, repo, "sha256-%s.sig" % hexdigest)
                att = registry_layer(reg, repo, "sha256-%s.att" % hexdigest)
                # Trust comes from the CA and the log themselves, not from what chainsd stored.
                ca_pems = pem_certs(fulcio.get("/api/v1/rootCert"))
                with open(os.path.join(work.path, "root.pem")) as f:
                    check(len(ca_pems) == 2 and ca_pems[-1] == pem_certs(f.read())[0],
                          "Fulcio's chain is an intermediate and the root it wrote out")
                log_pem = rekor.get("/api/v1/log/publicKey")
        finally:
            os.environ.pop("CHAINSD_SERVICEACCOUNT_DIR", None)
        san = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
        other_log_pem = subprocess.run("openssl ecparam -name prime256v1 -genkey -noout | openssl ec -pubout",
                                       shell=True, capture_output=True, text=True, check=True).stdout
        # The SET's integratedTime is the timestamp that must lie in the certificate's validity.
        trust = {"caPems": ca_pems, "logPem": log_pem, "san": san, "issuer": "https://kubernetes.default.svc",
                 "tlogThreshold": 1, "timestampThreshold": 1}
        for name, layer in (("signature", sig), ("attestation", att)):
            ann = layer["annotations"]
            check(ann["dev.sigstore.cosign/certificate"].startswith("-----BEGIN CERTIFICATE-----"),
                  "the %s layer carries the Fulcio certificate" % name)
            check(pem_certs(ann["dev.sigstore.cosign/chain"]) == ca_pems,
                  "its chain annotation is Fulcio's chain (intermediate, root), as cosign writes it")
            check(json.loads(ann["dev.sigstore.cosign/bundle"])["SignedEntryTimestamp"],
                  "and the Rekor entry with its SET")
            ok, out = sigstore_verify({"layer": layer}, trust)
            check(ok, "@sigstore/verify accepts the %s layer for %s: %s" % (name, san, out))
            ok, out = sigstore_verify({"layer": layer}, dict(trust, san=san + "-other"))
            check(not ok, "and rejects it for another identity: " + out)
            ok, out = sigstore_verify({"layer": layer},
                                      dict(trust, issuer="https://accounts.google.com"))
            check(not ok, "and for another issuer: " + out)
            ok, out = sigstore_verify({"layer": layer}, dict(trust, logPem=other_log_pem))
            check(not ok and "INCLUSION_PROMISE" in out, "and when the SET is checked with another log's key: " + out)
        # Tampered: one character of each payload changed (the image digest, the statement's subject).
        other = ("1" if hexdigest[0] == "0" else "0") + hexdigest[1:]
        content = base64.b64decode(sig["content"]).replace(hexdigest.encode(), other.encode())
        check(content != base64.b64decode(sig["content"]), "the payload names the image digest")
        ok, out = sigstore_verify({"layer": dict(sig, content=base64.b64encode(content).decode())}, trust)
        check(not ok, "a changed simplesigning payload is rejected: " + out)
        env = json.loads(base64.b64decode(att["content"]))
        stmt = base64.b64decode(env["payload"]).replace(hexdigest.encode(), other.encode())
        check(stmt != base64.b64decode(env["payload"]), "the statement names the image digest")
        env["payload"] = base64.b64encode(stmt).decode()
        ok, out = sigstore_verify({"layer": dict(att, content=base64.b64encode(json.dumps(env).encode()).decode())}, trust)
        check(not ok, "a changed statement is rejected: " + out)
        work.remove()
    finally:
        reg.stop()
        reg.remove()


if __name__ == "__main__":
    e2elib.require_node_module("@sigstore/verify")  # keyless bundles are checked independently
    run_tests(globals())

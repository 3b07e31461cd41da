"""The real chainsd with the storage-oci plugin against kube-testserver and Debian's docker-registry
(started here on 127.0.0.1): a TaskRun that built an image gets its image signature under
sha256-<hex>.sig and its attestation under sha256-<hex>.att, verified independently with openssl
and securesystemslib; a registry that is down fails the run with a reason naming it."""
import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from e2elib import (Chainsd, Workdir, annotations, chains_config, check, create, dsse_parts, run_tests, taskrun,
                    verify_openssl, verify_sslib, wait_signed, wait_until, TESTSERVER)
import ktsutil

REGISTRY = "/usr/bin/docker-registry"


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
        layer = b"e2e layer %d" % time.monotonic_ns()
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
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
        st, _, _ = self.call("PUT", "/v2/%s/manifests/v1" % repo, manifest,
                             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        check(st == 201, "image manifest pushed")
        return hashlib.sha256(manifest).hexdigest()

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
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
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


if __name__ == "__main__":
    run_tests(globals())

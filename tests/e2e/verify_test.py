"""`chainsd verify` on runs the real chainsd signed on kube-testserver, read back with `kubectl get
-o json`: the attestation and the image signature verify with the signer's public key; a flipped
byte in either, a wrong key, or an unsigned run exit 1 naming what failed; with
tests/support/rekor-stub the Rekor entry's SET, inclusion proof and body check pass with the log's
key (given or fetched) and fail with a wrong log key or another run's entry; a keyless run
(tests/support/fulcio-stub) verifies with --certificate-identity/--certificate-oidc-issuer/--ca-roots
and fails with another identity, issuer or root."""
import base64
import json
import os
import subprocess

from e2elib import (CHAINSD, Chainsd, StubProcess, Workdir, chains_config, check, create, keyless_identity, kubectl,
                    run_tests, taskrun, wait_signed, SOURCE_ROOT, TESTSERVER)
import ktsutil

STUB = os.environ.get("REKOR_STUB", os.path.join(SOURCE_ROOT, "tests/support/rekor-stub/rekor_stub.py"))
FULCIO_STUB = os.environ.get("FULCIO_STUB", os.path.join(SOURCE_ROOT, "tests/support/fulcio-stub/fulcio_stub.py"))
SAN = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/tekton-chains-controller"
ISSUER = "https://kubernetes.default.svc"  # the iss of kube-testserver's service-account tokens
BASE_CONFIG = {"artifacts.oci.storage": "tekton"}
DIGEST = "b" * 64


def verify(*args):
    r = subprocess.run([CHAINSD, "verify", *args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def signed_runs(config):
    """kube-testserver with chains-config `config`, and a work directory with an ECDSA key."""
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict(BASE_CONFIG, **config))
    return server, Workdir()


def save(server, work, name, obj=None):
    path = os.path.join(work.path, name + ".json")
    text = json.dumps(obj) if obj is not None else kubectl(server, "get", "taskrun", name, "-o", "json").stdout
    with open(path, "w") as f:
        f.write(text)
    return path


def flip_b64(value, index):
    raw = bytearray(base64.b64decode(value))
    raw[index] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def other_key(work, name):
    path = os.path.join(work.path, name)
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                    path + ".key"], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", path + ".key", "-pubout", "-out", path], check=True, capture_output=True)
    return path


def test_signed_run_verifies_and_tampering_fails():
    server, work = signed_runs({})
    pub = os.path.join(work.path, "pub.pem")
    with server, Chainsd(server, work):
        create(server, taskrun("v-1", image_digest=DIGEST))
        create(server, taskrun("v-2", image_digest="c" * 64))
        tr = wait_signed(server, "taskruns", "default", "v-1")
        wait_signed(server, "taskruns", "default", "v-2")
        path = save(server, work, "v-1")
        rc, out, err = verify("--key", pub, path)
        check(rc == 0, "a signed run verifies (rc %d): %s%s" % (rc, out, err))
        check("ok: taskrun default/v-1 attestation (in-toto, https://slsa.dev/provenance/v0.2) verified with " + pub
              in out, "the attestation line names run, format, predicate type and key: " + out)
        check("ok: taskrun default/v-1 image signature (simplesigning, registry.example.com/e2e/v-1@sha256:" + DIGEST
              + ") verified with " + pub in out, "the image signature line names the image")
        check(out.count("ok: ") == 2, "two signatures verified")

        # stdin, and a List of both runs.
        listing = kubectl(server, "get", "taskruns", "-o", "json").stdout
        r = subprocess.run([CHAINSD, "verify", "--key", pub, "-"], input=listing, capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.count("ok: ") == 4, "a List from stdin: 4 verified: " + r.stdout)

        uid = tr["metadata"]["uid"]
        ann_sig = "chains.tekton.dev/signature-taskrun-" + uid
        # A flipped byte in the DSSE signature.
        bad = json.loads(open(path).read())
        env = json.loads(base64.b64decode(bad["metadata"]["annotations"][ann_sig]))
        env["signatures"][0]["sig"] = flip_b64(env["signatures"][0]["sig"], 10)
        bad["metadata"]["annotations"][ann_sig] = base64.b64encode(json.dumps(env).encode()).decode()
        rc, out, _ = verify("--key", pub, save(server, work, "bad-att", bad))
        check(rc == 1, "a flipped attestation signature byte exits 1")
        check("FAILED: taskrun default/v-1 attestation (in-toto, https://slsa.dev/provenance/v0.2): the DSSE "
              "signature over PAE does not verify" in out, "the failure names the attestation: " + out)
        check("ok: taskrun default/v-1 image signature" in out, "the image signature still verifies")

        # A flipped byte in the image's simplesigning signature.
        bad = json.loads(open(path).read())
        ann_img = "chains.tekton.dev/signature-" + DIGEST[:12]
        bad["metadata"]["annotations"][ann_img] = flip_b64(bad["metadata"]["annotations"][ann_img], 12)
        rc, out, _ = verify("--key", pub, save(server, work, "bad-img", bad))
        check(rc == 1 and "FAILED: taskrun default/v-1 image signature (simplesigning, registry.example.com/e2e/v-1@"
              in out, "a flipped image signature byte exits 1 naming the image: " + out)

        # A changed payload byte in the attestation's statement.
        bad = json.loads(open(path).read())
        env = json.loads(base64.b64decode(bad["metadata"]["annotations"][ann_sig]))
        env["payload"] = base64.b64encode(base64.b64decode(env["payload"]).replace(b"v-1", b"v-9")).decode()
        bad["metadata"]["annotations"][ann_sig] = base64.b64encode(json.dumps(env).encode()).decode()
        rc, out, _ = verify("--key", pub, save(server, work, "bad-payload", bad))
        check(rc == 1 and "FAILED: taskrun default/v-1 attestation" in out, "a changed statement exits 1: " + out)

        # Another key.
        wrong = other_key(work, "wrong.pub")
        rc, out, _ = verify("--key", wrong, path)
        check(rc == 1 and out.count("FAILED: ") == 2 and "does not verify with " + wrong in out,
              "a wrong key fails both, naming the key: " + out)

        # A certificate as --key (a keyless run's cert-<key>); a failure on a run with a certificate says so.
        cert = os.path.join(work.path, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", os.path.join(work.secrets, "x509.pem"), "-subj",
                        "/CN=verify-test", "-days", "1", "-out", cert], check=True, capture_output=True)
        rc, out, _ = verify("--key", cert, path)
        check(rc == 0 and out.count("ok: ") == 2, "a certificate of the signing key verifies as --key: " + out)
        with_cert = json.loads(open(path).read())
        with_cert["metadata"]["annotations"]["chains.tekton.dev/cert-taskrun-" + uid] = \
            base64.b64encode(open(cert, "rb").read()).decode()
        rc, out, _ = verify("--key", wrong, save(server, work, "with-cert", with_cert))
        check(rc == 1 and "hint: chains.tekton.dev/cert-taskrun-" + uid + " holds a certificate" in out,
              "a failed keyless-looking run hints at its certificate: " + out)

        # An unsigned run: nothing to verify.
        plain = json.loads(open(path).read())
        plain["metadata"]["annotations"] = {}
        rc, out, _ = verify("--key", pub, save(server, work, "plain", plain))
        check(rc == 1 and "nothing to verify" in out and "not signed" in out, "an unsigned run exits 1: " + out)

        rc, _, err = verify(path)
        check(rc == 2 and "--key" in err, "no --key is bad usage (2)")
        rc, _, err = verify("--key", os.path.join(work.path, "missing.pub"), path)
        check(rc == 1 and "missing.pub" in err, "an unreadable key file exits 1 naming it")
    work.remove()


def test_pipelinerun_attestation_verifies():
    server, work = signed_runs({"artifacts.pipelinerun.format": "slsa/v2alpha4"})
    pub = os.path.join(work.path, "pub.pem")
    spec = {"tasks": [{"name": "build", "taskSpec": {"steps": [{"name": "s", "image": "busybox"}]}}]}
    pr = {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": "p-1", "namespace": "default"},
          "spec": {"pipelineSpec": spec},
          "status": {"startTime": "2026-11-26T06:00:00Z", "completionTime": "2026-11-26T06:02:00Z",
                     "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
                     "pipelineSpec": spec,
                     "childReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "p-1-build",
                                          "pipelineTaskName": "build"}]}}
    with server, Chainsd(server, work):
        create(server, taskrun("p-1-build", labels={"tekton.dev/pipelineRun": "p-1", "tekton.dev/pipelineTask": "build"}))
        create(server, pr)
        wait_signed(server, "pipelineruns", "default", "p-1")
        text = kubectl(server, "get", "pipelinerun", "p-1", "-o", "json").stdout
        r = subprocess.run([CHAINSD, "verify", "--key", pub, "-"], input=text, capture_output=True, text=True)
        check(r.returncode == 0 and "ok: pipelinerun default/p-1 attestation (in-toto, https://slsa.dev/provenance/v1) "
              "verified with " + pub in r.stdout, "the PipelineRun's slsa/v2alpha4 attestation verifies: " + r.stdout)
    work.remove()


def test_rekor_entry_checked():
    with StubProcess(STUB) as log:
        server, work = signed_runs({"transparency.enabled": "true", "transparency.url": log.url})
        pub = os.path.join(work.path, "pub.pem")
        log_pub = os.path.join(work.path, "rekor.pub")
        with open(log_pub, "w") as f:
            f.write(log.get("/api/v1/log/publicKey"))
        with server, Chainsd(server, work):
            create(server, taskrun("r-1", image_digest=DIGEST))
            create(server, taskrun("r-2", image_digest="d" * 64))
            tr = wait_signed(server, "taskruns", "default", "r-1")
            other = wait_signed(server, "taskruns", "default", "r-2")
            path = save(server, work, "r-1")

            rc, out, err = verify("--key", pub, "--rekor-key", log_pub, path)
            check(rc == 0, "the Rekor entry verifies with the log's key file (rc %d): %s%s" % (rc, out, err))
            check("ok: taskrun default/r-1 transparency log entry " + log.url + "/api/v1/log/entries?logIndex=" in out
                  and "SET, inclusion proof and checkpoint verified with " + log_pub in out,
                  "the entry line names the entry and the key: " + out)
            check(out.count("ok: ") == 3, "two signatures and the entry")

            rc, out, _ = verify("--key", pub, "--rekor", path)
            check(rc == 0 and "verified with the key from " + log.url + "/api/v1/log/publicKey" in out,
                  "--rekor fetches the log's key: " + out)

            rc, out, _ = verify("--key", pub, path)
            check(rc == 0 and out.count("ok: ") == 2, "without --rekor the entry is not read")

            wrong = other_key(work, "wrong-rekor.pub")
            rc, out, _ = verify("--key", pub, "--rekor-key", wrong, path)
            check(rc == 1 and "FAILED: taskrun default/r-1 transparency log entry" in out,
                  "a wrong log key fails the entry: " + out)

            # Another run's entry does not record this run's signatures.
            swapped = json.loads(open(path).read())
            swapped["metadata"]["annotations"]["chains.tekton.dev/transparency"] = \
                other["metadata"]["annotations"]["chains.tekton.dev/transparency"]
            rc, out, _ = verify("--key", pub, "--rekor", save(server, work, "swapped", swapped))
            check(rc == 1 and "records none of the run's verified signatures" in out,
                  "another run's entry fails the body check: " + out)

            # The log's own answers tampered with: a bad SET, a bad inclusion proof.
            for fault, words in (("bad-set", "signed entry timestamp"), ("bad-proof", "inclusion")):
                log.post("/__stub/fault", {"fault": fault})
                rc, out, _ = verify("--key", pub, "--rekor-key", log_pub, path)
                check(rc == 1 and "FAILED: taskrun default/r-1 transparency log entry" in out and words in out,
                      "a log answering with %s fails naming it: %s" % (fault, out))
                log.post("/__stub/fault", {"fault": ""})

            # --rekor-url reads the entry from the given log whatever host the annotation names.
            moved = json.loads(open(path).read())
            ann = moved["metadata"]["annotations"]
            ann["chains.tekton.dev/transparency"] = ann["chains.tekton.dev/transparency"].replace(
                log.url, "http://127.0.0.1:1")
            moved_path = save(server, work, "moved", moved)
            rc, out, _ = verify("--key", pub, "--rekor-url", log.url + "/", "--rekor-key", log_pub, moved_path)
            check(rc == 0 and out.count("ok: ") == 3, "--rekor-url overrides the annotation's log: " + out)
            rc, out, _ = verify("--key", pub, "--rekor", moved_path)
            check(rc == 1 and "FAILED: taskrun default/r-1 transparency log entry http://127.0.0.1:1/" in out,
                  "an unreachable log fails naming it: " + out)

            # --rekor on a run that was not logged.
            unlogged = json.loads(open(path).read())
            del unlogged["metadata"]["annotations"]["chains.tekton.dev/transparency"]
            rc, out, _ = verify("--key", pub, "--rekor", save(server, work, "unlogged", unlogged))
            check(rc == 1 and "no chains.tekton.dev/transparency annotation" in out, "--rekor needs the annotation")
            check(tr["metadata"]["uid"] != other["metadata"]["uid"], "two runs")
    work.remove()


def test_keyless_run_verifies_with_identity_and_issuer():
    """Signed keyless (fulcio-stub certificate for the controller's service account, rekor-stub entry):
    the certificate chains to Fulcio's root and names the identity and issuer; --rekor checks the
    entry was integrated while the certificate was valid."""
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    work = Workdir(key=None)
    root = os.path.join(work.path, "root.pem")
    os.environ["CHAINSD_SERVICEACCOUNT_DIR"] = keyless_identity(server, work)
    try:
        with server, StubProcess(FULCIO_STUB, "--trust", server.url, "--ca-out", root) as fulcio, \
                StubProcess(STUB) as log:
            chains_config(server, dict(BASE_CONFIG, **{"signers.x509.fulcio.enabled": "true",
                                                       "signers.x509.fulcio.address": fulcio.url,
                                                       "transparency.enabled": "true", "transparency.url": log.url}))
            with Chainsd(server, work):
                create(server, taskrun("k-1", image_digest=DIGEST))
                wait_signed(server, "taskruns", "default", "k-1", timeout=40)
                path = save(server, work, "k-1")
            keyless = ["--certificate-identity", SAN, "--certificate-oidc-issuer", ISSUER, "--ca-roots", root]
            rc, out, err = verify(*keyless, "--rekor", path)
            check(rc == 0 and out.count("ok: ") == 3 and "within its certificate's validity" in out,
                  "keyless with --rekor: two signatures and the entry (rc %d): %s%s" % (rc, out, err))
    finally:
        os.environ.pop("CHAINSD_SERVICEACCOUNT_DIR", None)
        issuer = ISSUER
        # The stubs are gone: the run file and Fulcio's root are all that is needed offline.
        rc, out, err = verify(*keyless, path)
        check(rc == 0 and out.count("ok: ") == 2 and "verified with the certificate of " + SAN in out,
              "both signatures verify with their certificates (rc %d): %s%s" % (rc, out, err))
        rc, out, _ = verify("--certificate-identity", "https://kubernetes.io/namespaces/x/serviceaccounts/y",
                            "--certificate-oidc-issuer", issuer, "--ca-roots", root, path)
        check(rc == 1 and out.count("FAILED: ") == 2 and "do not include --certificate-identity" in out,
              "another identity fails: " + out)
        rc, out, _ = verify("--certificate-identity", SAN, "--certificate-oidc-issuer", "https://other.example",
                            "--ca-roots", root, path)
        check(rc == 1 and "not --certificate-oidc-issuer https://other.example" in out, "another issuer fails: " + out)
        other_root = os.path.join(work.path, "other-root.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", other_root + ".key", "-subj", "/CN=other", "-days", "1", "-out", other_root],
                       check=True, capture_output=True)
        rc, out, _ = verify("--certificate-identity", SAN, "--certificate-oidc-issuer", issuer, "--ca-roots",
                            other_root, path)
        check(rc == 1 and "does not chain to " + other_root in out, "another root fails: " + out)
        rc, out, _ = verify("--key", os.path.join(work.path, "missing.pub"), *keyless, path)
        check(rc == 2, "--key with --certificate-identity is bad usage")
    work.remove()


if __name__ == "__main__":
    run_tests(globals())

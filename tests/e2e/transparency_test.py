"""chainsd with transparency.enabled against tests/support/rekor-stub: runs get the
chains.tekton.dev/transparency annotation, the log's entries match the signatures and payloads,
`manual` uploads only annotated runs, transparency.url moves live, a restarted chainsd that
re-uploads gets 409 and no duplicate, and a log with a bad SET fails the run with the reason.
When node and tests/node_modules/@sigstore/verify are there, a Sigstore bundle built from the
entry is verified independently (tests/support/sigstore-verify/verify_bundle.mjs)."""
import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import (Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, dsse_parts, get_run,  # noqa: E402
                    kubectl, run_tests, taskrun, wait_signed, wait_until, TESTSERVER, SOURCE_ROOT)
import ktsutil  # noqa: E402

STUB = os.environ.get("REKOR_STUB", os.path.join(SOURCE_ROOT, "tests/support/rekor-stub/rekor_stub.py"))
BASE_CONFIG = {"artifacts.oci.storage": "tekton"}


class Stub(StubProcess):
    """The Rekor stand-in, with its fault switch and entries decoded."""

    def __init__(self, *args):
        super().__init__(STUB, *args)

    def fault(self, f):
        self.post("/__stub/fault", {"fault": f})

    def entry(self, log_index):
        (uuid, e), = self.json("/api/v1/log/entries?logIndex=%d" % log_index).items()
        return uuid, e, json.loads(base64.b64decode(e["body"]))


def env(config, key="ecdsa"):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict(BASE_CONFIG, **config))
    return server, Workdir(key)


def index_of(ann, url):
    v = ann.get("chains.tekton.dev/transparency", "")
    prefix = url + "/api/v1/log/entries?logIndex="
    check(v.startswith(prefix), "transparency annotation %r names the log's entry URL" % v)
    return int(v[len(prefix):])


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_enabled_uploads_every_signature_and_annotates():
    with Stub() as log:
        server, work = env({"transparency.enabled": "true", "transparency.url": log.url})
        with server, Chainsd(server, work) as c:
            create(server, taskrun("tl-1", image_digest="c" * 64))
            tr = wait_signed(server, "taskruns", "default", "tl-1")
            ann = annotations(tr)
            uid = tr["metadata"]["uid"]
            check(log.stats()["treeSize"] == 2, "provenance and image signature both logged")
            idx = index_of(ann, log.url)
            check(0 <= idx < 2, "annotation names one of them")
            kinds = {}
            for i in range(2):
                _, e, body = log.entry(i)
                kinds[body["kind"]] = body
            # The attestation: a dsse entry of our envelope, verifier = our public key.
            envelope_b64 = ann["chains.tekton.dev/signature-taskrun-" + uid]
            envelope = base64.b64decode(envelope_b64)
            _, payload, _ = dsse_parts(envelope_b64)
            d = kinds["dsse"]["spec"]
            check(d["payloadHash"] == {"algorithm": "sha256", "value": sha(payload)}, "dsse payloadHash is our payload's")
            check(d["envelopeHash"] == {"algorithm": "sha256", "value": sha(envelope)}, "dsse envelopeHash is our envelope's")
            check(base64.b64decode(d["signatures"][0]["verifier"]).decode() == work.public_pem,
                  "dsse verifier is the signing key")
            # The image: a hashedrekord of the simplesigning payload and raw signature.
            img_payload = base64.b64decode(ann["chains.tekton.dev/payload-" + "c" * 12])
            img_sig = ann["chains.tekton.dev/signature-" + "c" * 12]
            h = kinds["hashedrekord"]["spec"]
            check(h["data"]["hash"]["value"] == sha(img_payload), "hashedrekord hash is the payload's")
            check(h["signature"]["content"] == img_sig, "hashedrekord signature is the stored one")
            check(c.metric("watcher_taskrun_payload_uploaded_total") == 2, "payload_uploaded metric counts both")
            dsse_index = 0 if log.entry(0)[2]["kind"] == "dsse" else 1
            _, entry, _ = log.entry(dsse_index)
            verify_with_sigstore_js(work, log, entry, envelope)
        work.remove()


def verify_with_sigstore_js(work, log, entry, envelope):
    key_pem = log.get("/api/v1/log/publicKey")
    args = {"entry": entry, "envelope": json.loads(envelope), "publicKeyPem": work.public_pem, "logPem": key_pem}
    run = e2elib.sigstore_verify

    rc, out = run(args)
    check(rc == 0, "@sigstore/verify verifies the bundle built from the entry: " + out)
    for what in ("set", "proof", "payload"):
        rc, out = run(dict(args, tamper=what))
        check(rc != 0, "@sigstore/verify rejects a tampered %s: %s" % (what, out))


def test_storage_backends_get_an_offline_verifiable_bundle():
    """Storage plugins receive a Sigstore bundle v0.3 per logged signature (the test plugin "note"
    writes what it got onto the run); @sigstore/verify checks it against the log's key."""
    with Stub() as log:
        server, work = env({"transparency.enabled": "true", "transparency.url": log.url,
                            "artifacts.taskrun.storage": "tekton,note"})
        with server, Chainsd(server, work):
            create(server, taskrun("tl-bundle"))
            tr = wait_signed(server, "taskruns", "default", "tl-bundle")
            uid = tr["metadata"]["uid"]
            ann = annotations(tr)
            check("test/bundle-taskrun-" + uid in ann, "the storage backend received a bundle")
            b = json.loads(ann["test/bundle-taskrun-" + uid])
            check(b["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json", "bundle v0.3")
            check(str(b["verificationMaterial"]["tlogEntries"][0]["logIndex"]) == str(index_of(ann, log.url)),
                  "the bundle's log entry is the annotated one")
            args = {"bundle": b, "publicKeyPem": work.public_pem, "logPem": log.get("/api/v1/log/publicKey")}
            rc, out = e2elib.sigstore_verify(args)
            check(rc == 0, "@sigstore/verify verifies the bundle chainsd handed to storage: " + out)
            tampered = json.loads(json.dumps(b))
            env_ = tampered["dsseEnvelope"]
            env_["payload"] = base64.b64encode(base64.b64decode(env_["payload"]) + b" ").decode()
            rc, out = e2elib.sigstore_verify(dict(args, bundle=tampered))
            check(rc != 0, "a changed payload in the bundle is rejected: " + out)
        work.remove()


def test_manual_uploads_only_annotated_runs():
    with Stub() as log:
        server, work = env({"transparency.enabled": "manual", "transparency.url": log.url})
        with server, Chainsd(server, work):
            plain = taskrun("plain")
            create(server, plain)
            asked = taskrun("asked")
            asked["metadata"]["annotations"] = {"chains.tekton.dev/transparency-upload": "true"}
            create(server, asked)
            a = annotations(wait_signed(server, "taskruns", "default", "asked"))
            p = annotations(wait_signed(server, "taskruns", "default", "plain"))
            check(index_of(a, log.url) == 0, "the annotated run is uploaded")
            check("chains.tekton.dev/transparency" not in p, "the plain run is not")
            check(log.stats()["treeSize"] == 1, "exactly one entry in the log")
        work.remove()


def test_url_change_moves_uploads_live():
    with Stub() as first, Stub() as second:
        server, work = env({"transparency.enabled": "true", "transparency.url": first.url})
        with server, Chainsd(server, work) as c:
            create(server, taskrun("to-first"))
            index_of(annotations(wait_signed(server, "taskruns", "default", "to-first")), first.url)
            chains_config(server, {"transparency.url": second.url})
            wait_until(lambda: len(c.lines("chains-config applied")) >= 1, what="config applied")
            create(server, taskrun("to-second"))
            index_of(annotations(wait_signed(server, "taskruns", "default", "to-second")), second.url)
            check(first.stats()["treeSize"] == 1 and second.stats()["treeSize"] == 1, "one entry in each log")
        work.remove()


def test_restart_reupload_gets_409_and_no_duplicate():
    # Ed25519 signatures are deterministic: re-signing the same payload gives the same envelope,
    # so the second upload is the same entry and the log answers 409.
    with Stub() as log:
        server, work = env({"transparency.enabled": "true", "transparency.url": log.url}, key="ed25519")
        with server:
            with Chainsd(server, work):
                create(server, taskrun("again"))
                first = annotations(wait_signed(server, "taskruns", "default", "again"))
            st, _, _ = server.request("PATCH", "/apis/tekton.dev/v1/namespaces/default/taskruns/again",
                                      {"metadata": {"annotations": {"chains.tekton.dev/signed": None,
                                                                    "chains.tekton.dev/transparency": None}}},
                                      content_type="application/merge-patch+json")
            check(st == 200, "signed annotation removed")
            with Chainsd(server, work):
                second = annotations(wait_signed(server, "taskruns", "default", "again"))
            check(second["chains.tekton.dev/transparency"] == first["chains.tekton.dev/transparency"],
                  "the re-upload names the same entry")
            check(log.stats()["treeSize"] == 1 and log.stats()["uploads"] == 1, "no duplicate entry")
        work.remove()


def test_bad_set_fails_the_run_with_the_reason():
    with Stub("--fault", "bad-set") as log:
        server, work = env({"transparency.enabled": "true", "transparency.url": log.url})
        with server, Chainsd(server, work, retry_base_ms=20) as c:
            create(server, taskrun("bad-log"))
            ann = annotations(wait_signed(server, "taskruns", "default", "bad-log", value="failed", timeout=60))
            check("signed entry timestamp does not verify" in ann.get("chains.tekton.dev/error", ""),
                  "the error names the failed SET check: " + ann.get("chains.tekton.dev/error", ""))
            check("chains.tekton.dev/transparency" not in ann, "no transparency annotation")
            check(c.metric('watcher_taskrun_signing_failures_total{error_type="tlog"}') >= 1 or
                  "error_type=\"tlog\"" in c.get("/metrics")[1], "failures counted as tlog")
        work.remove()


V2_STUB = os.environ.get("REKOR_V2_STUB", os.path.join(SOURCE_ROOT, "tests/support/rekor-v2-stub/rekor_v2_stub.py"))
TSA_STUB = os.environ.get("TSA_STUB", os.path.join(SOURCE_ROOT, "tests/support/tsa-stub/tsa_stub.py"))


def pem_ders(pem):
    """The DER of each PEM block, in order."""
    out, body = [], None
    for line in pem.splitlines():
        if line.startswith("-----BEGIN"):
            body = []
        elif line.startswith("-----END"):
            out.append(base64.b64decode("".join(body)))
            body = None
        elif body is not None:
            body.append(line.strip())
    return out


def v2_trusted_root(v2_url, log_pem, chain_pem):
    """A Sigstore trusted root naming the v2 log (log ID as rekor-tiles computes it for ECDSA:
    SHA-256 of the key's SPKI) and the TSA's chain, for @sigstore/verify."""
    spki = pem_ders(log_pem)[0]
    log_id = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    since = {"start": "2000-01-01T00:00:00Z"}
    return {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": v2_url, "hashAlgorithm": "SHA2_256",
                       "publicKey": {"rawBytes": base64.b64encode(spki).decode(),
                                     "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": since},
                       "logId": {"keyId": log_id}, "checkpointKeyId": {"keyId": log_id}}],
            "certificateAuthorities": [], "ctlogs": [],
            "timestampAuthorities": [{"subject": {"organization": "test", "commonName": "test"},
                                      "uri": "http://127.0.0.1",
                                      "certChain": {"certificates": [{"rawBytes": base64.b64encode(d).decode()}
                                                                     for d in pem_ders(chain_pem)]},
                                      "validFor": since}]}


sigstore_js = e2elib.sigstore_verify


def sigstore_js_accepts_then_rejects_tampered(args, what):
    """@sigstore/verify accepts args["bundle"], and rejects it with one more byte in the DSSE payload."""
    rc, out = sigstore_js(args)
    check(rc == 0, "@sigstore/verify verifies " + what + ": " + out)
    bad = json.loads(json.dumps(args["bundle"]))
    e = bad["dsseEnvelope"]
    e["payload"] = base64.b64encode(base64.b64decode(e["payload"]) + b" ").decode()
    rc, out = sigstore_js(dict(args, bundle=bad))
    check(rc != 0, "a changed payload is rejected: " + out)


def test_switch_from_rekor_v1_to_v2_live_with_kubectl():
    """The way a user moves to Rekor v2: one kubectl patch of chains-config, no restart. Runs
    signed before keep their v1 entries; runs after are logged to v2 with an RFC 3161 timestamp,
    and the bundle the storage gets verifies with @sigstore/verify."""
    tmp = tempfile.mkdtemp(prefix="chainsd-v2-")
    log_pub = os.path.join(tmp, "rekor-v2.pub")
    chain = os.path.join(tmp, "tsa-chain.pem")
    with Stub() as v1, StubProcess(V2_STUB, "--public-key-out", log_pub) as v2, \
            StubProcess(TSA_STUB, "--chain-out", chain) as tsa:
        server, work = env({"transparency.enabled": "true", "transparency.url": v1.url,
                            "artifacts.taskrun.storage": "tekton,note"})
        with server, Chainsd(server, work) as c:
            create(server, taskrun("before-v2"))
            before = annotations(wait_signed(server, "taskruns", "default", "before-v2"))
            check(index_of(before, v1.url) == 0, "the first run is logged to Rekor v1")
            patch = {"data": {"transparency.version": "v2", "transparency.url": v2.url,
                              "transparency.publickey": log_pub, "transparency.timestamp.url": tsa.url,
                              "transparency.timestamp.certchain": chain}}
            applied = len(c.lines("chains-config applied"))
            kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains", "-p", json.dumps(patch))
            wait_until(lambda: len(c.lines("chains-config applied")) > applied, what="the patched config applied")
            create(server, taskrun("after-v2"))
            tr = wait_signed(server, "taskruns", "default", "after-v2")
            after = annotations(tr)
            loc = after.get("chains.tekton.dev/transparency", "")
            check(loc.startswith(v2.url + "/api/v2/tile/entries/") and loc.endswith("?logIndex=0"),
                  "the run after the switch names its Rekor v2 entry: " + loc)
            check(v2.stats()["treeSize"] == 1 and v1.stats()["treeSize"] == 1,
                  "one entry in each log: v1 before the switch, v2 after")
            check(tsa.stats()["timestamps"] >= 1, "the v2 signature was timestamped")
            check(annotations(get_run(server, "taskruns", "default", "before-v2")) == before,
                  "the run signed before the switch is left as it was")
            uid = tr["metadata"]["uid"]
            bundle = json.loads(after["test/bundle-taskrun-" + uid])
            entry = bundle["verificationMaterial"]["tlogEntries"][0]
            check(entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.2"},
                  "the bundle carries the v2 entry (hashedrekord 0.0.2)")
            check(len(bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]) == 1,
                  "and the RFC 3161 timestamp")
            with open(log_pub) as f, open(chain) as g:
                root = v2_trusted_root(v2.url, f.read(), g.read())
            sigstore_js_accepts_then_rejects_tampered(
                {"bundle": bundle, "trustedRoot": root, "publicKeyPem": work.public_pem,
                 "tlogThreshold": 1, "timestampThreshold": 1},
                "the v2 bundle (checkpoint, inclusion proof, timestamp)")
        work.remove()
    shutil.rmtree(tmp)


def test_storage_gets_a_bundle_without_log_entries_when_transparency_is_off():
    """Nothing logged (transparency off): storage still receives the signature as a Sigstore bundle
    (what oci's sigstore-bundle mode stores), with its verification material and no tlog entry,
    as cosign's bundle of an unlogged signature; @sigstore/verify accepts it key-based."""
    server, work = env({"artifacts.taskrun.storage": "tekton,note"})
    with server, Chainsd(server, work):
        create(server, taskrun("tl-off"))
        tr = wait_signed(server, "taskruns", "default", "tl-off")
        uid = tr["metadata"]["uid"]
        ann = annotations(tr)
        check("chains.tekton.dev/transparency" not in ann, "nothing logged")
        check("test/bundle-taskrun-" + uid in ann, "the storage backend received a bundle anyway")
        b = json.loads(ann["test/bundle-taskrun-" + uid])
        check(b["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json", "bundle v0.3")
        check(b["verificationMaterial"].get("tlogEntries", []) == [], "no tlog entry")
        check(b["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json", "the attestation's envelope")
        root = {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [],
                "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []}
        sigstore_js_accepts_then_rejects_tampered(
            {"bundle": b, "trustedRoot": root, "publicKeyPem": work.public_pem,
             "tlogThreshold": 0, "timestampThreshold": 0}, "the unlogged bundle")
    work.remove()


if __name__ == "__main__":
    e2elib.require_node_module("@sigstore/verify")  # bundles are checked independently
    run_tests(globals())

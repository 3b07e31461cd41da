"""The gcs storage backend end to end: the real chainsd (plugins x509, tekton, gcs) against
kube-testserver and tests/support/gcs-stub (GCS JSON API, OAuth token endpoint, metadata server).
A TaskRun that built an image and a PipelineRun are signed with artifacts.{taskrun,
pipelinerun,oci}.storage=gcs; Google's client (@google-cloud/storage, workload-identity credentials
from the stand-in's metadata server) reads the objects back under upstream's names and openssl
verifies them against the signing key. The stand-in going away → the run is retried, then failed
naming the backend and the URL; no credentials at all → failed at once, naming
GOOGLE_APPLICATION_CREDENTIALS."""
import base64
import json
import os
import subprocess
import tempfile

import e2elib  # noqa: E402
from e2elib import (Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, dsse_parts, fail,
                    run_tests, taskrun, verify_openssl, wait_signed, SOURCE_ROOT, TESTSERVER)
import ktsutil
from backend_e2e import GOOGLE_ENV, dead_address, failed_reason, google_env

GCS_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "gcs-stub", "gcs_stub.py")
READ_OBJECTS = os.path.join(SOURCE_ROOT, "tests", "support", "gcs-stub", "read_objects.mjs")
GCS_CONFIG = {"artifacts.taskrun.storage": "gcs", "artifacts.oci.storage": "gcs", "artifacts.pipelinerun.storage": "gcs",
              "storage.gcs.bucket": "chains"}
def read_back(stub, prefix):
    env = {k: v for k, v in os.environ.items() if k not in GOOGLE_ENV}  # metadata-server credentials only
    r = subprocess.run(["node", READ_OBJECTS, stub.url, "127.0.0.1:" + stub.port, "chains", prefix],
                       capture_output=True, text=True, timeout=60, cwd=os.path.join(SOURCE_ROOT, "tests"), env=env)
    if r.returncode != 0:
        fail("read_objects.mjs failed: " + r.stderr[-2000:])
    return {k: base64.b64decode(v) for k, v in json.loads(r.stdout.strip().splitlines()[-1]).items()}


def pipelinerun(name):
    """A finished PipelineRun without child TaskRuns."""
    spec = {"tasks": [{"name": "a", "taskSpec": {"steps": [{"name": "s", "image": "busybox"}]}}]}
    return {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": name, "namespace": "default"},
            "spec": {"pipelineSpec": spec},
            "status": {"startTime": "2026-11-26T06:00:00Z", "completionTime": "2026-11-26T06:02:00Z",
                       "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
                       "pipelineSpec": spec}}


def environment(config):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, config)
    return server, Workdir()


def test_taskrun_and_image_signed_into_gcs_read_back_by_googles_client():
    creds = tempfile.mktemp(prefix="gcs-sa-", suffix=".json")
    with StubProcess(GCS_STUB, "--bucket", "chains", "--write-credentials", creds) as stub:
        google_env(GOOGLE_APPLICATION_CREDENTIALS=creds, STORAGE_EMULATOR_HOST="127.0.0.1:" + stub.port)
        server, work = environment(GCS_CONFIG)
        with server, Chainsd(server, work) as c:
            create(server, taskrun("build-1", image_digest="b" * 64))
            tr = wait_signed(server, "taskruns", "default", "build-1")
            uid = tr["metadata"]["uid"]
            check(c.metric("watcher_taskrun_marked_signed_total") == 1, "the run is marked signed")
            create(server, pipelinerun("pipe-1"))
            pr = wait_signed(server, "pipelineruns", "default", "pipe-1")
        chainsd_stats = stub.stats()  # before Google's client takes its own token
        pkey = "pipelinerun-default-pipe-1/pipelinerun-" + pr["metadata"]["uid"]
        pobjs = read_back(stub, "pipelinerun-")
        check(set(pobjs) == {pkey + "." + ext for ext in ("signature", "payload", "cert", "chain")},
              "a PipelineRun's four objects under upstream's names (%s)" % sorted(pobjs))
        penv, ppayload, ppae = dsse_parts(base64.b64encode(pobjs[pkey + ".signature"]))
        check(pobjs[pkey + ".payload"] == ppayload and json.loads(ppayload)["_type"].startswith("https://in-toto.io"),
              "the PipelineRun's statement")
        check(verify_openssl(work, base64.b64decode(penv["signatures"][0]["sig"]), ppae),
              "openssl verifies the PipelineRun's envelope")
        objs = read_back(stub, "taskrun-default-build-1/")
        want = {"taskrun-default-build-1/%s.%s" % (k, ext) for k in ("taskrun-" + uid, "b" * 12)
                for ext in ("signature", "payload", "cert", "chain")}
        check(set(objs) == want, "upstream's eight object names (%s)" % sorted(objs))
        key = "taskrun-default-build-1/taskrun-" + uid
        env, payload, pae = dsse_parts(base64.b64encode(objs[key + ".signature"]))
        check(objs[key + ".payload"] == payload, ".payload holds exactly the signed statement")
        check(json.loads(payload)["subject"][0]["digest"] == {"sha256": "b" * 64}, "the image is the subject")
        check(verify_openssl(work, base64.b64decode(env["signatures"][0]["sig"]), pae),
              "openssl verifies the DSSE signature of .signature over PAE(.payload)")
        check(objs[key + ".cert"] == b"" and objs[key + ".chain"] == b"", "no certificate: .cert and .chain empty")
        img = "taskrun-default-build-1/" + "b" * 12
        check(json.loads(objs[img + ".payload"])["critical"]["image"]["docker-manifest-digest"] == "sha256:" + "b" * 64,
              "the image's simplesigning payload")
        check(verify_openssl(work, objs[img + ".signature"], objs[img + ".payload"]),
              "openssl verifies the image signature")
        tampered = bytearray(objs[img + ".payload"])
        tampered[10] ^= 1
        check(not verify_openssl(work, objs[img + ".signature"], bytes(tampered)), "a changed byte fails")
        check(not any(k.startswith("chains.tekton.dev/signature-") for k in annotations(tr)),
              "nothing stored on the run (tekton is not configured)")
        check(chainsd_stats["tokens"] == 1 and chainsd_stats["uploads"] == 12,
              "chainsd: one token exchange, twelve uploads (%s)" % chainsd_stats)
        work.remove()
    os.unlink(creds)


def test_gcs_down_retried_then_failed_naming_backend_and_url():
    creds = tempfile.mktemp(prefix="gcs-sa-", suffix=".json")
    stub = StubProcess(GCS_STUB, "--bucket", "chains", "--write-credentials", creds)
    google_env(GOOGLE_APPLICATION_CREDENTIALS=creds, STORAGE_EMULATOR_HOST="127.0.0.1:" + stub.port)
    server, work = environment(dict(GCS_CONFIG, **{"artifacts.oci.storage": ""}))
    with server, Chainsd(server, work, retry_base_ms=50) as c:
        create(server, taskrun("before"))
        wait_signed(server, "taskruns", "default", "before")
        stub.__exit__(None, None, None)  # the stand-in goes away
        create(server, taskrun("during"))
        err = failed_reason(server, "during", True, ["gcs", "http://127.0.0.1:%s/upload/storage/v1/b/chains/o" % stub.port])
        print("reason: " + err, flush=True)
    work.remove()
    os.unlink(creds)


def test_no_credentials_fails_at_once_naming_the_variable():
    google_env(GCE_METADATA_HOST=dead_address(), STORAGE_EMULATOR_HOST=dead_address())
    server, work = environment(dict(GCS_CONFIG, **{"artifacts.oci.storage": ""}))
    with server, Chainsd(server, work, retry_base_ms=50):
        create(server, taskrun("nocreds"))
        err = failed_reason(server, "nocreds", False, ["GOOGLE_APPLICATION_CREDENTIALS", "storage.gcs.bucket"], 15)
        print("reason: " + err, flush=True)
    work.remove()


if __name__ == "__main__":
    e2elib.require_node_module("@google-cloud/storage")  # objects are read back by Google's client
    try:
        run_tests(globals())
    finally:
        google_env()

"""The archivista storage backend end to end: the real chainsd (plugins x509, tekton, archivista)
against kube-testserver and tests/support/archivista-stub. A TaskRun that built an image is signed
with artifacts.taskrun.storage=tekton,archivista: the envelope downloaded by the gitoid chainsd
logged is the run's signature annotation re-encoded as upstream sends it, git computes the same
gitoid for it (sha256 object format), openssl verifies its signature, and the stand-in recorded
the statement's subject. Archivista away → retried, then failed naming the backend and the URL; no
storage.archivista.url → failed at once naming the key."""
import base64
import json
import os
import subprocess
import tempfile
import urllib.request

from e2elib import (Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, dsse_parts, run_tests,
                    taskrun, verify_openssl, wait_signed, wait_until, SOURCE_ROOT, TESTSERVER)
import ktsutil
from backend_e2e import dead_address, failed_reason

STUB = os.path.join(SOURCE_ROOT, "tests", "support", "archivista-stub", "archivista_stub.py")


def environment(config):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict({"artifacts.oci.storage": "tekton"}, **config))
    return server, Workdir()


def git_sha256_id(data):
    d = tempfile.mkdtemp(prefix="git256-")
    subprocess.run(["git", "init", "-q", "--object-format=sha256", d], check=True)
    r = subprocess.run(["git", "-C", d, "hash-object", "--stdin"], input=data, capture_output=True, check=True)
    subprocess.run(["rm", "-rf", d])
    return r.stdout.decode().strip()


def test_envelope_stored_under_its_gitoid_and_verified():
    with StubProcess(STUB) as stub:
        server, work = environment({"artifacts.taskrun.storage": "tekton,archivista",
                                    "storage.archivista.url": stub.url})
        with server, Chainsd(server, work) as c:
            create(server, taskrun("build-1", image_digest="c" * 64))
            tr = wait_signed(server, "taskruns", "default", "build-1")
            uid = tr["metadata"]["uid"]
            logged = wait_until(lambda: c.lines("stored in archivista"), what="the gitoid in chainsd's log")
        gitoid = logged[0]["gitoid"]
        with urllib.request.urlopen(stub.url + "/download/" + gitoid, timeout=10) as r:
            body = r.read()
        check(git_sha256_id(body) == gitoid, "git's sha256 object id of the stored bytes is the gitoid chainsd logged")
        check(body.endswith(b"}\n") and body.startswith(b'{"payload":'), "Go json.Encoder's field order and newline")
        stored = json.loads(body)
        ann = annotations(tr)
        env, payload, pae = dsse_parts(ann["chains.tekton.dev/signature-taskrun-" + uid])
        check(stored["payload"] == env["payload"] and stored["payloadType"] == env["payloadType"] and
              stored["signatures"] == env["signatures"], "the envelope is the one on the run (tekton storage)")
        check(base64.b64decode(ann["chains.tekton.dev/payload-taskrun-" + uid]) == base64.b64decode(stored["payload"]),
              "its payload is the run's payload annotation")
        check(verify_openssl(work, base64.b64decode(stored["signatures"][0]["sig"]), pae),
              "openssl verifies the stored envelope's signature")
        stats = stub.stats()
        check(stats["uploads"] == 1, "one upload: the run's attestation (the image's simplesigning stays in tekton)")
        check(stats["subjects"][gitoid] == ["registry.example.com/e2e/build-1"], "Archivista indexed the image subject")
        work.remove()


def test_archivista_down_retried_then_failed_naming_backend_and_url():
    url = "http://" + dead_address()
    server, work = environment({"artifacts.taskrun.storage": "archivista", "storage.archivista.url": url})
    with server, Chainsd(server, work, retry_base_ms=50):
        create(server, taskrun("during"))
        failed_reason(server, "during", True, ["archivista", url + "/upload"])
    work.remove()


def test_no_url_fails_at_once_naming_the_key():
    server, work = environment({"artifacts.taskrun.storage": "archivista"})
    with server, Chainsd(server, work, retry_base_ms=50):
        create(server, taskrun("nourl"))
        failed_reason(server, "nourl", False, ["storage.archivista.url"], 15)
    work.remove()


if __name__ == "__main__":
    run_tests(globals())

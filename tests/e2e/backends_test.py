"""All the remote storage backends at once, end to end: the real chainsd (plugins x509, tekton,
gcs, archivista, grafeas) signs a TaskRun that built an image with
artifacts.taskrun.storage=tekton,gcs,archivista,grafeas and artifacts.oci.storage=tekton,gcs,grafeas
against the stand-ins (grafeas-stub also serving the GCS JSON API, so one metadata server issues
the tokens of both Google backends); every backend holds the same bytes as the run's tekton
annotations. Then throughput and chainsd's CPU per run with each backend alone (BACKENDS_E2E_RUNS
runs preloaded, default 100; the stand-ins are single Python processes on the same machine), as one
JSON line."""
import base64
import json
import os
import tempfile
import time
import urllib.parse
import urllib.request

from e2elib import Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, run_tests, taskrun, wait_signed, wait_until, SOURCE_ROOT, TESTSERVER
import ktsutil
from backend_e2e import google_env

GRAFEAS_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "grafeas-stub", "grafeas_stub.py")
ARCHIVISTA_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "archivista-stub", "archivista_stub.py")
RUNS = int(os.environ.get("BACKENDS_E2E_RUNS", "100"))


def bearer(stub):
    req = urllib.request.Request(stub.url + "/computeMetadata/v1/instance/service-accounts/default/token",
                                 headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())["access_token"]


def fetch(stub, path, raw=False):
    req = urllib.request.Request(stub.url + path, headers={"Authorization": "Bearer " + bearer(stub)})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return body if raw else json.loads(body)


def config(google, archivista, taskrun_storage, oci_storage):
    return {"artifacts.taskrun.storage": taskrun_storage, "artifacts.oci.storage": oci_storage,
            "storage.gcs.bucket": "chains", "storage.grafeas.projectid": "proj",
            "storage.archivista.url": archivista.url}


def test_every_backend_holds_the_runs_bytes():
    with StubProcess(GRAFEAS_STUB, "--project", "proj", "--bucket", "chains") as google, \
            StubProcess(ARCHIVISTA_STUB) as arch:
        google_env(GCE_METADATA_HOST="127.0.0.1:" + google.port, STORAGE_EMULATOR_HOST="127.0.0.1:" + google.port,
                   CHAINSD_CONTAINERANALYSIS_ENDPOINT=google.url)
        server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
        chains_config(server, config(google, arch, "tekton,gcs,archivista,grafeas", "tekton,gcs,grafeas"))
        work = Workdir()
        with server, Chainsd(server, work) as c:
            create(server, taskrun("all-1", image_digest="9" * 64))
            tr = wait_signed(server, "taskruns", "default", "all-1")
            gitoid = wait_until(lambda: c.lines("stored in archivista"), what="archivista's gitoid")[0]["gitoid"]
        uid = tr["metadata"]["uid"]
        ann = annotations(tr)
        sig = base64.b64decode(ann["chains.tekton.dev/signature-taskrun-" + uid])
        payload = base64.b64decode(ann["chains.tekton.dev/payload-taskrun-" + uid])
        img_sig = base64.b64decode(ann["chains.tekton.dev/signature-" + "9" * 12])
        prefix = "/storage/v1/b/chains/o/" + urllib.parse.quote("taskrun-default-all-1/", safe="")
        check(fetch(google, prefix + "taskrun-" + uid + ".signature?alt=media", raw=True) == sig, "gcs: the envelope")
        check(fetch(google, prefix + "taskrun-" + uid + ".payload?alt=media", raw=True) == payload, "gcs: the payload")
        check(fetch(google, prefix + "9" * 12 + ".signature?alt=media", raw=True) == img_sig, "gcs: the image signature")
        with urllib.request.urlopen(arch.url + "/download/" + gitoid, timeout=10) as r:
            stored = json.loads(r.read())
        env = json.loads(sig)
        check(stored["signatures"] == env["signatures"] and stored["payload"] == env["payload"], "archivista: the envelope")
        image = "registry.example.com/e2e/all-1@sha256:" + "9" * 64
        occs = fetch(google, "/v1/projects/proj/occurrences?filter=" + urllib.parse.quote('resourceUrl="%s"' % image))
        by_kind = {o["kind"]: o for o in occs["occurrences"]}
        check(base64.b64decode(by_kind["BUILD"]["envelope"]["signatures"][0]["sig"]) == sig, "grafeas: the envelope")
        check(base64.b64decode(by_kind["ATTESTATION"]["attestation"]["signatures"][0]["signature"]) == img_sig,
              "grafeas: the image signature")
        work.remove()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(google, arch, backend, runs_file):
    server = ktsutil.Server(TESTSERVER, "--lenient-status", "--load", runs_file)
    chains_config(server, config(google, arch, backend, ""))
    work = Workdir()
    with server, Chainsd(server, work) as c:
        start, cpu0 = time.monotonic(), cpu_seconds(c.proc.pid)
        wait_until(lambda: c.metric("watcher_taskrun_marked_signed_total") + c.metric("watcher_taskrun_marked_failed_total")
                   >= RUNS, timeout=300, interval=0.02, what="%d runs signed with %s" % (RUNS, backend))
        took, cpu = time.monotonic() - start, cpu_seconds(c.proc.pid) - cpu0
        failed = c.metric("watcher_taskrun_marked_failed_total")
    work.remove()
    check(failed == 0, "%s: no run failed" % backend)
    return {"runs_per_s": round(RUNS / took, 1), "cpu_ms_per_run": round(1000 * cpu / RUNS, 2)}


def test_throughput_and_cpu_per_run_per_backend():
    tmp = tempfile.mkdtemp(prefix="backends-e2e-")
    runs_file = os.path.join(tmp, "runs.jsonl")
    with open(runs_file, "w") as f:
        for i in range(RUNS):
            tr = taskrun("load-%04d" % i, image_digest="%064x" % i)
            tr["metadata"]["uid"] = "00000000-0000-4000-9000-%012d" % i
            f.write(json.dumps(tr) + "\n")
    with StubProcess(GRAFEAS_STUB, "--project", "proj", "--bucket", "chains") as google, \
            StubProcess(ARCHIVISTA_STUB) as arch:
        google_env(GCE_METADATA_HOST="127.0.0.1:" + google.port, STORAGE_EMULATOR_HOST="127.0.0.1:" + google.port,
                   CHAINSD_CONTAINERANALYSIS_ENDPOINT=google.url)
        results = {b: measure(google, arch, b, runs_file) for b in ("tekton", "gcs", "archivista", "grafeas")}
    print(json.dumps({"runs": RUNS, "taskrun_storage": results}), flush=True)
    os.unlink(runs_file)
    os.rmdir(tmp)


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        google_env()

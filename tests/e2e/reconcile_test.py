"""The reconcile pipeline with the real chainsd against kube-testserver and the Rekor stand-in:
a run whose annotations would pass kube's 256 KiB ends `failed` fast with one log entry at most;
upstream's finalizers are removed so runs can be deleted after a switch; a run being deleted is
signed before it is released; a retry after a failed storage reuses its signature and log entry."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, get_run, kubectl,  # noqa: E402
                    run_tests, taskrun, wait_signed, wait_until, SOURCE_ROOT, TESTSERVER)
import ktsutil  # noqa: E402

REKOR_STUB = os.environ.get("REKOR_STUB", os.path.join(SOURCE_ROOT, "tests/support/rekor-stub/rekor_stub.py"))
BASE_CONFIG = {"artifacts.oci.storage": "tekton"}


def env(config=None):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict(BASE_CONFIG, **(config or {})))
    return server, Workdir("ecdsa")


def events_of(server, name):
    st, _, events = server.request("GET", "/api/v1/namespaces/default/events")
    return [e for e in events["items"] if e["involvedObject"]["name"] == name]


def big_taskrun(name, script_bytes):
    tr = taskrun(name)
    script = "#!/bin/sh\n" + ("echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\n" *
                              (script_bytes // 70 + 1))
    tr["spec"]["taskSpec"]["steps"][0]["script"] = script
    tr["status"]["taskSpec"]["steps"][0]["script"] = script
    return tr


def test_oversize_annotations_fail_fast_naming_the_limit_with_at_most_one_log_entry():
    with StubProcess(REKOR_STUB) as log:
        server, work = env({"transparency.enabled": "true", "transparency.url": log.url})
        with server, Chainsd(server, work, retry_base_ms=20) as c:
            c.wait_ready()
            started = time.monotonic()
            # ~100 KB of script: the provenance carries it, and tekton storage keeps payload and
            # envelope base64 in annotations — about 3× that, over 262144 bytes.
            create(server, big_taskrun("huge", 100_000))
            tr = wait_signed(server, "taskruns", "default", "huge", value="failed", timeout=10)
            took = time.monotonic() - started
            ann = annotations(tr)
            err = ann.get("chains.tekton.dev/error", "")
            check("262144" in err and "artifacts.taskrun.storage" in err and "oci" in err,
                  "the reason names the limit and the key to change: " + err)
            check(len(err) <= 512, "the reason is short (%d bytes)" % len(err))
            check(not any(k.startswith("chains.tekton.dev/signature-") for k in ann), "no payload was written")
            check(ann.get("chains.tekton.dev/retries") is None, "not retried: retrying cannot help")
            time.sleep(0.5)
            uploads = log.stats()["uploads"]
            check(uploads <= 1, "at most one Rekor entry for the run (got %d)" % uploads)
            check(any(e.get("reason") == "SigningFailed" and e.get("type") == "Warning" for e in events_of(server, "huge")),
                  "a Warning event")
            print("ok: failed in %.2f s with %d log entry" % (took, uploads))
            # The controller goes on: the next run is signed normally.
            create(server, taskrun("normal"))
            wait_signed(server, "taskruns", "default", "normal")
            time.sleep(0.5)
            check(log.stats()["uploads"] == uploads + 1, "the next run is logged once")
    work.remove()


def with_finalizers(obj, finalizers):
    obj["metadata"]["finalizers"] = finalizers
    return obj


def pipelinerun(name):
    spec = {"tasks": [{"name": "a", "taskSpec": {"steps": [{"name": "s", "image": "busybox"}]}}]}
    return {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"pipelineSpec": spec},
            "status": {"startTime": "2026-11-26T06:00:00Z", "completionTime": "2026-11-26T06:02:00Z",
                       "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
                       "pipelineSpec": spec}}


def test_upstream_finalizers_are_removed_so_runs_can_be_deleted():
    server, work = env()
    with server:
        # What an upstream installation leaves behind: every form of its finalizer, on runs it
        # signed, runs it did not, and a run still running; plus someone else's finalizer.
        create(server, with_finalizers(taskrun("fin-new"), ["chains.tekton.dev/taskrun", "example.com/keep"]))
        create(server, with_finalizers(taskrun("fin-old"), ["chains.tekton.dev"]))
        signed = with_finalizers(taskrun("fin-signed"), ["chains.tekton.dev/taskrun"])
        signed["metadata"]["annotations"] = {"chains.tekton.dev/signed": "true"}
        create(server, signed)
        create(server, with_finalizers(taskrun("fin-running", done=False), ["chains.tekton.dev/taskrun"]))
        create(server, with_finalizers(pipelinerun("fin-pipe"), ["chains.tekton.dev/pipelinerun"]))
        with Chainsd(server, work):
            wait_signed(server, "taskruns", "default", "fin-new")
            wait_signed(server, "taskruns", "default", "fin-old")
            wait_signed(server, "pipelineruns", "default", "fin-pipe")

            def finalizers(kind, name):
                return get_run(server, kind, "default", name)["metadata"].get("finalizers", [])

            wait_until(lambda: finalizers("taskruns", "fin-new") == ["example.com/keep"], timeout=5,
                       what="upstream's finalizer removed, the other kept")
            for kind, name in [("taskruns", "fin-old"), ("taskruns", "fin-signed"), ("taskruns", "fin-running"),
                               ("pipelineruns", "fin-pipe")]:
                wait_until(lambda: finalizers(kind, name) == [], timeout=5, what="no finalizer on %s %s" % (kind, name))
            check("chains.tekton.dev/signed" not in annotations(get_run(server, "taskruns", "default", "fin-running")),
                  "a running run is only released, not signed")
            for kind, name in [("taskrun", "fin-old"), ("taskrun", "fin-signed"), ("pipelinerun", "fin-pipe")]:
                started = time.monotonic()
                kubectl(server, "delete", kind, name, "--wait=true", "--timeout=5s")
                st, _, _ = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/%ss/%s" % (kind, name))
                check(st == 404, "%s %s deleted (%.2f s)" % (kind, name, time.monotonic() - started))
    work.remove()


def test_a_run_being_deleted_is_signed_then_released():
    server, work = env()
    with server:
        create(server, with_finalizers(taskrun("doomed"), ["chains.tekton.dev/taskrun"]))
        # Deleted while no controller runs: the finalizer holds it, with deletionTimestamp set.
        kubectl(server, "delete", "taskrun", "doomed", "--wait=false")
        tr = get_run(server, "taskruns", "default", "doomed")
        check(tr["metadata"].get("deletionTimestamp"), "the run is being deleted")
        seen = []
        with Chainsd(server, work) as c:
            def gone():
                st, _, body = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns/doomed")
                if st == 200:
                    seen.append(body)
                return st == 404
            wait_until(gone, timeout=5, interval=0.02, what="the run released and gone")
            check(c.metric("watcher_taskrun_marked_signed_total") == 1, "it was signed before it went")
        if seen:
            print("ok: last view before deletion: signed=%s" % annotations(seen[-1]).get("chains.tekton.dev/signed"))
    work.remove()


def test_a_retry_reuses_its_signature_so_the_log_gets_one_entry():
    # The log accepts the entry but answers with a signed entry timestamp that does not verify:
    # the pass fails after the entry exists. Its retries must send the SAME signature (the log
    # answers 409 with the existing entry), not sign again and add an entry per attempt.
    with StubProcess(REKOR_STUB, "--fault", "bad-set") as log:
        server, work = env({"transparency.enabled": "true", "transparency.url": log.url,
                            "artifacts.oci.storage": ""})
        with server, Chainsd(server, work, retry_base_ms=500) as c:
            create(server, taskrun("resumed"))
            wait_until(lambda: annotations(get_run(server, "taskruns", "default", "resumed")).get(
                "chains.tekton.dev/retries") == "1", timeout=20, what="a retried pass (retries=1)")
            log.post("/__stub/fault", {"fault": ""})
            tr = wait_signed(server, "taskruns", "default", "resumed", timeout=30)
            st = log.stats()
            check(st["treeSize"] == 1, "one log entry for the run after %d uploads (tree size %d)"
                  % (st["uploads"], st["treeSize"]))
            check(c.metric("chainsd_retry_reused_steps_total") >= 1, "retries reused the signature")
            check(c.metric("watcher_taskrun_sign_created_total") == 1, "signed once")
    work.remove()


run_tests(globals())

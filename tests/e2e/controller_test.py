"""The real chainsd process against kube-testserver: signing TaskRuns and PipelineRuns, verifying
the signatures independently, retries → failed, restart without double signing, config reload
through kubectl, rejected configs, SIGTERM drain."""
import base64
import json
import signal
import sys
import time

from e2elib import (Chainsd, Workdir, annotations, chains_config, check, create, dsse_parts, get_run, kubectl,
                    run_tests, taskrun, verify_openssl, verify_sslib, wait_signed, wait_until, TESTSERVER)
import ktsutil

BASE_CONFIG = {"artifacts.oci.storage": "tekton"}  # no registry here; tests/e2e/oci_test.py covers oci


def signing_env(config=None, key="ecdsa"):
    # --lenient-status: runs are created finished, as if Tekton Pipelines had written their status.
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict(BASE_CONFIG, **(config or {})))
    return server, Workdir(key)


def test_taskrun_signed_and_verified_independently():
    server, work = signing_env()
    with server, Chainsd(server, work) as c:
        create(server, taskrun("build-1", image_digest="b" * 64))
        tr = wait_signed(server, "taskruns", "default", "build-1")
        ann = annotations(tr)
        uid = tr["metadata"]["uid"]
        env, payload, pae = dsse_parts(ann["chains.tekton.dev/signature-taskrun-" + uid])
        check(base64.b64decode(ann["chains.tekton.dev/payload-taskrun-" + uid]) == payload,
              "payload annotation holds exactly the signed bytes")
        stmt = json.loads(payload)
        check(stmt["_type"] == "https://in-toto.io/Statement/v0.1", "in-toto statement v0.1")
        check(stmt["subject"] == [{"name": "registry.example.com/e2e/build-1", "digest": {"sha256": "b" * 64}}],
              "the built image is the subject")
        check(env["payloadType"] == "application/vnd.in-toto+json", "DSSE payload type")
        sig = base64.b64decode(env["signatures"][0]["sig"])
        keyid = env["signatures"][0]["keyid"]
        check(keyid.startswith("SHA256:"), "key id is an SSH SHA256 fingerprint")
        check(verify_sslib(work.public_pem, keyid, sig, pae), "securesystemslib verifies the DSSE signature")
        check(verify_openssl(work, sig, pae), "openssl verifies the DSSE signature over PAE")
        tampered = bytearray(pae)
        tampered[-5] ^= 1
        check(not verify_sslib(work.public_pem, keyid, sig, bytes(tampered)), "one changed payload byte fails")
        check(not verify_openssl(work, sig, bytes(tampered)), "openssl rejects the changed payload too")
        # The image's simplesigning signature (12 hex digits key), raw over the payload.
        img_payload = base64.b64decode(ann["chains.tekton.dev/payload-" + "b" * 12])
        img_sig = base64.b64decode(ann["chains.tekton.dev/signature-" + "b" * 12])
        check(json.loads(img_payload)["critical"]["image"]["docker-manifest-digest"] == "sha256:" + "b" * 64,
              "simplesigning payload names the image digest")
        check(verify_openssl(work, img_sig, img_payload), "openssl verifies the image signature")
        check(c.metric("watcher_taskrun_marked_signed_total") == 1, "marked_signed metric counts the run")
        check(c.metric("watcher_taskrun_sign_created_total") == 2, "two signatures created")
    work.remove()


def test_running_and_already_signed_runs_are_left_alone():
    server, work = signing_env()
    with server:
        running = taskrun("still-running", done=False)
        create(server, running)
        pre = taskrun("signed-before")
        pre["metadata"]["annotations"] = {"chains.tekton.dev/signed": "true"}
        create(server, pre)
        with Chainsd(server, work) as c:
            c.wait_ready()
            create(server, taskrun("finished"))
            wait_signed(server, "taskruns", "default", "finished")
            time.sleep(0.5)
            check("chains.tekton.dev/signed" not in annotations(get_run(server, "taskruns", "default", "still-running")),
                  "a running TaskRun is not signed")
            check(set(annotations(get_run(server, "taskruns", "default", "signed-before"))) == {"chains.tekton.dev/signed"},
                  "an already signed TaskRun is not touched")
            # The running one finishes: now it is signed.
            st, _, _ = server.request("PATCH", "/apis/tekton.dev/v1/namespaces/default/taskruns/still-running/status",
                                      {"status": {"completionTime": "2026-11-26T06:01:00Z",
                                                  "conditions": [{"type": "Succeeded", "status": "False",
                                                                  "reason": "Failed"}]}},
                                      content_type="application/merge-patch+json")
            check(st == 200, "status patched to failed (done)")
            wait_signed(server, "taskruns", "default", "still-running")
    work.remove()


def test_no_key_parks_the_run_with_a_warning_event_and_no_retry_storm():
    # No signing key at all (signing-secrets not created yet): retrying cannot help until it
    # appears, so the run is parked — nothing written to it, one Warning event saying why.
    server, work = signing_env(key=None)
    with server, Chainsd(server, work, retry_base_ms=20) as c:
        create(server, taskrun("no-key"))

        def key_event():
            st, _, events = server.request("GET", "/api/v1/namespaces/default/events")
            return [e for e in events["items"]
                    if e["involvedObject"]["name"] == "no-key" and e.get("reason") == "SigningKeyMissing"]
        evs = wait_until(key_event, timeout=30, what="a SigningKeyMissing event")
        check("no valid private key found" in evs[0].get("message", ""),
              "the event says what is missing: " + evs[0].get("message", ""))
        time.sleep(1.0)
        st, _, tr = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns/no-key")
        ann = annotations(tr)
        check("chains.tekton.dev/signed" not in ann and "chains.tekton.dev/retries" not in ann,
              "nothing is written to a parked run: %r" % ann)
        check(len(key_event()) == 1, "one event, not one per attempt")
        check(c.metric("watcher_taskrun_signing_failures_total") >= 1, "failures counted by error type")
    work.remove()


def test_backlog_beyond_max_queued_mb_is_read_again_and_signed_once():
    """--max-queued-mb 0: no queued document is kept; each run is read (GET) when its turn comes
    and signed exactly once (deleted and already-signed runs: the reconciler unit test)."""
    server, work = signing_env()
    with server:
        names = ["backlog-%d" % i for i in range(12)]
        for n in names:
            create(server, taskrun(n))
        st, _, before = server.request("GET", "/testserver/stats")
        with Chainsd(server, work, "--max-queued-mb", "0", "--max-in-flight", "2") as c:
            for n in names:
                wait_signed(server, "taskruns", "default", n)
            st, _, after = server.request("GET", "/testserver/stats")
            gets = after["verbs"]["get"] - before["verbs"]["get"]
            check(gets >= len(names), "each queued run was read again: %d GETs for %d runs" % (gets, len(names)))
            check(c.metric("watcher_taskrun_marked_signed_total") == len(names), "each run signed once")
    work.remove()


def test_restart_does_not_sign_twice():
    server, work = signing_env()
    with server:
        create(server, taskrun("once"))
        with Chainsd(server, work) as c1:
            tr = wait_signed(server, "taskruns", "default", "once")
        sig = annotations(tr)["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]]
        rv = tr["metadata"]["resourceVersion"]
        with Chainsd(server, work) as c2:
            c2.wait_ready()
            create(server, taskrun("after-restart"))
            wait_signed(server, "taskruns", "default", "after-restart")
            again = get_run(server, "taskruns", "default", "once")
            check(again["metadata"]["resourceVersion"] == rv, "the signed run was not written again")
            check(annotations(again)["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]] == sig,
                  "its signature is unchanged")
            check(c2.metric("watcher_taskrun_marked_signed_total") == 1, "the new process signed only the new run")
    work.remove()


def test_config_reload_with_kubectl_patch():
    server, work = signing_env()
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"artifacts.taskrun.format": "slsa/v2alpha4"}}')
        wait_until(lambda: c.lines("chains-config applied") and
                   any(l.get("version") == "3" for l in c.lines("chains-config applied")),
                   what="the patched config to be applied")
        create(server, taskrun("after-reload"))
        tr = wait_signed(server, "taskruns", "default", "after-reload")
        _, payload, _ = dsse_parts(annotations(tr)["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]])
        stmt = json.loads(payload)
        check(stmt["predicateType"] == "https://slsa.dev/provenance/v1", "the new format is in force without restart")
        check(stmt["_type"] == "https://in-toto.io/Statement/v1", "statement v1")
    work.remove()


def test_config_naming_missing_plugin_is_rejected_and_old_config_kept():
    server, work = signing_env()
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"artifacts.taskrun.storage": "gcs"}}')
        wait_until(lambda: c.lines("chains-config rejected; the previous config stays in force"),
                   what="the rejection to be logged")
        err = c.lines("chains-config rejected; the previous config stays in force")[0]["error"]
        check("artifacts.taskrun.storage" in err and "installed: tekton" in err,
              "the rejection names the key and the installed plugins: " + err)
        check(c.metric("chainsd_config_rejected_total") >= 1, "the rejection is counted")
        create(server, taskrun("still-tekton"))
        tr = wait_signed(server, "taskruns", "default", "still-tekton")
        check(any(k.startswith("chains.tekton.dev/payload-taskrun-") for k in annotations(tr)),
              "the previous config (tekton storage) is still in force")
    work.remove()


def test_pipelinerun_waits_for_its_taskruns():
    server, work = signing_env()
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        pr = {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
              "metadata": {"name": "pipe", "namespace": "default"},
              "spec": {"pipelineSpec": {"tasks": [{"name": "a", "taskSpec": {"steps": [{"name": "s", "image": "busybox"}]}}]}},
              "status": {"startTime": "2026-11-26T06:00:00Z", "completionTime": "2026-11-26T06:02:00Z",
                         "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
                         "pipelineSpec": {"tasks": [{"name": "a", "taskSpec": {"steps": [{"name": "s", "image": "busybox"}]}}]},
                         "childReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "pipe-a",
                                              "pipelineTaskName": "a"}]}}
        child = taskrun("pipe-a", done=False, labels={"tekton.dev/pipelineRun": "pipe", "tekton.dev/pipelineTask": "a"})
        create(server, child)
        create(server, pr)
        time.sleep(1.0)
        check("chains.tekton.dev/signed" not in annotations(get_run(server, "pipelineruns", "default", "pipe")),
              "the PipelineRun waits while its TaskRun runs")
        st, _, _ = server.request("PATCH", "/apis/tekton.dev/v1/namespaces/default/taskruns/pipe-a/status",
                                  {"status": {"completionTime": "2026-11-26T06:01:00Z",
                                              "conditions": [{"type": "Succeeded", "status": "True",
                                                              "reason": "Succeeded"}]}},
                                  content_type="application/merge-patch+json")
        check(st == 200, "child finished")
        wait_signed(server, "taskruns", "default", "pipe-a")
        p = wait_signed(server, "pipelineruns", "default", "pipe")
        _, payload, _ = dsse_parts(annotations(p)["chains.tekton.dev/signature-pipelinerun-" + p["metadata"]["uid"]])
        stmt = json.loads(payload)
        tasks = stmt["predicate"]["buildConfig"]["tasks"]
        check([t["name"] for t in tasks] == ["a"], "the PipelineRun provenance includes its TaskRun")
        check(c.metric("watcher_pipelinerun_marked_signed_total") == 1, "pipelinerun metric")
    work.remove()


def pipelinerun_with_child(name):
    spec = {"tasks": [{"name": "build", "taskSpec": {"steps": [{"name": "s", "image": "busybox"}]}}]}
    pr = {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
          "metadata": {"name": name, "namespace": "default"},
          "spec": {"pipelineSpec": spec},
          "status": {"startTime": "2026-11-26T06:00:00Z", "completionTime": "2026-11-26T06:02:00Z",
                     "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded"}],
                     "pipelineSpec": spec,
                     "childReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": name + "-build",
                                          "pipelineTaskName": "build"}]}}
    child = taskrun(name + "-build", image_digest="c" * 64,
                    labels={"tekton.dev/pipelineRun": name, "tekton.dev/pipelineTask": "build"})
    return pr, child


def test_every_format_signs_taskruns_and_pipelineruns_verifiably():
    expected = {"in-toto": ("https://in-toto.io/Statement/v0.1", "https://slsa.dev/provenance/v0.2"),
                "slsa/v1": ("https://in-toto.io/Statement/v0.1", "https://slsa.dev/provenance/v0.2"),
                "slsa/v2alpha3": ("https://in-toto.io/Statement/v1", "https://slsa.dev/provenance/v1"),
                "slsa/v2alpha4": ("https://in-toto.io/Statement/v1", "https://slsa.dev/provenance/v1")}
    for fmt, (stmt_type, pred_type) in expected.items():
        server, work = signing_env({"artifacts.taskrun.format": fmt, "artifacts.pipelinerun.format": fmt,
                                    "artifacts.pipelinerun.enable-deep-inspection": "true"})
        with server, Chainsd(server, work):
            pr, child = pipelinerun_with_child("p")
            create(server, child)
            create(server, pr)
            for kind, name in (("taskruns", "p-build"), ("pipelineruns", "p")):
                obj = wait_signed(server, kind, "default", name)
                key = kind[:-1] + "-" + obj["metadata"]["uid"]
                env, payload, pae = dsse_parts(annotations(obj)["chains.tekton.dev/signature-" + key])
                stmt = json.loads(payload)
                check(stmt["_type"] == stmt_type and stmt["predicateType"] == pred_type,
                      "%s %s: %s / %s" % (fmt, kind, stmt["_type"], stmt["predicateType"]))
                sig = base64.b64decode(env["signatures"][0]["sig"])
                check(verify_sslib(work.public_pem, env["signatures"][0]["keyid"], sig, pae),
                      "%s %s: signature verifies (securesystemslib)" % (fmt, kind))
                names = [s["name"] for s in stmt.get("subject", [])]
                check("registry.example.com/e2e/p-build" in names,
                      "%s %s: the image built by the task is a subject (%s)" % (fmt, kind, names))
        work.remove()


def test_sigterm_drains_and_exits_zero():
    server, work = signing_env()
    with server:
        c = Chainsd(server, work)
        c.wait_ready()
        t0 = time.monotonic()
        rc = c.stop(signal.SIGTERM)
        check(rc == 0, "exit code 0 after SIGTERM (got %s)" % rc)
        check(time.monotonic() - t0 < 5, "stopped promptly")
        check(c.lines("shutting down") and c.lines("drained"), "logged shutdown and drain")
    work.remove()


if __name__ == "__main__":
    run_tests(globals())

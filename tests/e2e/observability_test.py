"""Issue 19 item 11, the real chainsd against kube-testserver: a rejected chains-config raises a
Warning Event on the ConfigMap (once per content); start-up does not complain about plugins the
live config does not use; /metrics has Go's process_* metrics; at debug level, one line per run
not signed and why (not done, already signed, managed by another controller; a run outside
--namespace has no line yet: the reconciler drops it before reading it)."""
import time

from e2elib import (Chainsd, Workdir, chains_config, check, create, kubectl, run_tests, taskrun, wait_signed,
                    wait_until, TESTSERVER)
import ktsutil


def env(config):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, config)
    return server, Workdir()


def config_events(server):
    st, _, events = server.request("GET", "/api/v1/namespaces/tekton-chains/events")
    check(st == 200, "events listed")
    return [e for e in events["items"] if e["involvedObject"].get("kind") == "ConfigMap"
            and e["involvedObject"].get("name") == "chains-config"]


def test_rejected_config_raises_a_warning_event_on_the_configmap():
    server, work = env({"artifacts.oci.storage": "tekton"})
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        check(config_events(server) == [], "no event for an accepted config")
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"artifacts.taskrun.storage": "gcs"}}')
        evs = wait_until(lambda: config_events(server), what="a Warning Event on chains-config")
        ev = evs[0]
        check(ev["type"] == "Warning" and ev["reason"] == "ConfigRejected", "Warning / ConfigRejected: %r" % ev)
        check("artifacts.taskrun.storage" in ev["message"] and "previous config stays in force" in ev["message"],
              "the message names the key: " + ev["message"])
        st, _, cm = server.request("GET", "/api/v1/namespaces/tekton-chains/configmaps/chains-config")
        check(ev["involvedObject"].get("uid") == cm["metadata"]["uid"], "the event points at the ConfigMap by uid")
        described = kubectl(server, "get", "events", "-n", "tekton-chains", "--field-selector",
                            "involvedObject.name=chains-config").stdout
        print(described, flush=True)
        # An invalid value: a second event, naming that key.
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"artifacts.taskrun.storage": "tekton", "artifacts.taskrun.format": "nope"}}')
        evs = wait_until(lambda: len(config_events(server)) == 2 and config_events(server), what="a second event")
        check(any("artifacts.taskrun.format" in e["message"] for e in evs), "the second event names the bad key")
        time.sleep(1.0)  # watch resyncs / bookmarks do not repeat it
        check(len(config_events(server)) == 2, "one event per rejected content")
        # Fixed, then broken the same way again: that is news, a third event.
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"artifacts.taskrun.format": "slsa/v1"}}')
        wait_until(lambda: any(l.get("version") == "3" for l in c.lines("chains-config applied")), what="the fix")
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"artifacts.taskrun.format": "nope"}}')
        wait_until(lambda: len(config_events(server)) == 3, what="a third event")
    work.remove()


def test_start_up_does_not_complain_about_plugins_the_live_config_does_not_use():
    # The defaults store images in oci, which is not installed here; the live config says tekton.
    server, work = env({"artifacts.oci.storage": "tekton"})
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        create(server, taskrun("signed"))
        wait_signed(server, "taskruns", "default", "signed")
        errors = [l for l in c.log().splitlines() if '"level":"error"' in l or "not installed" in l]
        check(errors == [], "no error about plugins the live config does not use: %r" % errors)
    work.remove()
    # With no chains-config at all, the defaults are what is used: then it is said.
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    work = Workdir()
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        wait_until(lambda: "the default config names plugins that are not installed" in c.log(),
                   what="the warning about the defaults' missing oci plugin")
    work.remove()


def test_process_metrics_as_go_controllers_have():
    server, work = env({"artifacts.oci.storage": "tekton"})
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        _, text = c.get("/metrics")
        for name, kind in [("process_cpu_seconds_total", "counter"), ("process_resident_memory_bytes", "gauge"),
                           ("process_virtual_memory_bytes", "gauge"), ("process_open_fds", "gauge"),
                           ("process_max_fds", "gauge"), ("process_start_time_seconds", "gauge")]:
            check("# TYPE %s %s\n" % (name, kind) in text, name + " is exported as a " + kind)
        start = c.metric("process_start_time_seconds")
        check(abs(start - time.time()) < 120, "start time is now-ish: %s" % start)
        check(c.metric("process_resident_memory_bytes") > 1 << 20, "RSS above 1 MiB")
        with open("/proc/%d/status" % c.proc.pid) as f:
            rss_kb = int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
        got = c.metric("process_resident_memory_bytes") / 1024
        check(abs(got - rss_kb) < max(4096, rss_kb * 0.2), "RSS matches /proc/PID/status (%d vs %d KiB)" % (got, rss_kb))
        fds = c.metric("process_open_fds")
        check(0 < fds <= c.metric("process_max_fds"), "open fds %s within the limit" % fds)
    work.remove()


def test_debug_line_per_run_not_signed_and_why():
    server, work = env({"artifacts.oci.storage": "tekton", "filter.managed-by": "tekton-pipelines"})
    with server:
        create(server, taskrun("still-running", done=False))
        pre = taskrun("signed-before")
        pre["metadata"]["annotations"] = {"chains.tekton.dev/signed": "true"}
        create(server, pre)
        other = taskrun("other-controller")
        other["spec"]["managedBy"] = "someone-else"  # Tekton's spec.managedBy, which filter.managed-by reads
        create(server, other)
        create(server, taskrun("elsewhere", ns="elsewhere"))
        with Chainsd(server, work, "--log-level", "debug", "--namespace", "default,ci") as c:
            c.wait_ready()
            create(server, taskrun("signed-now"))
            wait_signed(server, "taskruns", "default", "signed-now")

            def why(name):
                return {l.get("why") for l in c.lines("run needs no work") if l.get("run", "").endswith("/" + name)}
            wait_until(lambda: why("other-controller"), what="the managed-by line")
            check("not done" in why("still-running"), "running: %r" % why("still-running"))
            check("already signed or failed" in why("signed-before"), "signed: %r" % why("signed-before"))
            check(any("managed by another controller" in w for w in why("other-controller")),
                  "managed-by: %r" % why("other-controller"))
            # A run outside --namespace is dropped before it is read (reconciler.cpp on_event's first
            # in_scope check), without a line: left to engine/reconciler; here only: not signed.
            st, _, tr = server.request("GET", "/apis/tekton.dev/v1/namespaces/elsewhere/taskruns/elsewhere")
            check("chains.tekton.dev/signed" not in tr["metadata"].get("annotations", {}),
                  "a run outside --namespace is not signed")
            check(why("signed-now") == set(), "no such line for the run that is signed")
    work.remove()


if __name__ == "__main__":
    run_tests(globals())

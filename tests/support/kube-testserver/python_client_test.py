"""The official Python client (Debian's python3-kubernetes) against kube-testserver: list
TaskRuns via CustomObjectsApi and watch them with kubernetes.watch.Watch, seeing ADDED then
MODIFIED for a patch made concurrently. Also CoreV1Api on chains-config, a 409 ApiException and
the 422 one kube raises for annotations beyond 262144 bytes."""
import json
import sys
import threading
import time

from ktsutil import Server, check, fail, require_python_module

EXE = sys.argv[1]
require_python_module("kubernetes")

from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

G, V, P, NS = "tekton.dev", "v1", "taskruns", "default"


def taskrun(name):
    return {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": name, "labels": {"app": "py"}},
            "spec": {"taskRef": {"name": "build"}}}


def main():
    with Server(EXE, "--token", "py-token") as s:
        api_client = config.new_client_from_config(config_file=s.kubeconfig)
        co = client.CustomObjectsApi(api_client)
        core = client.CoreV1Api(api_client)

        co.create_namespaced_custom_object(G, V, NS, P, taskrun("seed"))
        lst = co.list_namespaced_custom_object(G, V, NS, P)
        check([i["metadata"]["name"] for i in lst["items"]] == ["seed"], "CustomObjectsApi list TaskRuns")
        all_ns = co.list_cluster_custom_object(G, V, P)
        check(len(all_ns["items"]) == 1, "CustomObjectsApi list across all namespaces")
        rv = lst["metadata"]["resourceVersion"]

        events, errors = [], []
        ready = threading.Event()

        def watcher():
            w = watch.Watch()
            try:
                ready.set()
                for ev in w.stream(co.list_namespaced_custom_object, G, V, NS, P, resource_version=rv,
                                   timeout_seconds=10, label_selector="app=py"):
                    events.append((ev["type"], ev["object"]["metadata"]["name"],
                                   ev["object"]["metadata"].get("annotations", {})))
                    if len(events) >= 2:
                        w.stop()
            except Exception as e:  # surfaced below with the events seen so far
                errors.append(repr(e))

        t = threading.Thread(target=watcher, daemon=True)
        t.start()
        ready.wait(5)
        time.sleep(0.3)
        co.create_namespaced_custom_object(G, V, NS, P, taskrun("watched"))
        co.patch_namespaced_custom_object(G, V, NS, P, "watched",
                                          {"metadata": {"annotations": {"chains.tekton.dev/signed": "true"}}})
        t.join(15)
        if t.is_alive() or errors:
            fail("watch did not finish: events=%s errors=%s" % (events, errors))
        check([e[:2] for e in events] == [("ADDED", "watched"), ("MODIFIED", "watched")],
              "Watch.stream sees ADDED then MODIFIED: %s" % [e[:2] for e in events])
        check(events[1][2].get("chains.tekton.dev/signed") == "true", "MODIFIED event carries the patched annotation")

        got = co.get_namespaced_custom_object(G, V, NS, P, "watched")
        try:
            stale = dict(got)
            stale["metadata"] = dict(got["metadata"], resourceVersion="1")
            co.replace_namespaced_custom_object(G, V, NS, P, "watched", stale)
            fail("replace with a stale resourceVersion succeeded")
        except ApiException as e:
            check(e.status == 409, "stale replace raises ApiException 409")

        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="chains-config"),
                                data={"transparency.enabled": "false"})
        core.create_namespaced_config_map("tekton-chains", cm)
        core.patch_namespaced_config_map("chains-config", "tekton-chains", {"data": {"transparency.enabled": "true"}})
        got = core.read_namespaced_config_map("chains-config", "tekton-chains")
        check(got.data["transparency.enabled"] == "true", "CoreV1Api create/patch/read ConfigMap")
        try:
            core.read_namespaced_config_map("missing", "tekton-chains")
            fail("reading a missing ConfigMap succeeded")
        except ApiException as e:
            check(e.status == 404, "missing ConfigMap raises ApiException 404")
        try:
            co.patch_namespaced_custom_object(G, V, NS, P, "watched",
                                              {"metadata": {"annotations": {"chains.tekton.dev/big": "x" * 262144}}})
            fail("an annotation beyond 262144 bytes was accepted")
        except ApiException as e:
            body = json.loads(e.body)
            check(e.status == 422 and body["reason"] == "Invalid" and body["message"] ==
                  'TaskRun.tekton.dev "watched" is invalid: metadata.annotations: Too long: must have at most 262144 bytes'
                  and body["details"]["causes"] == [{"reason": "FieldValueTooLong", "field": "metadata.annotations",
                                                     "message": "Too long: must have at most 262144 bytes"}],
                  "an oversized annotation patch raises ApiException 422 with kube's Status")
        co.delete_namespaced_custom_object(G, V, NS, P, "watched")
        check(len(co.list_namespaced_custom_object(G, V, NS, P)["items"]) == 1, "delete via CustomObjectsApi")
    print("PASS", flush=True)


if __name__ == "__main__":
    main()

"""kubectl 1.32 against kube-testserver (HTTPS + bearer token, kubeconfig from --kubeconfig-out):
apply, get -A -o json, annotate, patch, jsonpath, server-side apply, delete."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from ktsutil import SKIP, Server, check, fail

EXE = sys.argv[1]
KUBECTL = shutil.which("kubectl") or ("/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else None)
if not KUBECTL:
    print("SKIP: kubectl not found on PATH or at /usr/bin/kubectl", flush=True)
    sys.exit(SKIP)

TASKRUN = """apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: build-1
  namespace: default
  labels:
    app: demo
spec:
  taskRef:
    name: build
  params:
  - name: revision
    value: main
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: chains-config
  namespace: tekton-chains
data:
  artifacts.taskrun.format: in-toto
  transparency.enabled: "false"
"""
SSA = """apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: build-2
  namespace: default
  annotations:
    chains.tekton.dev/test: server-side
"""


def kubectl(s, *args, ok=True):
    cmd = [KUBECTL, "--kubeconfig", s.kubeconfig, *args]
    print("$ " + " ".join(cmd[3:]), flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.stdout.strip():
        print(p.stdout.rstrip()[:2000], flush=True)
    if p.stderr.strip():
        print("stderr: " + p.stderr.rstrip()[:2000], flush=True)
    if ok and p.returncode != 0:
        fail("kubectl %s exited %d" % (" ".join(args), p.returncode))
    return p


def main():
    tmp_dir = tempfile.TemporaryDirectory(prefix="kubectl-test-")
    tmp = tmp_dir.name
    for name, text in (("taskrun.yaml", TASKRUN), ("configmap.yaml", CONFIGMAP), ("ssa.yaml", SSA)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    with Server(EXE, "--tls-self-signed", "--token", "kubectl-token") as s:
        kubectl(s, "version")
        p = kubectl(s, "apply", "-f", os.path.join(tmp, "taskrun.yaml"), "-f", os.path.join(tmp, "configmap.yaml"))
        check("taskrun.tekton.dev/build-1 created" in p.stdout and "configmap/chains-config created" in p.stdout,
              "kubectl apply -f creates a TaskRun and chains-config without extra flags")
        p = kubectl(s, "apply", "-f", os.path.join(tmp, "taskrun.yaml"))
        check("unchanged" in p.stdout, "re-apply reports unchanged")
        p = kubectl(s, "get", "taskruns", "-A", "-o", "json")
        items = json.loads(p.stdout)["items"]
        check(len(items) == 1 and items[0]["metadata"]["name"] == "build-1" and items[0]["metadata"]["namespace"] == "default",
              "kubectl get taskruns -A -o json")
        p = kubectl(s, "get", "tr", "-A")
        check("build-1" in p.stdout and "NAMESPACE" in p.stdout, "kubectl get tr -A (short name, table output)")
        kubectl(s, "annotate", "taskrun", "build-1", "chains.tekton.dev/signed=true")
        p = kubectl(s, "get", "taskrun", "build-1", "-o", "jsonpath={.metadata.annotations.chains\\.tekton\\.dev/signed}")
        check(p.stdout == "true", "kubectl annotate taskrun")
        kubectl(s, "patch", "configmap", "chains-config", "-n", "tekton-chains", "-p={\"data\":{\"transparency.enabled\": \"true\"}}")
        p = kubectl(s, "get", "configmap", "chains-config", "-n", "tekton-chains", "-o", "jsonpath={.data.transparency\\.enabled}")
        check(p.stdout == "true", "kubectl patch configmap then jsonpath prints true")
        # build-2 is made with `kubectl create`: a TaskRun made by client-side apply would first be
        # migrated by kubectl (its fields handed to the server-side manager), and the partial manifest
        # below would then remove its spec -- on a real cluster too.
        with open(os.path.join(tmp, "taskrun2.yaml"), "w") as f:
            f.write(TASKRUN.replace("build-1", "build-2"))
        kubectl(s, "create", "-f", os.path.join(tmp, "taskrun2.yaml"))
        p = kubectl(s, "apply", "--server-side", "--field-manager=chains-test", "-f", os.path.join(tmp, "ssa.yaml"))
        check("serverside-applied" in p.stdout, "kubectl apply --server-side of an annotation")
        p = kubectl(s, "get", "taskrun", "build-2", "-o", "json", "--show-managed-fields")
        o = json.loads(p.stdout)
        check(o["metadata"]["annotations"]["chains.tekton.dev/test"] == "server-side" and o["spec"]["taskRef"]["name"] == "build",
              "server-side apply added the annotation and kept the spec")
        check(any(m["manager"] == "chains-test" and m["operation"] == "Apply" for m in o["metadata"]["managedFields"]),
              "managedFields records the chains-test Apply manager")
        p = kubectl(s, "annotate", "taskrun", "build-2", "chains.tekton.dev/test=other", "--overwrite")
        p = kubectl(s, "apply", "--server-side", "--field-manager=chains-test", "-f", os.path.join(tmp, "ssa.yaml"), ok=False)
        check(p.returncode != 0 and "conflict" in p.stderr.lower(), "server-side apply conflict is reported by kubectl")
        kubectl(s, "apply", "--server-side", "--field-manager=chains-test", "--force-conflicts", "-f", os.path.join(tmp, "ssa.yaml"))
        kubectl(s, "delete", "-f", os.path.join(tmp, "taskrun.yaml"))
        kubectl(s, "delete", "taskrun", "build-2")
        kubectl(s, "delete", "configmap", "chains-config", "-n", "tekton-chains")
        p = kubectl(s, "get", "taskruns,configmaps", "-A", "-o", "json")
        check(json.loads(p.stdout)["items"] == [], "kubectl delete removed both objects")
        p = kubectl(s, "get", "taskrun", "build-1", ok=False)
        check(p.returncode != 0 and "NotFound" in p.stderr, "kubectl get of a deleted object -> NotFound")
        p = kubectl(s, "create", "token", "default", "-n", "tekton-chains", "--audience", "sigstore")
        check(p.stdout.count(".") == 2, "kubectl create token (TokenRequest)")
        p = kubectl(s, "api-resources")
        check("taskruns" in p.stdout and "tekton.dev/v1" in p.stdout and "leases" in p.stdout, "kubectl api-resources")
    print("PASS", flush=True)


if __name__ == "__main__":
    main()

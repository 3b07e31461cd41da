"""kubectl 1.32 against kube-testserver (HTTPS + bearer token, kubeconfig from --kubeconfig-out):
apply, get -A -o json, annotate, patch, jsonpath, server-side apply, delete; the errors kubectl
prints for what the server refuses (the texts a real cluster makes it print); the protobuf bodies
of `kubectl create configmap|secret generic|serviceaccount|namespace`."""
import re
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


def write_json(tmp, name, obj):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def refused(s, tmp):
    """Each refusal as kubectl prints it (cmdutil.CheckErr: Invalid -> 'The Kind "name" is invalid: field: message').
    Two rules kubectl never lets reach a server: it strips metadata.resourceVersion before a create
    and fills it in for a replace; api_validation.py covers them over HTTP."""
    too_long = 'metadata.annotations: Too long: must have at most 262144 bytes'
    run = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": "big", "namespace": "default"},
           "spec": {"taskRef": {"name": "build"}}}
    over = json.loads(json.dumps(run))
    over["metadata"]["annotations"] = {"a": "x" * 262144}
    big = write_json(tmp, "big.json", over)
    for verb in (["create"], ["apply", "--server-side"]):
        p = kubectl(s, *verb, "-f", big, ok=False)
        check(p.returncode != 0 and p.stderr == 'The TaskRun "big" is invalid: %s\n' % too_long,
              "kubectl %s of 262145 annotation bytes prints kube's text" % " ".join(verb))
    near = json.loads(json.dumps(run))
    near["metadata"]["annotations"] = {"a": "x" * 100000, "b": "y" * 100000}
    kubectl(s, "create", "-f", write_json(tmp, "near.json", near))
    p = kubectl(s, "annotate", "taskrun", "big", "c=" + "z" * 70000, ok=False)
    check(p.returncode != 0 and p.stderr == 'The TaskRun "big" is invalid: %s\n' % too_long,
          "kubectl annotate beyond the total (merge patch) prints the same")
    patch = write_json(tmp, "jp.json", [{"op": "add", "path": "/metadata/annotations/c", "value": "z" * 70000}])
    p = kubectl(s, "patch", "taskrun", "big", "--type=json", "--patch-file", patch, ok=False)
    check(p.returncode != 0 and p.stderr == 'The TaskRun "big" is invalid: %s\n' % too_long, "kubectl patch --type=json too")
    current = json.loads(kubectl(s, "get", "taskrun", "big", "-o", "json").stdout)
    current["metadata"]["annotations"]["c"] = "z" * 70000
    p = kubectl(s, "replace", "-f", write_json(tmp, "replace.json", current), ok=False)
    check(p.returncode != 0 and p.stderr == 'The TaskRun "big" is invalid: %s\n' % too_long, "kubectl replace (update) too")
    stale = json.loads(kubectl(s, "get", "taskrun", "big", "-o", "json").stdout)
    kubectl(s, "annotate", "taskrun", "big", "d=1")
    stale["metadata"]["labels"] = {"x": "y"}
    path = write_json(tmp, "stale.json", stale)
    p = kubectl(s, "replace", "-f", path, ok=False)
    check(p.stderr == 'Error from server (Conflict): error when replacing "%s": Operation cannot be fulfilled on '
          'taskruns.tekton.dev "big": the object has been modified; please apply your changes to the latest version '
          'and try again\n' % path, "kubectl replace with a stale resourceVersion prints the Conflict")
    kubectl(s, "delete", "taskrun", "big")

    huge = write_json(tmp, "huge.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge", "namespace": "default"},
                                         "data": {"a": "x" * (3 * 1024 * 1024)}})
    p = kubectl(s, "create", "-f", huge, ok=False)
    check(p.stderr == 'Error from server (RequestEntityTooLarge): error when creating "%s": Request entity too large: '
          'limit is 3145728\n' % huge, "kubectl create of a 3 MiB ConfigMap prints RequestEntityTooLarge")
    mid = write_json(tmp, "mid.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mid", "namespace": "default"},
                                       "data": {"a": "x" * (1600 * 1024)}})
    p = kubectl(s, "create", "-f", mid, ok=False)
    check(p.stderr == 'Error from server: error when creating "%s": etcdserver: request is too large\n' % mid,
          "kubectl create of a 1.6 MiB ConfigMap prints etcd's error")
    bad = write_json(tmp, "bad.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name", "namespace": "default"}})
    p = kubectl(s, "create", "-f", bad, ok=False)
    check(p.stderr == 'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 '
          "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
          "alphanumeric character (e.g. 'example.com', regex used for validation is "
          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')\n", "kubectl create of an invalid name")
    gen = write_json(tmp, "gen.json", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "Bad_", "namespace": "default"}})
    p = kubectl(s, "create", "-f", gen, ok=False)
    lines = p.stderr.splitlines()
    check(len(lines) == 3 and re.fullmatch(r'The ConfigMap "Bad_[a-z0-9]{5}" is invalid: ', lines[0])
          and lines[1].startswith('* metadata.generateName: Invalid value: "Bad_": a lowercase RFC 1123 subdomain')
          and lines[2].startswith('* metadata.name: Invalid value: "Bad_'), "two causes print as kubectl's bullet list")
    p = kubectl(s, "create", "configmap", "a" * 254, ok=False)
    check(p.stderr == 'error: failed to create configmap: ConfigMap "%s" is invalid: metadata.name: Invalid value: "%s": '
          'must be no more than 253 characters\n' % ("a" * 254, "a" * 254), "kubectl create configmap with a 254-character name")
    p = kubectl(s, "create", "namespace", "a.b", ok=False)
    check(p.stderr.startswith('The Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": a lowercase RFC 1123 '
                              "label must consist of"), "kubectl create namespace with a dot (names of namespaces are labels)")
    kubectl(s, "create", "configmap", "plain")
    p = kubectl(s, "label", "configmap", "plain", "bad key=v", ok=False)
    check(p.stderr.startswith('The ConfigMap "plain" is invalid: metadata.labels: Invalid value: "bad key": name part must '
                              "consist of alphanumeric characters"), "kubectl label with an invalid key")
    # kubectl label refuses a 64-character value itself; a patch reaches the server.
    p = kubectl(s, "patch", "configmap", "plain", "--type=merge", "-p", json.dumps({"metadata": {"labels": {"k": "v" * 64}}}), ok=False)
    check(p.stderr == 'The ConfigMap "plain" is invalid: metadata.labels: Invalid value: "%s": must be no more than 63 '
          'characters\n' % ("v" * 64), "kubectl patch with a 64-character label value")
    p = kubectl(s, "annotate", "configmap", "plain", "a/b/c=v", ok=False)
    check(p.stderr.startswith('The ConfigMap "plain" is invalid: metadata.annotations: Invalid value: "a/b/c": a qualified '
                              "name must consist of"), "kubectl annotate with an invalid key")
    near = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "near", "namespace": "default",
                                                                 "annotations": {"a": "x" * 200000}}}
    kubectl(s, "create", "-f", write_json(tmp, "near-cm.json", near))
    patch = write_json(tmp, "smp.json", {"metadata": {"annotations": {"b": "y" * 70000}}})
    p = kubectl(s, "patch", "configmap", "near", "--patch-file", patch, ok=False)
    check(p.stderr == 'The ConfigMap "near" is invalid: %s\n' % too_long, "kubectl patch (strategic merge) of a ConfigMap too")


def protobuf_kinds(s, tmp):
    """kubectl's typed create commands send protobuf; the objects read back as JSON."""
    binary = os.path.join(tmp, "blob")
    with open(binary, "wb") as f:
        f.write(b"\x00\x01\xff")
    p = kubectl(s, "create", "configmap", "pb-cm", "--from-literal=a=b", "--from-file=blob=" + binary)
    check(p.stdout.strip() == "configmap/pb-cm created", "kubectl create configmap (protobuf body)")
    o = json.loads(kubectl(s, "get", "configmap", "pb-cm", "-o", "json").stdout)
    check(o["data"] == {"a": "b"} and o["binaryData"] == {"blob": "AAH/"} and o["metadata"]["namespace"] == "default",
          "the ConfigMap holds data and binaryData")
    p = kubectl(s, "create", "secret", "generic", "pb-secret", "--from-literal=user=admin", "--from-literal=pass=s3cret")
    check(p.stdout.strip() == "secret/pb-secret created", "kubectl create secret generic (protobuf body)")
    o = json.loads(kubectl(s, "get", "secret", "pb-secret", "-o", "json").stdout)
    check(o["data"] == {"user": "YWRtaW4=", "pass": "czNjcmV0"} and o["type"] == "Opaque", "the Secret holds base64 data, type Opaque")
    kubectl(s, "create", "secret", "generic", "pb-typed", "--type=kubernetes.io/basic-auth", "--from-literal=username=u")
    o = json.loads(kubectl(s, "get", "secret", "pb-typed", "-o", "json").stdout)
    check(o["type"] == "kubernetes.io/basic-auth", "secret --type is kept")
    p = kubectl(s, "create", "serviceaccount", "pb-sa", "-n", "tekton-chains")
    check(p.stdout.strip() == "serviceaccount/pb-sa created", "kubectl create serviceaccount (protobuf body)")
    o = json.loads(kubectl(s, "get", "serviceaccount", "pb-sa", "-n", "tekton-chains", "-o", "json").stdout)
    check(o["metadata"]["name"] == "pb-sa" and o["metadata"]["uid"], "the ServiceAccount reads back")
    p = kubectl(s, "create", "token", "pb-sa", "-n", "tekton-chains")
    check(p.stdout.count(".") == 2, "kubectl create token for the new service account")
    p = kubectl(s, "create", "namespace", "pb-ns")
    o = json.loads(kubectl(s, "get", "namespace", "pb-ns", "-o", "json").stdout)
    check(o["status"]["phase"] == "Active", "kubectl create namespace (protobuf body)")
    p = kubectl(s, "create", "configmap", "pb-cm", ok=False)
    check(p.stderr.strip() == 'error: failed to create configmap: configmaps "pb-cm" already exists',
          "a second create of the same ConfigMap prints AlreadyExists")


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
        refused(s, tmp)
        protobuf_kinds(s, tmp)
        p = kubectl(s, "api-resources")
        check("taskruns" in p.stdout and "tekton.dev/v1" in p.stdout and "leases" in p.stdout, "kubectl api-resources")
    print("PASS", flush=True)


if __name__ == "__main__":
    main()

"""kube-testserver over plain HTTP: optimistic concurrency, patches, server-side apply,
pagination, selectors, watch resume / bookmarks / 410 / dropped streams, fault injection,
stats, TokenRequest JWTs checked against /openid/v1/jwks, bearer tokens and TLS."""
import base64
import json
import sys
import time

import api_validation
from ktsutil import Server, Watch, check, fail

EXE = sys.argv[1]
TMP = __import__("tempfile").TemporaryDirectory(prefix="kts-api-test-")  # removed at exit
TR = "/apis/tekton.dev/v1/namespaces/default/taskruns"
CM = "/api/v1/namespaces/tekton-chains/configmaps"


def taskrun(name, labels=None, status=None):
    o = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
         "metadata": {"name": name, "labels": labels or {}},
         "spec": {"taskRef": {"name": "build"}, "params": [{"name": "p", "value": "1"}]}}
    if status:
        o["status"] = status
    return o


def crud_and_concurrency(s):
    st, _, o = s.request("POST", TR, taskrun("tr-a", {"app": "a"}, status={"podName": "x"}))
    check(st == 201, "create TaskRun -> 201")
    md = o["metadata"]
    check(md["uid"] and md["creationTimestamp"] and md["generation"] == 1, "uid, creationTimestamp, generation set")
    check(int(md["resourceVersion"]) > 0, "resourceVersion is an integer string")
    check("status" not in o, "create drops .status (status subresource)")
    st, _, err = s.request("POST", TR, taskrun("tr-a"))
    check(st == 409 and err["reason"] == "AlreadyExists" and err["kind"] == "Status", "duplicate create -> 409 AlreadyExists Status")
    st, _, err = s.request("GET", TR + "/nope")
    check(st == 404 and err["reason"] == "NotFound", "get missing -> 404 NotFound")
    st, _, err = s.request("GET", "/apis/tekton.dev/v1/namespaces/default/widgets")
    check(st == 404 and err["kind"] == "Status", "unknown resource -> 404 Status")

    stale = dict(o)
    upd = json.loads(json.dumps(o))
    upd["spec"]["params"][0]["value"] = "2"
    st, _, o2 = s.request("PUT", TR + "/tr-a", upd)
    check(st == 200 and int(o2["metadata"]["resourceVersion"]) > int(md["resourceVersion"]), "update bumps resourceVersion")
    check(o2["metadata"]["generation"] == 2, "spec change bumps generation")
    st, _, err = s.request("PUT", TR + "/tr-a", stale)
    check(st == 409 and err["reason"] == "Conflict", "update with stale resourceVersion -> 409 Conflict")
    norv = json.loads(json.dumps(o2))
    del norv["metadata"]["resourceVersion"]
    st, _, err = s.request("PUT", TR + "/tr-a", norv)
    check(st == 422 and err["reason"] == "Invalid", "CRD update without resourceVersion -> 422 Invalid")

    # /status subresource
    o2["status"] = {"conditions": [{"type": "Succeeded", "status": "True"}]}
    o2["spec"]["params"][0]["value"] = "ignored"
    st, _, o3 = s.request("PUT", TR + "/tr-a/status", o2)
    check(st == 200 and o3["status"]["conditions"][0]["status"] == "True", "PUT /status sets status")
    check(o3["spec"]["params"][0]["value"] == "2", "PUT /status ignores spec changes")
    st, _, o4 = s.request("PATCH", TR + "/tr-a", {"status": {"podName": "nope"}, "metadata": {"labels": {"x": "y"}}},
                          "application/merge-patch+json")
    check(st == 200 and "podName" not in o4["status"] and o4["metadata"]["labels"]["x"] == "y",
          "main-resource patch ignores .status")
    st, _, o5 = s.request("PATCH", TR + "/tr-a/status", {"status": {"podName": "pod-1"}}, "application/merge-patch+json")
    check(st == 200 and o5["status"]["podName"] == "pod-1", "merge patch on /status")

    # delete: CRDs return the object, core types a Status
    st, _, d = s.request("DELETE", TR + "/tr-a")
    check(st == 200 and d["kind"] == "TaskRun", "delete TaskRun returns the object")
    s.request("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}})
    st, _, d = s.request("DELETE", CM + "/gone")
    check(st == 200 and d["kind"] == "Status" and d["status"] == "Success", "delete ConfigMap returns Status Success")
    st, _, d = s.request("POST", "/api/v1/namespaces/fresh-ns/configmaps", {"metadata": {"name": "c"}})
    st2, _, ns = s.request("GET", "/api/v1/namespaces/fresh-ns")
    check(st == 201 and st2 == 200 and ns["status"]["phase"] == "Active", "create in a new namespace auto-creates it")
    st, _, d = s.request("POST", TR, {"metadata": {"generateName": "gen-"}, "spec": {}})
    check(st == 201 and d["metadata"]["name"].startswith("gen-") and len(d["metadata"]["name"]) == 9, "generateName")
    st, _, d = s.request("POST", TR, {"metadata": {"name": "Bad_Name"}})
    check(st == 422 and d["reason"] == "Invalid", "invalid name -> 422 Invalid")
    st, _, d = s.request("PUT", "/api/v1/namespaces/default/configmaps", {})
    check(st == 405 and d["reason"] == "MethodNotAllowed", "PUT on a collection -> 405 MethodNotAllowed")
    st, _, d = s.request("POST", TR, "{not json", content_type="application/json")
    check(st == 400 and d["reason"] == "BadRequest", "malformed body -> 400 BadRequest")


def patches(s):
    s.request("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "chains-config", "labels": {"a": "1"}},
                           "data": {"artifacts.taskrun.format": "in-toto", "transparency.enabled": "false"}})
    st, _, o = s.request("PATCH", CM + "/chains-config", {"data": {"transparency.enabled": "true", "artifacts.taskrun.format": None}},
                         "application/merge-patch+json")
    check(st == 200 and o["data"] == {"transparency.enabled": "true"}, "merge patch sets and deletes keys")
    st, _, o = s.request("PATCH", CM + "/chains-config", {"data": {"storage": "oci"}, "metadata": {"labels": {"b": "2"}}},
                         "application/strategic-merge-patch+json")
    check(st == 200 and o["data"] == {"transparency.enabled": "true", "storage": "oci"} and o["metadata"]["labels"] == {"a": "1", "b": "2"},
          "strategic merge patch merges maps")
    st, _, o = s.request("PATCH", CM + "/chains-config",
                         [{"op": "test", "path": "/data/storage", "value": "oci"},
                          {"op": "add", "path": "/metadata/annotations", "value": {"x/y": "z"}},
                          {"op": "replace", "path": "/data/storage", "value": "tekton"},
                          {"op": "remove", "path": "/metadata/labels/a"}], "application/json-patch+json")
    check(st == 200 and o["data"]["storage"] == "tekton" and o["metadata"]["annotations"] == {"x/y": "z"}
          and "a" not in o["metadata"]["labels"], "json patch test/add/replace/remove")
    rv = o["metadata"]["resourceVersion"]
    st, _, err = s.request("PATCH", CM + "/chains-config", [{"op": "test", "path": "/data/storage", "value": "oci"}],
                           "application/json-patch+json")
    check(st == 422, "json patch failing test -> 422")
    st, _, err = s.request("PATCH", CM + "/chains-config", {"metadata": {"resourceVersion": "1"}, "data": {"q": "1"}},
                           "application/merge-patch+json")
    check(st == 409 and err["reason"] == "Conflict", "patch with stale metadata.resourceVersion -> 409")
    st, _, o = s.request("GET", CM + "/chains-config")
    check(o["metadata"]["resourceVersion"] == rv, "failed patches changed nothing")
    st, _, err = s.request("PATCH", "/apis/tekton.dev/v1/namespaces/default/taskruns/x", {}, "application/strategic-merge-patch+json")
    check(st == 415, "strategic merge patch on a custom resource -> 415 (as kube)")

    # server-side apply, YAML body
    apply_yaml = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chains-config\n  namespace: tekton-chains\n"
                  "  annotations:\n    owner: alice\ndata:\n  signers.x509.fulcio.enabled: \"true\"\n")
    st, _, err = s.request("PATCH", CM + "/chains-config", apply_yaml, "application/apply-patch+yaml")
    check(st == 400, "apply without fieldManager -> 400")
    st, _, o = s.request("PATCH", CM + "/chains-config?fieldManager=alice", apply_yaml, "application/apply-patch+yaml")
    check(st == 200 and o["data"]["signers.x509.fulcio.enabled"] == "true" and o["metadata"]["annotations"]["owner"] == "alice",
          "server-side apply (YAML body) merges fields")
    mgrs = {(m["manager"], m["operation"]) for m in o["metadata"]["managedFields"]}
    check(("alice", "Apply") in mgrs, "managedFields records the Apply manager")
    bob = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chains-config\n  namespace: tekton-chains\n"
           "  annotations:\n    owner: bob\n")
    st, _, err = s.request("PATCH", CM + "/chains-config?fieldManager=bob", bob, "application/apply-patch+yaml")
    check(st == 409 and err["reason"] == "Conflict" and "alice" in err["message"], "apply conflicting with another manager -> 409")
    st, _, o = s.request("PATCH", CM + "/chains-config?fieldManager=bob&force=true", bob, "application/apply-patch+yaml")
    check(st == 200 and o["metadata"]["annotations"]["owner"] == "bob", "force=true takes the field")
    # alice re-applies without the data key: she still owns it alone, so it is removed
    alice2 = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chains-config\n  namespace: tekton-chains\n")
    st, _, o = s.request("PATCH", CM + "/chains-config?fieldManager=alice", alice2, "application/apply-patch+yaml")
    check(st == 200 and "signers.x509.fulcio.enabled" not in o["data"] and o["metadata"]["annotations"]["owner"] == "bob",
          "fields dropped from an apply configuration are removed")
    st, _, o = s.request("PATCH", "/api/v1/namespaces/tekton-chains/configmaps/applied?fieldManager=alice",
                         json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "v"}}),
                         "application/apply-patch+yaml")
    check(st == 201 and o["data"] == {"k": "v"}, "apply creates a missing object (JSON body) -> 201")
    # a resourceVersion in the applied configuration is a precondition
    rv = o["metadata"]["resourceVersion"]
    stale = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "resourceVersion": str(int(rv) - 1)},
             "data": {"k": "w"}}
    st, _, err = s.request("PATCH", "/api/v1/namespaces/tekton-chains/configmaps/applied?fieldManager=alice",
                           json.dumps(stale), "application/apply-patch+yaml")
    check(st == 409 and err["reason"] == "Conflict" and "the object has been modified" in err["message"],
          "apply with a stale resourceVersion -> 409 Conflict, the object has been modified")
    stale["metadata"]["resourceVersion"] = rv
    st, _, o = s.request("PATCH", "/api/v1/namespaces/tekton-chains/configmaps/applied?fieldManager=alice",
                         json.dumps(stale), "application/apply-patch+yaml")
    check(st == 200 and o["data"] == {"k": "w"} and o["metadata"]["resourceVersion"] != rv,
          "apply with the current resourceVersion -> 200, a new version")


def pagination_and_selectors(s):
    for i in range(25):
        s.request("POST", "/api/v1/namespaces/paging/configmaps",
                  {"metadata": {"name": "cm-%02d" % i, "labels": {"tier": "even" if i % 2 == 0 else "odd"}}})
    names, token, pages, rvs = [], "", 0, set()
    while True:
        st, _, page = s.request("GET", "/api/v1/namespaces/paging/configmaps?limit=10" + ("&continue=" + token if token else ""))
        check(st == 200, "list page %d" % (pages + 1))
        pages += 1
        names += [i["metadata"]["name"] for i in page["items"]]
        rvs.add(page["metadata"]["resourceVersion"])
        token = page["metadata"].get("continue", "")
        if not token:
            break
    check(pages == 3 and len(names) == 25 and len(set(names)) == 25, "limit+continue pages through 25 items in 3 pages")
    check(len(rvs) == 1, "all pages report the first page's resourceVersion")
    # Later pages are served from the first page's snapshot, as etcd does.
    st, _, first = s.request("GET", "/api/v1/namespaces/paging/configmaps?limit=10")
    s.request("DELETE", "/api/v1/namespaces/paging/configmaps/cm-20")
    s.request("POST", "/api/v1/namespaces/paging/configmaps", {"metadata": {"name": "cm-99"}})
    s.request("PATCH", "/api/v1/namespaces/paging/configmaps/cm-15", {"data": {"x": "y"}}, "application/merge-patch+json")
    items, token = list(first["items"]), first["metadata"]["continue"]
    while token:
        st, _, page = s.request("GET", "/api/v1/namespaces/paging/configmaps?limit=10&continue=" + token)
        items += page["items"]
        token = page["metadata"].get("continue", "")
    names2 = [i["metadata"]["name"] for i in items]
    cm15 = [i for i in items if i["metadata"]["name"] == "cm-15"][0]
    check(names2 == names and "data" not in cm15 and int(cm15["metadata"]["resourceVersion"]) <= int(first["metadata"]["resourceVersion"]),
          "continue pages are a consistent snapshot of the first page's resourceVersion")
    st, _, l = s.request("DELETE", "/api/v1/namespaces/paging/configmaps/cm-99")
    s.request("POST", "/api/v1/namespaces/paging/configmaps", {"metadata": {"name": "cm-20", "labels": {"tier": "even"}}})
    def count(q):
        st, _, l = s.request("GET", "/api/v1/namespaces/paging/configmaps?" + q)
        if st != 200:
            fail("selector %s -> %s %s" % (q, st, l))
        return len(l["items"])
    check(count("labelSelector=tier%3Deven") == 13, "labelSelector tier=even")
    check(count("labelSelector=tier!%3Deven") == 12, "labelSelector tier!=even")
    check(count("labelSelector=tier") == 25, "labelSelector exists")
    check(count("labelSelector=!tier") == 0, "labelSelector !exists")
    check(count("labelSelector=tier+in+(odd,none)") == 12, "labelSelector in (...)")
    check(count("fieldSelector=metadata.name%3Dcm-03") == 1, "fieldSelector metadata.name")
    check(count("fieldSelector=metadata.namespace!%3Dpaging") == 0, "fieldSelector metadata.namespace!=")
    st, _, l = s.request("GET", "/api/v1/configmaps?fieldSelector=metadata.namespace%3Dpaging&limit=500")
    check(st == 200 and len(l["items"]) == 25, "list across all namespaces with a field selector")
    st, _, err = s.request("GET", "/api/v1/configmaps?labelSelector=a%20in%20(b")
    check(st == 400 and err["reason"] == "BadRequest", "malformed label selector -> 400")


def watches(s):
    st, _, l = s.request("GET", TR)
    rv0 = l["metadata"]["resourceVersion"]
    s.request("POST", TR, taskrun("w-1", {"app": "w"}))
    s.request("PATCH", TR + "/w-1", {"metadata": {"annotations": {"k": "v"}}}, "application/merge-patch+json")
    s.request("POST", TR, taskrun("w-2", {"app": "other"}))
    s.request("DELETE", TR + "/w-1")
    w = Watch(s, TR + "?watch=true&resourceVersion=%s&timeoutSeconds=1" % rv0)
    ev = w.all()
    check(w.status == 200 and w.chunked, "watch answers 200 chunked")
    check([e["type"] for e in ev] == ["ADDED", "MODIFIED", "ADDED", "DELETED"], "resume from resourceVersion replays history in order: %s" % [e["type"] for e in ev])
    check(all(int(e["object"]["metadata"]["resourceVersion"]) > int(rv0) for e in ev), "replayed events are newer than the resume point")
    check(w.clean_end, "timeoutSeconds ends the stream with the terminating chunk")
    w.close()

    w = Watch(s, TR + "?watch=1&resourceVersion=%s&labelSelector=app%%3Dw&timeoutSeconds=1" % rv0)
    ev = w.all()
    check([e["type"] for e in ev] == ["ADDED", "MODIFIED", "DELETED"], "label-selected watch sees only matching objects")
    w.close()

    w = Watch(s, TR + "?watch=true&timeoutSeconds=1")
    ev = w.all()
    st, _, cur = s.request("GET", TR)
    check(all(e["type"] == "ADDED" for e in ev) and sorted(e["object"]["metadata"]["name"] for e in ev)
          == sorted(i["metadata"]["name"] for i in cur["items"]) and "w-2" in [e["object"]["metadata"]["name"] for e in ev],
          "resourceVersion unset -> synthetic ADDED for current objects")
    w.close()

    # live: events arrive promptly, and bookmarks every --bookmark-interval (200ms here)
    st, _, l = s.request("GET", TR)
    w = Watch(s, TR + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=" + l["metadata"]["resourceVersion"])
    t0 = time.monotonic()
    s.request("PATCH", TR + "/w-2", {"metadata": {"labels": {"app": "w"}}}, "application/merge-patch+json")
    first = w.next()
    check(first["type"] == "MODIFIED" and time.monotonic() - t0 < 2.0, "live MODIFIED event arrives promptly")
    bm = w.next()
    check(bm["type"] == "BOOKMARK" and set(bm["object"].keys()) == {"kind", "apiVersion", "metadata"}
          and bm["object"]["kind"] == "TaskRun" and int(bm["object"]["metadata"]["resourceVersion"]) >= int(first["object"]["metadata"]["resourceVersion"]),
          "BOOKMARK carries kind/apiVersion/metadata.resourceVersion only")
    rest = w.all()
    check(all(e["type"] == "BOOKMARK" for e in rest) and len(rest) >= 5 and w.clean_end,
          "periodic bookmarks until timeoutSeconds (%d more)" % len(rest))
    w.close()

    # selector transitions: an object that stops matching is DELETED for that watcher
    st, _, l = s.request("GET", TR)
    w = Watch(s, TR + "?watch=true&labelSelector=app%3Dw&timeoutSeconds=1&resourceVersion=" + l["metadata"]["resourceVersion"])
    s.request("PATCH", TR + "/w-2", {"metadata": {"labels": {"app": "gone"}}}, "application/merge-patch+json")
    ev = w.all()
    check([e["type"] for e in ev] == ["DELETED"], "object leaving the selector -> DELETED")
    w.close()

    # 410 Gone after compaction
    s.faults({"compact_history": True})
    w = Watch(s, TR + "?watch=true&resourceVersion=" + rv0)
    ev = w.all()
    check(w.status == 200 and len(ev) == 1 and ev[0]["type"] == "ERROR" and ev[0]["object"]["code"] == 410
          and ev[0]["object"]["reason"] == "Expired" and "too old resource version" in ev[0]["object"]["message"],
          "watch from a compacted resourceVersion -> one ERROR event, 410 Expired")
    w.close()
    st, _, err = s.request("GET", TR + "?watch=true&resourceVersion=abc")
    check(st == 400, "non-numeric resourceVersion -> 400")

    # drop_watch_after_events
    for i in range(5):
        s.request("POST", "/apis/tekton.dev/v1/namespaces/drops/taskruns", taskrun("d-%d" % i))
    s.faults({"drop_watch_after_events": 2})
    w = Watch(s, "/apis/tekton.dev/v1/namespaces/drops/taskruns?watch=true&resourceVersion=0&timeoutSeconds=5")
    ev = w.all()
    check(len(ev) == 2 and w.clean_end is False, "drop_watch_after_events=2 cuts the stream after 2 events (no final chunk)")
    w.close()
    s.faults({"drop_watch_after_events": 0})


def faults_and_stats(s):
    st, _, _ = s.request("POST", "/testserver/reset-stats")
    s.request("GET", TR)
    s.request("GET", CM + "/chains-config")
    s.request("PATCH", CM + "/chains-config", {"data": {"s": "1"}}, "application/merge-patch+json")
    st, _, stats = s.request("GET", "/testserver/stats")
    check(stats["verbs"]["list"] == 1 and stats["verbs"]["get"] == 1 and stats["verbs"]["patch"] == 1 and stats["total"] == 3,
          "stats count requests per verb: %s" % stats["verbs"])
    check(stats["resources"]["taskruns.tekton.dev"]["list"] == 1 and stats["resources"]["configmaps"]["patch"] == 1,
          "stats count requests per resource")
    s.faults({"fail_nth_request": {"n": 2, "status": 500}})
    a = s.request("GET", TR)[0]
    b = s.request("GET", TR)[0]
    c = s.request("GET", TR)[0]
    check((a, b, c) == (200, 500, 200), "fail_nth_request n=2 fails exactly the 2nd request: %s" % [a, b, c])
    s.faults({"fail_fraction": {"fraction": 1.0, "status": 429}})
    st, hdrs, body = s.request("GET", TR)
    check(st == 429 and hdrs.get("Retry-After") == "1" and body["reason"] == "TooManyRequests", "fail_fraction 429 with Retry-After and a Status")
    s.faults({"fail_fraction": {"fraction": 0}, "latency_ms": 150})
    t0 = time.monotonic()
    s.request("GET", TR)
    check(time.monotonic() - t0 >= 0.14, "latency_ms delays requests")
    st, _, cur = s.request("GET", "/testserver/faults")
    check(cur["latency_ms"] == 150, "GET /testserver/faults shows current settings")
    s.request("DELETE", "/testserver/faults")
    st, _, stats = s.request("GET", "/testserver/stats")
    check(stats["faults_injected"] == 2, "stats count injected faults")


def tokens(s):
    import urllib.request
    st, _, tr = s.request("POST", "/api/v1/namespaces/tekton-chains/serviceaccounts/default/token",
                          {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                           "spec": {"audiences": ["sigstore"], "expirationSeconds": 1200}})
    check(st == 201 and tr["kind"] == "TokenRequest" and tr["status"]["token"].count(".") == 2, "TokenRequest returns a JWT")
    token = tr["status"]["token"]
    def b64(x):
        return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    header, claims, sig = token.split(".")
    hdr, cl = json.loads(b64(header)), json.loads(b64(claims))
    check(cl["iss"] == "https://kubernetes.default.svc" and cl["sub"] == "system:serviceaccount:tekton-chains:default"
          and cl["aud"] == ["sigstore"] and abs(cl["exp"] - time.time() - 1200) < 30, "token claims iss/sub/aud/exp")
    st, _, disco = s.request("GET", "/.well-known/openid-configuration", auth=False)
    check(st == 200 and disco["issuer"] == cl["iss"], "openid-configuration names the issuer")
    st, _, jwks = s.request("GET", "/openid/v1/jwks", auth=False)
    key = [k for k in jwks["keys"] if k["kid"] == hdr["kid"]]
    check(len(key) == 1 and key[0]["kty"] == "EC", "JWKS holds the signing key")
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    except ImportError:
        print("note: python3 cryptography missing; signature not verified", flush=True)
        return
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64(key[0]["x"]), "big"), int.from_bytes(b64(key[0]["y"]), "big"),
                                        ec.SECP256R1()).public_key()
    raw = b64(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    pub.verify(der, (header + "." + claims).encode(), ec.ECDSA(hashes.SHA256()))
    check(True, "JWT signature verifies against /openid/v1/jwks (ES256)")
    st, _, err = s.request("POST", "/api/v1/namespaces/tekton-chains/serviceaccounts/nobody/token", {"spec": {}})
    check(st == 404, "TokenRequest for a missing service account -> 404")


def auth_and_tls(exe):
    with Server(exe, "--tls-self-signed", "--token", "s3cret") as s:
        check(s.tls and s.ca_file and s.token == "s3cret", "kubeconfig carries https server, CA data and token")
        st, _, err = s.request("GET", TR, auth=False)
        check(st == 401 and err["reason"] == "Unauthorized", "missing bearer token -> 401 Status")
        st, _, err = s.request("GET", TR, headers={"Authorization": "Bearer wrong"})
        check(st == 401, "wrong bearer token -> 401")
        st, _, l = s.request("GET", TR)
        check(st == 200 and l["kind"] == "TaskRunList", "HTTPS + token works with the kubeconfig CA")
        w = Watch(s, TR + "?watch=true&timeoutSeconds=1")
        s.request("POST", TR, taskrun("tls-1"))
        ev = w.all()
        check([e["type"] for e in ev] == ["ADDED"] and w.clean_end, "watch over TLS")
        w.close()
    import os
    import shutil
    import subprocess
    import tempfile
    openssl = shutil.which("openssl")
    if openssl:
        d = TMP.name
        crt, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=kube-testserver",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
        with Server(exe, "--tls-cert", crt, "--tls-key", key, "--tls-ca", crt) as s:
            st, _, v = s.request("GET", "/version")
            with open(crt, "rb") as f, open(s.ca_file, "rb") as g:
                same = f.read() == g.read()
            check(s.tls and st == 200 and same, "--tls-cert/--tls-key/--tls-ca serve HTTPS; the CA lands in the kubeconfig")
    else:
        print("note: openssl CLI missing; --tls-cert not exercised", flush=True)
    seed = os.path.join(TMP.name, "seed")
    os.mkdir(seed)
    with open(os.path.join(seed, "runs.yaml"), "w") as f:
        f.write("apiVersion: v1\nkind: List\nitems:\n"
                "- apiVersion: tekton.dev/v1\n  kind: TaskRun\n  metadata: {name: done-1, namespace: ci}\n"
                "  status: {conditions: [{type: Succeeded, status: 'True'}]}\n"
                "- apiVersion: tekton.dev/v1\n  kind: PipelineRun\n  metadata: {name: p-1, namespace: ci}\n")
    with open(os.path.join(seed, "cm.json"), "w") as f:
        f.write('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"chains-config","namespace":"tekton-chains"},"data":{"a":"1"}}\n'
                '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other","namespace":"tekton-chains"}}\n')
    with Server(exe, "--load", seed) as s:
        st, _, o = s.request("GET", "/apis/tekton.dev/v1/namespaces/ci/taskruns/done-1")
        check(st == 200 and o["status"]["conditions"][0]["status"] == "True" and o["metadata"]["uid"],
              "--load of a folder: YAML List keeps .status and gets a uid")
        st, _, l = s.request("GET", "/api/v1/namespaces/tekton-chains/configmaps")
        check(st == 200 and len(l["items"]) == 2, "--load of JSON lines")
        st, _, l = s.request("GET", "/apis/tekton.dev/v1/pipelineruns")
        check(len(l["items"]) == 1, "--load PipelineRun")
        w = Watch(s, TR.replace("default", "ci") + "?watch=true&timeoutSeconds=2&resourceVersion=" + l["metadata"]["resourceVersion"])
        st, _, r = s.request("POST", "/testserver/load", "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: done-2, namespace: ci}\n"
                             "status: {podName: p}\n", content_type="application/yaml")
        ev = w.next()
        check(st == 200 and r["loaded"] == 1 and ev["type"] == "ADDED" and ev["object"]["status"]["podName"] == "p",
              "POST /testserver/load adds objects with events, status kept")
        w.close()
    with Server(exe, "--history", "3") as s:
        st, _, l = s.request("GET", TR)
        rv = l["metadata"]["resourceVersion"]
        for i in range(5):
            s.request("POST", TR, taskrun("h-%d" % i))
        w = Watch(s, TR + "?watch=true&resourceVersion=" + rv)
        ev = w.all()
        check(len(ev) == 1 and ev[0]["object"]["code"] == 410, "resourceVersion older than --history 3 -> 410")
        w.close()


def annotation_latency(exe):
    """--latency-annotation: the time from an object's arrival to the write that sets the annotation."""
    with Server(exe, "--latency-annotation", "chains.tekton.dev/signed=true") as s:
        items = [taskrun("lat-a"), taskrun("lat-b")]
        for o in items:
            o["metadata"]["namespace"] = "default"
        st, _, r = s.request("POST", "/testserver/load", {"kind": "TaskRunList", "items": items})
        check(st == 200 and r["loaded"] == 2, "two runs loaded: %s %s" % (st, r))
        s.request("POST", TR, taskrun("lat-c"))
        st, _, stats = s.request("GET", "/testserver/stats")
        lat = stats["annotation_latency_ms"]
        check(lat["count"] == 0 and lat["waiting"] == 3, "three objects wait for the annotation: %s" % lat)
        time.sleep(0.05)
        merge = "application/merge-patch+json"
        s.request("PATCH", TR + "/lat-a", {"metadata": {"annotations": {"chains.tekton.dev/signed": "false"}}}, merge)
        st, _, stats = s.request("GET", "/testserver/stats")
        check(stats["annotation_latency_ms"]["count"] == 0, "another value is not the awaited one")
        s.request("PATCH", TR + "/lat-a", {"metadata": {"annotations": {"chains.tekton.dev/signed": "true"}}}, merge)
        s.request("PATCH", TR + "/lat-a", {"metadata": {"annotations": {"x": "y"}}}, merge)  # counted once
        s.request("PATCH", TR + "/lat-c", {"metadata": {"annotations": {"chains.tekton.dev/signed": "true"}}}, merge)
        st, _, stats = s.request("GET", "/testserver/stats")
        lat = stats["annotation_latency_ms"]
        check(lat["count"] == 2 and lat["waiting"] == 1, "two objects reached the annotation once each: %s" % lat)
        check(50 <= lat["max"] < 30000 and lat["p50"] <= lat["p99"] <= lat["max"],
              "latencies measured from arrival (>= the 50 ms slept): %s" % lat)
    with Server(exe) as s:
        st, _, stats = s.request("GET", "/testserver/stats")
        check(stats["annotation_latency_ms"] is None, "without the flag no latency is tracked")


def main():
    annotation_latency(EXE)
    with Server(EXE, "--bookmark-interval", "200ms") as s:
        crud_and_concurrency(s)
        patches(s)
        pagination_and_selectors(s)
        watches(s)
        faults_and_stats(s)
        tokens(s)
        api_validation.run(s)
    auth_and_tls(EXE)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()

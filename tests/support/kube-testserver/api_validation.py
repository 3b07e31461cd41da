"""What kube-apiserver 1.32 refuses, over raw HTTP (run by api_semantics_test.py): metadata
validation (names, generateName, namespaces, labels, annotations and their 262144-byte total) on
every kind of write, the 3 MiB request body limit, etcd's 1.5 MiB request limit, resourceVersion
rules, and protobuf bodies.
The expected texts are apimachinery's (validation.go, objectmeta.go, field/errors.go,
apierrors.NewInvalid, NewRequestEntityTooLargeError, storage.ErrResourceVersionSetOnCreate)."""
import json

from ktsutil import check

TR = "/apis/tekton.dev/v1/namespaces/default/taskruns"
CM = "/api/v1/namespaces/default/configmaps"
TOO_LONG = "Too long: must have at most 262144 bytes"
SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
             "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
         "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
QNAME = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
         "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
         "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
               "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
               "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def taskrun(name, annotations=None):
    return {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": {"taskRef": {"name": "build"}}}


def invalid(st, err, kind, name, causes, group=None, message=None):
    """A 422 Invalid as apierrors.NewInvalid builds it; causes: [(reason, field, message)]."""
    want = {"name": name, "kind": kind, "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes]}
    if group:
        want["group"] = group
    agg = ["%s: %s" % (f, m) for _, f, m in causes]
    qualified = kind + ("." + group if group else "")
    text = message or '%s "%s" is invalid: %s' % (qualified, name, agg[0] if len(agg) == 1 else "[" + ", ".join(agg) + "]")
    return (st == 422 and err.get("reason") == "Invalid" and err.get("code") == 422 and err.get("details") == want
            and err.get("message") == text)


def annotation_limit(s):
    exact = {"a": "x" * (262144 - 1)}
    st, _, o = s.request("POST", TR, taskrun("ann-exact", exact))
    check(st == 201, "annotations of exactly 262144 bytes (keys + values) are accepted")
    over = {"a": "x" * 262144}
    big = [("FieldValueTooLong", "metadata.annotations", TOO_LONG)]
    st, _, err = s.request("POST", TR, taskrun("ann-over", over))
    check(invalid(st, err, "TaskRun", "ann-over", big, "tekton.dev"),
          "create with 262145 annotation bytes -> 422 '%s' and its cause: %s" % (TOO_LONG, err.get("message", "")[:200]))
    rv = o["metadata"]["resourceVersion"]
    upd = json.loads(json.dumps(o))
    upd["metadata"]["annotations"]["b"] = "y"
    st, _, err = s.request("PUT", TR + "/ann-exact", upd)
    check(invalid(st, err, "TaskRun", "ann-exact", big, "tekton.dev"), "update over the limit -> 422")
    one_more = {"metadata": {"annotations": {"b": "y"}}}
    st, _, err = s.request("PATCH", TR + "/ann-exact", one_more, "application/merge-patch+json")
    check(invalid(st, err, "TaskRun", "ann-exact", big, "tekton.dev"), "merge patch over the limit -> 422")
    st, _, err = s.request("PATCH", TR + "/ann-exact", [{"op": "add", "path": "/metadata/annotations/b", "value": "y"}],
                           "application/json-patch+json")
    check(invalid(st, err, "TaskRun", "ann-exact", big, "tekton.dev"), "json patch over the limit -> 422")
    apply = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": "ann-exact", "annotations": {"b": "y"}}}
    st, _, err = s.request("PATCH", TR + "/ann-exact?fieldManager=t", apply, "application/apply-patch+yaml")
    check(invalid(st, err, "TaskRun", "ann-exact", big, "tekton.dev"), "server-side apply over the limit -> 422")
    apply["metadata"]["name"] = "ann-new"
    apply["metadata"]["annotations"] = over
    st, _, err = s.request("PATCH", TR + "/ann-new?fieldManager=t", apply, "application/apply-patch+yaml")
    check(invalid(st, err, "TaskRun", "ann-new", big, "tekton.dev"), "server-side apply creating an object over the limit -> 422")
    st, _, cur = s.request("GET", TR + "/ann-exact")
    check(st == 200 and cur["metadata"]["resourceVersion"] == rv and "b" not in cur["metadata"]["annotations"],
          "refused writes left the object as it was")
    st, _, _ = s.request("POST", CM, {"metadata": {"name": "ann-cm", "annotations": exact}})
    st, _, err = s.request("PATCH", CM + "/ann-cm", one_more, "application/strategic-merge-patch+json")
    check(invalid(st, err, "ConfigMap", "ann-cm", big), "strategic merge patch of a ConfigMap over the limit -> 422 (no group)")
    st, _, err = s.request("POST", CM, {"metadata": {"name": "ann-key", "annotations": {"a/b/c": "v"}}})
    check(st == 422 and err["details"]["causes"][0]["field"] == "metadata.annotations"
          and "a qualified name must consist of" in err["message"], "annotation keys must be qualified names")
    s.request("DELETE", TR + "/ann-exact")


def body_limit(s):
    body = json.dumps({"metadata": {"name": "huge"}, "data": {"a": "x" * (3 * 1024 * 1024)}})
    want = "Request entity too large: limit is 3145728"
    st, _, err = s.request("POST", CM, body)
    check(st == 413 and err["reason"] == "RequestEntityTooLarge" and err["message"] == want and err["code"] == 413,
          "a 3 MiB + 1 body -> 413 RequestEntityTooLarge '%s'" % want)
    s.request("POST", CM, {"metadata": {"name": "small"}})
    st, _, err = s.request("PATCH", CM + "/small", body, "application/merge-patch+json")
    check(st == 413 and err["message"] == want, "an over-large patch body -> 413")
    # Below the body limit but beyond etcd's 1.5 MiB request limit: etcd's error as a 500.
    st, _, _ = s.request("POST", CM, {"metadata": {"name": "mid"}, "data": {"a": "x" * (1400 * 1024)}})
    check(st == 201, "a 1.4 MiB ConfigMap is stored")
    st, _, err = s.request("POST", CM, {"metadata": {"name": "mid-over"}, "data": {"a": "x" * (1600 * 1024)}})
    check(st == 500 and err["message"] == "etcdserver: request is too large" and "reason" not in err,
          "a 1.6 MiB ConfigMap -> 500 'etcdserver: request is too large' (kube passes etcd's error on)")
    st, _, err = s.request("PATCH", CM + "/mid", {"data": {"b": "y" * (200 * 1024)}}, "application/merge-patch+json")
    st2, _, cur = s.request("GET", CM + "/mid")
    check(st == 500 and err["message"] == "etcdserver: request is too large" and "b" not in cur["data"],
          "a patch growing an object beyond 1.5 MiB -> 500, the object unchanged")
    s.request("DELETE", CM + "/mid")


def names_and_labels(s):
    st, _, err = s.request("POST", CM, {"metadata": {"name": "Bad_Name"}})
    check(invalid(st, err, "ConfigMap", "Bad_Name", [("FieldValueInvalid", "metadata.name", 'Invalid value: "Bad_Name": ' + SUBDOMAIN)]),
          "an invalid name -> 422 with kube's DNS-1123 subdomain text")
    st, _, _ = s.request("POST", CM, {"metadata": {"name": "a" * 253}})
    check(st == 201, "a 253-character name is accepted")
    st, _, err = s.request("POST", CM, {"metadata": {"name": "a" * 254}})
    check(invalid(st, err, "ConfigMap", "a" * 254,
                  [("FieldValueInvalid", "metadata.name", 'Invalid value: "%s": must be no more than 253 characters' % ("a" * 254))]),
          "a 254-character name -> 422 'must be no more than 253 characters'")
    st, _, o = s.request("POST", CM, {"metadata": {"generateName": "g" * 80 + "-"}})
    check(st == 201 and len(o["metadata"]["name"]) == 63 and o["metadata"]["name"].startswith("g" * 58),
          "generateName: the prefix is cut to 58 characters, plus 5 random ones")
    st, _, o = s.request("POST", CM, {"metadata": {"generateName": "ok-"}})
    check(st == 201 and o["metadata"]["name"].startswith("ok-"), "generateName may end with '-'")
    st, _, err = s.request("POST", CM, {"metadata": {"generateName": "Bad_"}})
    causes = err.get("details", {}).get("causes", [])
    check(st == 422 and [c["field"] for c in causes] == ["metadata.generateName", "metadata.name"]
          and causes[0]["message"] == 'Invalid value: "Bad_": ' + SUBDOMAIN and err["message"].startswith('ConfigMap "Bad_')
          and ' is invalid: [metadata.generateName: Invalid value: "Bad_": ' in err["message"],
          "an invalid generateName -> 422 for generateName and the generated name")
    st, _, err = s.request("POST", "/api/v1/namespaces", {"metadata": {"name": "a.b"}})
    check(invalid(st, err, "Namespace", "a.b", [("FieldValueInvalid", "metadata.name", 'Invalid value: "a.b": ' + LABEL)]),
          "namespace names are DNS-1123 labels (no dots)")
    st, _, err = s.request("POST", CM, {"metadata": {}})
    check(invalid(st, err, "ConfigMap", "", [("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")]),
          "no name and no generateName -> 422 Required value")

    ok = {"example.com/my_Name": "v.1_A", "plain": "", "a.b-c": "x" * 63}
    st, _, o = s.request("POST", CM, {"metadata": {"name": "labels-ok", "labels": ok}})
    check(st == 201 and o["metadata"]["labels"] == ok, "valid label keys (prefix/name) and values (empty, 63 chars)")
    cases = [
        ({"bad key": "v"}, 'Invalid value: "bad key": ' + QNAME),
        ({"k": "v" * 64}, 'Invalid value: "%s": must be no more than 63 characters' % ("v" * 64)),
        ({"k": "-v"}, 'Invalid value: "-v": ' + LABEL_VALUE),
        ({"Example.com/x": "v"}, 'Invalid value: "Example.com/x": prefix part ' + SUBDOMAIN),
        ({"/x": "v"}, 'Invalid value: "/x": prefix part must be non-empty'),
        ({"k" * 64: "v"}, 'Invalid value: "%s": name part must be no more than 63 characters' % ("k" * 64)),
    ]
    for labels, msg in cases:
        st, _, err = s.request("POST", CM, {"metadata": {"name": "labels-bad", "labels": labels}})
        check(invalid(st, err, "ConfigMap", "labels-bad", [("FieldValueInvalid", "metadata.labels", msg)]),
              "label %s -> 422 %s" % (json.dumps(labels)[:60], msg[:90]))
    st, _, err = s.request("PATCH", CM + "/labels-ok", {"metadata": {"labels": {"bad key": "v"}}}, "application/merge-patch+json")
    check(st == 422 and err["details"]["causes"][0]["field"] == "metadata.labels", "labels are checked on patches too")


def resource_versions(s):
    st, _, err = s.request("POST", CM, {"metadata": {"name": "with-rv", "resourceVersion": "5"}})
    check(st == 500 and err["message"] == "resourceVersion should not be set on objects to be created"
          and "reason" not in err and err["status"] == "Failure",
          "create with metadata.resourceVersion -> 500 'resourceVersion should not be set on objects to be created'")
    st, _, o = s.request("POST", TR, taskrun("rv-run"))
    stale = json.loads(json.dumps(o))
    o["spec"]["taskRef"]["name"] = "other"
    st, _, o2 = s.request("PUT", TR + "/rv-run", o)
    st, _, err = s.request("PUT", TR + "/rv-run", stale)
    want = ('Operation cannot be fulfilled on taskruns.tekton.dev "rv-run": the object has been modified; please apply '
            'your changes to the latest version and try again')
    check(st == 409 and err["reason"] == "Conflict" and err["message"] == want
          and err["details"] == {"name": "rv-run", "group": "tekton.dev", "kind": "taskruns"},
          "update with a stale resourceVersion -> 409 'the object has been modified'")
    del o2["metadata"]["resourceVersion"]
    st, _, err = s.request("PUT", TR + "/rv-run", o2)
    check(invalid(st, err, "TaskRun", "rv-run", [("FieldValueInvalid", "metadata.resourceVersion",
                                                 "Invalid value: 0x0: must be specified for an update")], "tekton.dev"),
          "CRD update without resourceVersion -> 422 'must be specified for an update'")


def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb(field, value):
    if isinstance(value, int):
        return pb_varint(field << 3) + pb_varint(value)
    if isinstance(value, str):
        value = value.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(value)) + value


def envelope(api_version, kind, raw):
    return b"k8s\x00" + pb(1, pb(1, api_version) + pb(2, kind)) + pb(2, raw) + pb(3, "") + pb(4, "")


def protobuf(s):
    ctype = "application/vnd.kubernetes.protobuf"
    meta = (pb(1, "pb-cm") + pb(2, "") + pb(3, "") + pb(7, 0) + pb(8, b"") + pb(11, pb(1, "app") + pb(2, "demo"))
            + pb(12, pb(1, "note") + pb(2, "hello")) + pb(14, "example.com/keep"))
    raw = pb(1, meta) + pb(2, pb(1, "k") + pb(2, "v")) + pb(3, pb(1, "bin") + pb(2, b"\x00\xff")) + pb(4, 1)
    st, hdrs, o = s.request("POST", CM, envelope("v1", "ConfigMap", raw), ctype)
    md = o.get("metadata", {}) if isinstance(o, dict) else {}
    check(st == 201 and md.get("labels") == {"app": "demo"} and md.get("annotations") == {"note": "hello"}
          and md.get("finalizers") == ["example.com/keep"] and o["data"] == {"k": "v"} and o["binaryData"] == {"bin": "AP8="}
          and o["immutable"] is True and "generateName" not in md and "generation" not in md,
          "a protobuf ConfigMap (labels, annotations, finalizers, data, binaryData, immutable) is stored as JSON")
    st, _, err = s.request("POST", "/api/v1/namespaces/default/pods", envelope("v1", "Pod", pb(1, pb(1, "pb-pod"))), ctype)
    check(st == 415 and err["reason"] == "UnsupportedMediaType" and "v1 Pod" in err["message"],
          "a protobuf kind the server cannot decode -> 415 naming it: " + err.get("message", "")[-80:])
    st, _, err = s.request("POST", CM, b"not protobuf", ctype)
    check(st == 400 and "k8s" in err["message"], "a protobuf body without the k8s envelope -> 400")
    st, _, err = s.request("POST", CM, envelope("v1", "ConfigMap", pb(1, pb(1, "Bad_Name"))), ctype)
    check(st == 422 and err["details"]["causes"][0]["field"] == "metadata.name", "protobuf objects are validated like JSON ones")


def run(s):
    annotation_limit(s)
    body_limit(s)
    names_and_labels(s)
    resource_versions(s)
    protobuf(s)

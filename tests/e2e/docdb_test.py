"""The docdb storage backend end to end: the real chainsd (plugins x509, tekton, docdb) against
kube-testserver and tests/support/mongo-stub (MongoDB wire protocol). A TaskRun that built an image
is signed with artifacts.{taskrun,oci}.storage=docdb; the official `mongodb` npm driver reads the
documents back (read_docs.mjs, canonical Extended JSON so the BSON types show): upstream's field
names and types, the signature verifying with openssl against the signing key. The connection
string in a file (storage.docdb.mongo-server-url-path) rewritten while chainsd runs → the next run
lands on the new server. The stand-in away → retried, then failed naming the backend and the
server; a firestore:// collection → failed at once naming storage.docdb.url."""
import base64
import json
import os
import subprocess
import time

from e2elib import (Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, dsse_parts, fail,
                    run_tests, taskrun, verify_openssl, wait_signed, SOURCE_ROOT, TESTSERVER)
import ktsutil
from backend_e2e import dead_address, failed_reason

MONGO_STUB = os.path.join(SOURCE_ROOT, "tests", "support", "mongo-stub", "mongo_stub.py")
READ_DOCS = os.path.join(SOURCE_ROOT, "tests", "support", "mongo-stub", "read_docs.mjs")
COLLECTION = "mongo://chains/signatures?id_field=name"
FIELDS = {"_id", "Signed", "Signature", "Cert", "Chain", "Object", "Name", "DocstoreRevision"}
os.environ.pop("MONGO_SERVER_URL", None)  # chainsd inherits the environment: only chains-config decides


def read_back(port):
    r = subprocess.run(["node", READ_DOCS, "mongodb://127.0.0.1:%s/" % port, "chains", "signatures"],
                       capture_output=True, text=True, timeout=60, cwd=os.path.join(SOURCE_ROOT, "tests"))
    if r.returncode != 0:
        fail("read_docs.mjs failed: " + r.stderr[-2000:])
    return {d["_id"]: d for d in json.loads(r.stdout.strip().splitlines()[-1])}


def relaxed(v, not_double):
    """Canonical Extended JSON → plain values; integers (not Go's float64) are added to `not_double`."""
    if isinstance(v, dict):
        if set(v) == {"$numberDouble"}:
            return float(v["$numberDouble"])
        if set(v) & {"$numberInt", "$numberLong"}:
            not_double.append(v)
        return {k: relaxed(x, not_double) for k, x in v.items()}
    if isinstance(v, list):
        return [relaxed(x, not_double) for x in v]
    return v


def signed_bytes(doc):
    b = doc["Signed"]["$binary"]
    check(b["subType"] == "00", "Signed is BSON binary, generic subtype (Go []byte)")
    return base64.b64decode(b["base64"])


def environment(config):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict({"storage.docdb.url": COLLECTION}, **config))
    return server, Workdir()


def test_taskrun_and_image_upserted_read_back_by_the_mongodb_driver():
    if not os.path.isdir(os.path.join(SOURCE_ROOT, "tests", "node_modules", "mongodb")):
        fail("the mongodb npm driver is not installed in tests/node_modules")
    with StubProcess(MONGO_STUB) as stub:
        server, work = environment({"artifacts.taskrun.storage": "docdb", "artifacts.oci.storage": "docdb",
                                    "storage.docdb.mongo-server-url": "mongodb://127.0.0.1:%s" % stub.port})
        with server, Chainsd(server, work) as c:
            create(server, taskrun("build-1", image_digest="b" * 64))
            tr = wait_signed(server, "taskruns", "default", "build-1")
            uid = tr["metadata"]["uid"]
            check(c.metric("watcher_taskrun_marked_signed_total") == 1, "the run is marked signed")
        docs = read_back(stub.port)
        key, img = "taskrun-" + uid, "b" * 12
        check(set(docs) == {key, img}, "one document per artifact, _id = upstream's short key (%s)" % sorted(docs))
        d = docs[key]
        check(set(d) == FIELDS, "upstream's docstore fields, Go's casing (%s)" % sorted(d))
        check(d["Name"] == key, "Name is the key too")
        check(len(d["DocstoreRevision"]) == 36, "docstore's revision: a UUID string")
        payload = signed_bytes(d)
        env, env_payload, pae = dsse_parts(d["Signature"])
        check(env_payload == payload, "Signature is base64 of the DSSE envelope over Signed")
        not_double = []
        check(relaxed(d["Object"], not_double) == json.loads(payload), "Object is the payload parsed")
        check(not not_double, "its numbers are doubles, as Go's interface{} holds them (%s)" % not_double)
        check(verify_openssl(work, base64.b64decode(env["signatures"][0]["sig"]), pae),
              "openssl verifies the envelope against the signing key")
        check(d["Cert"] == "" and d["Chain"] == "", "no certificate: Cert and Chain empty")
        i = docs[img]
        ipayload = signed_bytes(i)
        check(json.loads(ipayload)["critical"]["image"]["docker-manifest-digest"] == "sha256:" + "b" * 64,
              "the image's simplesigning payload")
        check(verify_openssl(work, base64.b64decode(i["Signature"]), ipayload), "openssl verifies the image signature")
        tampered = bytearray(ipayload)
        tampered[10] ^= 1
        check(not verify_openssl(work, base64.b64decode(i["Signature"]), bytes(tampered)), "a changed byte fails")
        check(not any(k.startswith("chains.tekton.dev/signature-") for k in annotations(tr)),
              "nothing stored on the run (tekton is not configured)")
        work.remove()


def test_url_file_rewritten_live_moves_the_next_run():
    with StubProcess(MONGO_STUB) as a, StubProcess(MONGO_STUB) as b:
        server, work = environment({"artifacts.taskrun.storage": "docdb", "artifacts.oci.storage": "tekton"})
        path = os.path.join(work.path, "mongo-url")

        def write(port):
            with open(path + ".tmp", "w") as f:
                f.write("mongodb://127.0.0.1:%s/\n" % port)
            os.rename(path + ".tmp", path)  # as a Secret volume swaps its ..data link
        write(a.port)
        chains_config(server, {"storage.docdb.mongo-server-url-path": path,
                               "storage.docdb.mongo-server-url": "mongodb://%s" % dead_address()})
        with server, Chainsd(server, work) as c:
            create(server, taskrun("first"))
            first = wait_signed(server, "taskruns", "default", "first")
            write(b.port)
            time.sleep(1.2)
            create(server, taskrun("second"))
            second = wait_signed(server, "taskruns", "default", "second")
            check(c.lines("docdb: the MongoDB connection string changed, reconnecting"), "the change is logged")
        in_a, in_b = read_back(a.port), read_back(b.port)
        check(set(in_a) == {"taskrun-" + first["metadata"]["uid"]}, "the first run in the first server (%s)" % sorted(in_a))
        check(set(in_b) == {"taskrun-" + second["metadata"]["uid"]}, "the second run in the new one (%s)" % sorted(in_b))
        work.remove()


def test_docdb_down_retried_then_failed_naming_backend_and_server():
    stub = StubProcess(MONGO_STUB)
    url = "mongodb://127.0.0.1:%s" % stub.port
    server, work = environment({"artifacts.taskrun.storage": "docdb", "artifacts.oci.storage": "tekton",
                                "storage.docdb.mongo-server-url": url})
    with server, Chainsd(server, work, retry_base_ms=50):
        create(server, taskrun("before"))
        wait_signed(server, "taskruns", "default", "before")
        stub.__exit__(None, None, None)  # the stand-in goes away; chainsd holds a kept-alive connection to it
        create(server, taskrun("during"))
        err = failed_reason(server, "during", True, ["docdb", COLLECTION, url])
        print("reason: " + err, flush=True)
    work.remove()


def test_firestore_collection_fails_at_once_naming_the_key():
    server, work = environment({"artifacts.taskrun.storage": "docdb", "artifacts.oci.storage": "tekton",
                                "storage.docdb.url": "firestore://projects/p/databases/(default)/documents/c?name_field=name"})
    with server, Chainsd(server, work, retry_base_ms=50):
        create(server, taskrun("firestore"))
        err = failed_reason(server, "firestore", False, ["storage.docdb.url", "firestore"], 15)
        print("reason: " + err, flush=True)
    work.remove()


if __name__ == "__main__":
    run_tests(globals())

"""The grafeas stand-in against a REST client written from the Container Analysis API reference
(v1: projects.notes.create with noteId, projects.occurrences.create/list/get; OAuth bearer from the
metadata server; Google's error bodies with "status")."""
import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

STUB = os.environ.get("GRAFEAS_STUB") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafeas_stub.py")


def call(base, method, path, body=None, token=None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def main():
    p = subprocess.Popen(["/usr/bin/python3", STUB, "--port", "0", "--project", "proj"], stdout=subprocess.PIPE, text=True)
    base = "http://127.0.0.1:" + p.stdout.readline().split()[-1]
    failed = 0

    def ok(cond, what):
        nonlocal failed
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        failed += 0 if cond else 1
    try:
        st, tok = call(base, "GET", "/computeMetadata/v1/instance/service-accounts/default/token",
                       headers={"Metadata-Flavor": "Google"})
        ok(st == 200 and tok["token_type"] == "Bearer", "metadata server issues a bearer token")
        t = tok["access_token"]
        note = {"shortDescription": "d", "attestation": {"hint": {"humanReadableName": "h"}}}
        st, n = call(base, "POST", "/v1/projects/proj/notes?noteId=n1", note, t)
        ok(st == 200 and n["name"] == "projects/proj/notes/n1" and n["kind"] == "ATTESTATION", "notes.create")
        st, e = call(base, "POST", "/v1/projects/proj/notes?noteId=n1", note, t)
        ok(st == 409 and e["error"]["status"] == "ALREADY_EXISTS", "a second notes.create: 409 ALREADY_EXISTS")
        occ = {"resourceUri": "reg/app@sha256:" + "a" * 64, "noteName": "projects/proj/notes/n1",
               "attestation": {"serializedPayload": base64.b64encode(b"{}").decode(),
                               "signatures": [{"signature": base64.b64encode(b"sig").decode()}]},
               "envelope": {"payload": "e30=", "payloadType": "t", "signatures": [{"sig": "c2ln", "keyid": "k"}]}}
        st, o = call(base, "POST", "/v1/projects/proj/occurrences", occ, t)
        ok(st == 200 and o["name"].startswith("projects/proj/occurrences/") and o["kind"] == "ATTESTATION",
           "occurrences.create")
        st, got = call(base, "GET", "/" + "v1/" + o["name"], token=t)
        ok(st == 200 and got["resourceUri"] == occ["resourceUri"], "occurrences.get")
        st, lst = call(base, "GET", '/v1/projects/proj/occurrences?filter=' +
                       urllib.request.quote('resourceUrl="%s"' % occ["resourceUri"]), token=t)
        ok(st == 200 and len(lst["occurrences"]) == 1, "occurrences.list with a resourceUrl filter")
        st, e = call(base, "POST", "/v1/projects/proj/occurrences", dict(occ, bogus=1), t)
        ok(st == 400 and "Unknown name \"bogus\"" in e["error"]["message"], "an unknown field is 400 INVALID_ARGUMENT")
        build = {k: v for k, v in occ.items() if k != "attestation"}
        build["build"] = {"intotoStatement": {"_type": "x"}}
        st, e = call(base, "POST", "/v1/projects/proj/occurrences", build, t)
        ok(st == 400 and "does not match note kind" in e["error"]["message"],
           "details of another kind than the note's are refused")
        st, e = call(base, "POST", "/v1/projects/other/notes?noteId=n", note, t)
        ok(st == 404 and e["error"]["status"] == "NOT_FOUND", "an unknown project is 404")
        st, e = call(base, "POST", "/v1/projects/proj/notes?noteId=n2", note)
        ok(st == 401 and e["error"]["status"] == "UNAUTHENTICATED", "no token: 401")
    finally:
        p.terminate()
        p.wait(10)
    print("all passed" if not failed else "%d failed" % failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""grafeas-stub: a Container Analysis (grafeas.v1) REST stand-in on 127.0.0.1, with the same
OAuth token endpoint and metadata server as gcs-stub (tokens with the cloud-platform scope are
required: Authorization: Bearer).

  POST /v1/projects/P/notes?noteId=ID          body Note: 200 the note (name, kind, createTime);
                                               409 ALREADY_EXISTS when it exists; 400 without noteId
  GET  /v1/projects/P/notes/ID
  POST /v1/projects/P/occurrences              body Occurrence: noteName must name an existing note
                                               of the same kind as the occurrence's details,
                                               resourceUri is required; 200 with name projects/P/
                                               occurrences/<uuid>, kind, createTime
  GET  /v1/projects/P/occurrences[?filter=resourceUrl="U"]   {"occurrences": [...]}
  GET  /v1/projects/P/occurrences/ID
Bodies are checked against the grafeas.v1 messages this stand-in serves (Note: attestation,
build; Occurrence: attestation, build with intotoStatement / inTotoSlsaProvenanceV1, envelope):
an unknown field is 400 INVALID_ARGUMENT 'Invalid JSON payload received. Unknown name ...' as
Google's front end answers, bytes fields must be base64, Timestamps RFC 3339, Structs objects,
maps of strings. Errors use Google's JSON error body with "status". Projects: --project
(repeatable; default "stub-project"); another is 404 NOT_FOUND.
Test hooks: gcs-stub's (/__stub/stats adds "notes", "occurrences"; POST /__stub/fault 5xx:N etc.).
Prints "listening on PORT"; --write-credentials FILE as gcs-stub; --bucket B also serves gcs-stub's
JSON API for bucket B (one token issuer for both Google backends)."""
import argparse
import base64
import binascii
import datetime
import json
import os
import re
import sys
import urllib.parse
import uuid

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gcs-stub"),
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")]
import gcs_stub  # noqa: E402
from stubkit import Faults  # noqa: E402

# Field types: "s" string, "b" bytes, "t" Timestamp, "struct", "map" (string → string),
# "bool", "enum", a dict (message), [x] (repeated x).
DIGEST = "map"
RD = {"name": "s", "uri": "s", "digest": DIGEST, "content": "b", "downloadLocation": "s", "mediaType": "s",
      "annotations": "struct"}
SUBJECT = {"name": "s", "digest": DIGEST}
ZERO_TWO = {"builder": {"id": "s"}, "buildType": "s",
            "invocation": {"configSource": {"uri": "s", "digest": DIGEST, "entryPoint": "s"},
                           "parameters": "struct", "environment": "struct"},
            "buildConfig": "struct",
            "metadata": {"buildInvocationId": "s", "buildStartedOn": "t", "buildFinishedOn": "t",
                         "completeness": {"parameters": "bool", "environment": "bool", "materials": "bool"},
                         "reproducible": "bool"},
            "materials": [{"uri": "s", "digest": DIGEST}]}
INTOTO_STATEMENT = {"_type": "s", "subject": [SUBJECT], "predicateType": "s", "slsaProvenanceZeroTwo": ZERO_TWO}
SLSA_V1 = {"_type": "s", "subject": [SUBJECT], "predicateType": "s",
           "predicate": {"buildDefinition": {"buildType": "s", "externalParameters": "struct",
                                             "internalParameters": "struct", "resolvedDependencies": [RD]},
                         "runDetails": {"builder": {"id": "s", "version": "map", "builderDependencies": [RD]},
                                        "metadata": {"invocationId": "s", "startedOn": "t", "finishedOn": "t"},
                                        "byproducts": [RD]}}}
COMMON_NOTE = {"name": "s", "shortDescription": "s", "longDescription": "s", "kind": "enum",
               "relatedUrl": [{"url": "s", "label": "s"}], "expirationTime": "t", "createTime": "t",
               "updateTime": "t", "relatedNoteNames": ["s"]}
NOTE = dict(COMMON_NOTE, attestation={"hint": {"humanReadableName": "s"}}, build={"builderVersion": "s"})
OCCURRENCE = {"name": "s", "resourceUri": "s", "noteName": "s", "kind": "enum", "remediation": "s",
              "createTime": "t", "updateTime": "t",
              "envelope": {"payload": "b", "payloadType": "s", "signatures": [{"sig": "b", "keyid": "s"}]},
              "attestation": {"serializedPayload": "b", "signatures": [{"signature": "b", "publicKeyId": "s"}],
                              "jwts": [{"compactJwt": "s"}]},
              "build": {"provenanceBytes": "s", "intotoStatement": INTOTO_STATEMENT,
                        "inTotoSlsaProvenanceV1": SLSA_V1}}
KINDS = ("attestation", "build")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


class Invalid(Exception):
    pass


def check(value, schema, path):
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise Invalid("Invalid value at '%s', expected a list" % path)
        for i, v in enumerate(value):
            check(v, schema[0], "%s[%d]" % (path, i))
        return
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise Invalid("Invalid value at '%s', expected an object" % path)
        for k, v in value.items():
            if k not in schema:
                raise Invalid("Invalid JSON payload received. Unknown name \"%s\" at '%s': Cannot find field." % (k, path))
            check(v, schema[k], path + "." + k)
        return
    ok = {"s": lambda v: isinstance(v, str), "enum": lambda v: isinstance(v, str), "bool": lambda v: isinstance(v, bool),
          "struct": lambda v: isinstance(v, dict),
          "map": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
          "t": lambda v: isinstance(v, str) and TS.match(v) is not None}.get(schema)
    if schema == "b":
        try:
            base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
            return
        except (AttributeError, binascii.Error):
            raise Invalid("Invalid value at '%s' (TYPE_BYTES), Base64 decoding failed for %r" % (path, value))
    if not ok(value):
        raise Invalid("Invalid value at '%s' (%s): %r" % (path, schema, value))


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class State(gcs_stub.State):
    def __init__(self, projects, ttl, faults, buckets=()):
        super().__init__(list(buckets), ttl, faults)
        self.projects = set(projects)
        self.notes, self.occurrences = {}, {}


class Handler(gcs_stub.Handler):
    def gstatus(self, code, status, message):
        self.send(code, {"error": {"code": code, "message": message, "status": status}})

    def route(self, method):
        u = urllib.parse.urlsplit(self.path)
        m = re.match(r"^/v1/projects/([^/]+)/(notes|occurrences)(?:/([^/]+))?$", u.path)
        if not m:
            return super().route(method)
        body = self.body() if method == "POST" else b""
        st = self.st
        for code, status in ((503, "UNAVAILABLE"), (401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED")):
            if st.faults.take("5xx" if code == 503 else str(code)):
                return self.gstatus(code, status, "injected fault %d" % code)
        if not st.valid(self.headers.get("Authorization"), scopes=(gcs_stub.CLOUD_PLATFORM,)):
            with st.lock:
                st.auth_failures += 1
            return self.gstatus(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        project, coll, ident = m.group(1), m.group(2), m.group(3)
        if project not in st.projects:
            return self.gstatus(404, "NOT_FOUND", "Project %s not found" % project)
        q = dict(urllib.parse.parse_qsl(u.query))
        prefix = "projects/%s/%s/" % (project, coll)
        store = st.notes if coll == "notes" else st.occurrences
        if method == "GET":
            if ident:
                with st.lock:
                    obj = store.get(prefix + ident)
                return self.send(200, obj) if obj else self.gstatus(404, "NOT_FOUND", "%s%s not found" % (prefix, ident))
            with st.lock:
                items = [o for n, o in sorted(store.items()) if n.startswith(prefix)]
            f = re.match(r'^\s*resourceUrl\s*=\s*"([^"]*)"\s*$', q.get("filter", ""))
            if f:
                items = [o for o in items if o.get("resourceUri") == f.group(1)]
            return self.send(200, {coll: items})
        if method != "POST" or ident:
            return self.gstatus(400, "INVALID_ARGUMENT", "unsupported")
        try:
            obj = json.loads(body)
            check(obj, NOTE if coll == "notes" else OCCURRENCE, "note" if coll == "notes" else "occurrence")
            kinds = [k for k in KINDS if k in obj]
            if len(kinds) != 1:
                raise Invalid("exactly one of %s must be set (got %s)" % (", ".join(KINDS), kinds))
        except (ValueError, Invalid) as e:
            return self.gstatus(400, "INVALID_ARGUMENT", str(e))
        kind = kinds[0].upper()
        with st.lock:
            if coll == "notes":
                nid = q.get("noteId", "")
                if not nid:
                    return self.gstatus(400, "INVALID_ARGUMENT", "noteId is required")
                name = prefix + nid
                if name in st.notes:
                    return self.gstatus(409, "ALREADY_EXISTS", "Conflict: note %s already exists" % name)
                obj.update(name=name, kind=kind, createTime=now(), updateTime=now())
                st.notes[name] = obj
                return self.send(200, obj)
            if not obj.get("resourceUri"):
                return self.gstatus(400, "INVALID_ARGUMENT", "occurrence.resourceUri is required")
            note = st.notes.get(obj.get("noteName", ""))
            if note is None:
                return self.gstatus(400, "INVALID_ARGUMENT", "note %r does not exist" % obj.get("noteName"))
            if note["kind"] != kind:
                return self.gstatus(400, "INVALID_ARGUMENT", "occurrence kind %s does not match note kind %s" %
                                    (kind, note["kind"]))
            name = "projects/%s/occurrences/%s" % (project, uuid.uuid4())
            obj.update(name=name, kind=kind, createTime=now(), updateTime=now())
            st.occurrences[name] = obj
        self.send(200, obj)

    def hooks(self, method, path, body):
        if path == "/__stub/stats":
            st = self.st
            with st.lock:
                return self.send(200, {"tokens": st.issued, "auth_failures": st.auth_failures, "uploads": st.uploads,
                                       "objects": sum(len(b) for b in st.buckets.values()),
                                       "notes": len(st.notes), "occurrences": len(st.occurrences)})
        return super().hooks(method, path, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--project", action="append", default=[])
    ap.add_argument("--bucket", action="append", default=[], help="also serve gcs-stub's JSON API for this bucket")
    ap.add_argument("--token-ttl", type=int, default=3600)
    ap.add_argument("--write-credentials")
    ap.add_argument("--fault", default="")
    a = ap.parse_args()
    faults = Faults(a.fault, counters=("5xx", "401", "403", "token5xx"))
    gcs_stub.start(Handler, State(a.project or ["stub-project"], a.token_ttl, faults, a.bucket), a.port,
                   a.write_credentials)

if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""archivista-stub: an Archivista stand-in on 127.0.0.1 (in-toto/archivista's HTTP API).

  POST /upload, /v1/upload      body = a DSSE envelope (JSON: payload and signatures' sig base64,
                                 as go-witness dsse.Envelope). Stored under its sha256 gitoid:
                                 hex sha256 of "blob <len>\\0<body>" (git's sha256 object id).
                                 The payload must be an in-toto statement (JSON object with
                                 "subject" a list of {name, digest}), as Archivista's metadata
                                 store parses it. Answers 200 {"gitoid": "<hex>"}\\n, else 500
                                 with the error as text (Archivista's http.Error), 400 for another
                                 method.
  GET  /download/G, /v1/download/G    the stored bytes (500 "object not found" when absent).
Test hooks: GET /__stub/stats {"uploads", "objects", "subjects": {gitoid: [subject names]},
"payload_types": {gitoid: type}}; POST /__stub/fault {"fault": "5xx:N"} (the next N uploads
answer 500). Prints "listening on PORT" (--port 0 picks a free one)."""
import argparse
import base64
import binascii
import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stubkit import Faults, serve  # noqa: E402


def gitoid(data):
    return hashlib.sha256(b"blob %d\0" % len(data) + data).hexdigest()


class State:
    def __init__(self, faults):
        self.lock = threading.Lock()
        self.objects, self.subjects, self.types = {}, {}, {}
        self.uploads = 0
        self.faults = faults


def parse_envelope(body):
    env = json.loads(body)
    if not isinstance(env, dict):
        raise ValueError("json: cannot unmarshal into Go value of type dsse.Envelope")
    payload = base64.b64decode(env.get("payload") or "", validate=True)
    for s in env.get("signatures") or []:
        base64.b64decode(s.get("sig") or "", validate=True)
    stmt = json.loads(payload)
    if not isinstance(stmt, dict) or not isinstance(stmt.get("subject", []), list):
        raise ValueError("json: cannot unmarshal payload into Go value of type intoto.Statement")
    names = []
    for sub in stmt.get("subject") or []:
        if not isinstance(sub, dict) or not isinstance(sub.get("digest", {}), dict):
            raise ValueError("json: cannot unmarshal subject into Go value of type intoto.Subject")
        names.append(sub.get("name", ""))
    return env.get("payloadType", ""), names


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    st = None

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def http_error(self, code, text):  # Go's http.Error
        self.send(code, text + "\n", "text/plain; charset=utf-8")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        st = self.st
        path = self.path.split("?")[0]
        if path == "/__stub/stats":
            with st.lock:
                return self.send(200, json.dumps({"uploads": st.uploads, "objects": len(st.objects),
                                                  "subjects": st.subjects, "payload_types": st.types}),
                                 "application/json")
        for prefix in ("/download/", "/v1/download/"):
            if path.startswith(prefix):
                g = path[len(prefix):]
                if not g.strip():
                    return self.http_error(400, "gitoid parameter is required")
                with st.lock:
                    data = st.objects.get(g)
                if data is None:
                    return self.http_error(500, "object not found: " + g)
                return self.send(200, data, "application/json")
        if path in ("/upload", "/v1/upload"):
            return self.http_error(400, "GET is an unsupported method")
        self.http_error(404, "404 page not found")

    def do_POST(self):
        st = self.st
        path = self.path.split("?")[0]
        body = self.body()
        if path == "/__stub/fault":
            st.faults = Faults(json.loads(body or b"{}").get("fault", ""), counters=("5xx",))
            return self.send(200, json.dumps({"fault": st.faults.text}), "application/json")
        if path not in ("/upload", "/v1/upload"):
            return self.http_error(404, "404 page not found")
        if st.faults.take("5xx"):
            return self.http_error(500, "injected fault: database unavailable")
        try:
            ptype, subjects = parse_envelope(body)
        except (ValueError, binascii.Error) as e:
            return self.http_error(500, str(e))
        g = gitoid(body)
        with st.lock:
            st.objects[g] = body
            st.subjects[g] = subjects
            st.types[g] = ptype
            st.uploads += 1
        self.send(200, json.dumps({"gitoid": g}) + "\n", "text/plain; charset=utf-8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fault", default="")
    a = ap.parse_args()
    Handler.st = State(Faults(a.fault, counters=("5xx",)))
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    serve(server)


if __name__ == "__main__":
    main()

"""A MongoDB stand-in on 127.0.0.1 speaking the wire protocol: OP_MSG (opcode 2013, body and
document-sequence sections) and the legacy OP_QUERY handshake drivers open with (answered with
OP_REPLY), enough for the official `mongodb` npm driver (wire_test.mjs proves it) and chainsd's
docdb backend.

Commands: hello / isMaster (a standalone writable primary, wire versions 0-17, saslSupportedMechs),
ping, buildInfo, endSessions, saslStart / saslContinue (SCRAM-SHA-256 when --user/--password are
given; then every other command needs an authenticated connection, code 13), insert (duplicate _id
→ writeErrors code 11000), update (replacement or $set, upsert, by equality filter), find (equality
filter, limit, projection ignored; one batch), getMore / killCursors (nothing left), delete, drop,
listDatabases. Stand-in only: stubStats (connections, commands by name, documents) and stubFault.

Faults (--fault or {stubFault: "..."}): "not-primary:N" the next N writes answer
NotWritablePrimary (10107); "close:N" the next N writes close the connection unanswered;
"stale-hello" hello answers isWritablePrimary false.

python3 mongo_stub.py [--port 0] [--user U --password P] [--fault LIST] [--tls-self-signed CERT_OUT];
prints "listening on PORT". With --tls-self-signed every connection is TLS (certificate for
127.0.0.1 and localhost, its own CA, written to CERT_OUT)."""
import argparse
import base64
import hashlib
import hmac
import os
import socket
import socketserver
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mongo_bson import Binary, DateTime, Int64, ObjectId, decode, encode  # noqa: E402
from stubkit import Faults, self_signed_cert  # noqa: E402

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013


class Store:
    def __init__(self, faults, user, password):
        self.lock = threading.Lock()
        self.dbs = {}  # db -> coll -> {_id key: doc}
        self.faults = faults
        self.user, self.password = user, password
        self.salt = os.urandom(16)
        self.stats = {"connections": 0, "commands": {}}

    def coll(self, db, name):
        return self.dbs.setdefault(db, {}).setdefault(name, {})


def key_of(v):
    return repr(v)


def matches(doc, flt):
    for k, want in (flt or {}).items():
        if isinstance(want, dict) and any(x.startswith("$") for x in want):
            if "$in" in want:
                if not any(doc.get(k) == w for w in want["$in"]):
                    return False
                continue
            if "$eq" in want and doc.get(k) != want["$eq"]:
                return False
            continue
        if doc.get(k) != want:
            return False
    return True


def error(code, name, msg):
    return {"ok": 0.0, "errmsg": msg, "code": code, "codeName": name}


class Session:
    """One connection's state: SCRAM conversation, authentication, request ids."""

    def __init__(self, store):
        self.store = store
        self.authed = store.user is None
        self.scram = None
        self.next_id = 1

    def hello(self, cmd):
        r = {"helloOk": True, "ismaster": not self.store.faults.has("stale-hello"),
             "isWritablePrimary": not self.store.faults.has("stale-hello"),
             "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
             "localTime": DateTime(int(time.time() * 1000)), "connectionId": 1,
             "minWireVersion": 0, "maxWireVersion": 17, "readOnly": False, "ok": 1.0}
        if "saslSupportedMechs" in cmd and self.store.user:
            r["saslSupportedMechs"] = ["SCRAM-SHA-256"]
        return r

    def sasl_start(self, cmd):
        if cmd.get("mechanism") != "SCRAM-SHA-256":
            return error(2, "BadValue", "mechanism %s is not supported" % cmd.get("mechanism"))
        payload = cmd["payload"].data.decode()
        if not payload.startswith("n,,"):
            return error(18, "AuthenticationFailed", "channel binding is not supported")
        bare = payload[3:]
        attrs = dict(p.split("=", 1) for p in bare.split(","))
        user = attrs.get("n", "").replace("=2C", ",").replace("=3D", "=")
        nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
        first = "r=%s,s=%s,i=4096" % (nonce, base64.b64encode(self.store.salt).decode())
        skip = bool((cmd.get("options") or {}).get("skipEmptyExchange"))
        self.scram = {"user": user, "bare": bare, "first": first, "nonce": nonce, "skip": skip, "step": 1}
        return {"conversationId": 1, "done": False, "payload": Binary(first.encode()), "ok": 1.0}

    def sasl_continue(self, cmd):
        s = self.scram
        if not s:
            return error(17, "ProtocolError", "no SASL conversation")
        if s["step"] == 2:
            self.scram = None
            return {"conversationId": 1, "done": True, "payload": Binary(b""), "ok": 1.0}
        final = cmd["payload"].data.decode()
        without_proof, _, proof = final.rpartition(",p=")
        attrs = dict(p.split("=", 1) for p in without_proof.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", (self.store.password or "").encode(), self.store.salt, 4096)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        auth_message = ",".join([s["bare"], s["first"], without_proof]).encode()
        signature = hmac.new(stored, auth_message, hashlib.sha256).digest()
        try:
            given = base64.b64decode(proof)
        except Exception:
            given = b""
        recovered = bytes(a ^ b for a, b in zip(given, signature)) if len(given) == 32 else b""
        if attrs.get("r") != s["nonce"] or s["user"] != self.store.user or hashlib.sha256(recovered).digest() != stored:
            self.scram = None
            return error(18, "AuthenticationFailed", "Authentication failed.")
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        v = "v=" + base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
        self.authed = True
        s["step"] = 2
        if s["skip"]:
            self.scram = None
        return {"conversationId": 1, "done": s["skip"], "payload": Binary(v.encode()), "ok": 1.0}

    def run(self, cmd, sequences):
        name = next(iter(cmd))
        st = self.store
        with st.lock:
            st.stats["commands"][name] = st.stats["commands"].get(name, 0) + 1
        low = name.lower()
        db = cmd.get("$db", "admin")
        if low in ("hello", "ismaster"):
            return self.hello(cmd)
        if name == "saslStart":
            return self.sasl_start(cmd)
        if name == "saslContinue":
            return self.sasl_continue(cmd)
        if name in ("ping", "endSessions", "killCursors"):
            return {"ok": 1.0}
        if name == "buildInfo" or name == "buildinfo":
            return {"version": "6.0.0-stub", "versionArray": [6, 0, 0, 0], "maxBsonObjectSize": 16 * 1024 * 1024, "ok": 1.0}
        if not self.authed:
            return error(13, "Unauthorized", "command %s requires authentication" % name)
        if name == "stubStats":
            with st.lock:
                docs = sum(len(c) for d in st.dbs.values() for c in d.values())
                return {"connections": st.stats["connections"], "commands": dict(st.stats["commands"]),
                        "documents": docs, "ok": 1.0}
        if name == "stubFault":
            st.faults = Faults(cmd[name], counters=("not-primary", "close"))
            return {"ok": 1.0}
        if name in ("insert", "update", "delete") and st.faults.take("close"):
            raise ConnectionAbortedError("fault: close")
        if name in ("insert", "update", "delete") and st.faults.take("not-primary"):
            r = error(10107, "NotWritablePrimary", "not primary")
            r["errorLabels"] = ["RetryableWriteError"]
            return r
        if name == "insert":
            docs = list(cmd.get("documents", [])) + sequences.get("documents", [])
            errs, n = [], 0
            with st.lock:
                coll = st.coll(db, cmd[name])
                for i, d in enumerate(docs):
                    if "_id" not in d:
                        d = dict({"_id": ObjectId(os.urandom(12))}, **d)
                    k = key_of(d["_id"])
                    if k in coll:
                        errs.append({"index": i, "code": 11000, "codeName": "DuplicateKey",
                                     "errmsg": "E11000 duplicate key error collection: %s.%s index: _id_ dup key" % (db, cmd[name])})
                        if cmd.get("ordered", True):
                            break
                        continue
                    coll[k] = d
                    n += 1
            r = {"n": n, "ok": 1.0}
            if errs:
                r["writeErrors"] = errs
            return r
        if name == "update":
            ups = list(cmd.get("updates", [])) + sequences.get("updates", [])
            n = modified = 0
            upserted = []
            with st.lock:
                coll = st.coll(db, cmd[name])
                for i, u in enumerate(ups):
                    q, repl = u.get("q", {}), u.get("u", {})
                    hit = next((k for k, d in coll.items() if matches(d, q)), None)
                    if any(k.startswith("$") for k in repl):
                        base = dict(coll[hit]) if hit else {k: v for k, v in q.items() if not isinstance(v, dict)}
                        base.update(repl.get("$set", {}))
                        new = base
                    else:
                        new = dict(repl)
                        if hit is not None:
                            new = dict({"_id": coll[hit]["_id"]}, **{k: v for k, v in repl.items() if k != "_id"})
                        elif "_id" not in new and "_id" in q:
                            new = dict({"_id": q["_id"]}, **new)
                    if hit is not None:
                        n += 1
                        modified += 1
                        coll[hit] = new
                    elif u.get("upsert"):
                        if "_id" not in new:
                            new = dict({"_id": ObjectId(os.urandom(12))}, **new)
                        coll[key_of(new["_id"])] = new
                        n += 1
                        upserted.append({"index": i, "_id": new["_id"]})
            r = {"n": n, "nModified": modified, "ok": 1.0}
            if upserted:
                r["upserted"] = upserted
            return r
        if name == "delete":
            dels = list(cmd.get("deletes", [])) + sequences.get("deletes", [])
            n = 0
            with st.lock:
                coll = st.coll(db, cmd[name])
                for d in dels:
                    for k in [k for k, doc in coll.items() if matches(doc, d.get("q"))][:1 if d.get("limit") else None]:
                        del coll[k]
                        n += 1
            return {"n": n, "ok": 1.0}
        if name == "find":
            with st.lock:
                docs = [d for d in st.coll(db, cmd[name]).values() if matches(d, cmd.get("filter"))]
            if cmd.get("limit"):
                docs = docs[:abs(int(cmd["limit"]))]
            return {"cursor": {"firstBatch": docs, "id": Int64(0), "ns": "%s.%s" % (db, cmd[name])}, "ok": 1.0}
        if name == "getMore":
            return {"cursor": {"nextBatch": [], "id": Int64(0), "ns": "%s.%s" % (db, cmd.get("collection"))}, "ok": 1.0}
        if name == "drop":
            with st.lock:
                st.dbs.get(db, {}).pop(cmd[name], None)
            return {"ok": 1.0}
        if name == "listDatabases":
            return {"databases": [{"name": d, "sizeOnDisk": 0.0, "empty": False} for d in st.dbs], "ok": 1.0}
        return error(59, "CommandNotFound", "no such command: '%s'" % name)


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def parse_op_msg(body):
    (flags,) = struct.unpack_from("<I", body, 0)
    end = len(body) - (4 if flags & 1 else 0)
    p, cmd, seqs = 4, None, {}
    while p < end:
        kind = body[p]
        p += 1
        (size,) = struct.unpack_from("<i", body, p)
        if kind == 0:
            cmd, _ = decode(body, p)
        elif kind == 1:
            nul = body.index(b"\0", p + 4)
            ident = body[p + 4:nul].decode()
            q, docs = nul + 1, []
            while q < p + size:
                d, q = decode(body, q)
                docs.append(d)
            seqs[ident] = docs
        else:
            raise ValueError("section kind %d" % kind)
        p += size
    return flags, cmd, seqs


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        store = self.server.store
        with store.lock:
            store.stats["connections"] += 1
        session = Session(store)
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.server.tls:  # the handshake in the connection's thread: a silent client stalls only itself
                sock = self.server.tls.wrap_socket(sock, server_side=True)
            while True:
                head = read_exact(sock, 16)
                length, req_id, _, opcode = struct.unpack("<iiii", head)
                body = read_exact(sock, length - 16)
                if opcode == OP_MSG:
                    flags, cmd, seqs = parse_op_msg(body)
                    reply = session.run(cmd, seqs)
                    if flags & 2:  # moreToCome: no reply
                        continue
                    payload = struct.pack("<I", 0) + b"\0" + encode(reply)
                    out_op = OP_MSG
                elif opcode == OP_QUERY:
                    nul = body.index(b"\0", 4)
                    query, _ = decode(body, nul + 1 + 8)
                    if "$query" in query:
                        query = query["$query"]
                    reply = session.run(query, {})
                    payload = struct.pack("<iqii", 0, 0, 0, 1) + encode(reply)
                    out_op = OP_REPLY
                else:
                    break
                session.next_id += 1
                sock.sendall(struct.pack("<iiii", 16 + len(payload), session.next_id, req_id, out_op) + payload)
        except (EOFError, ConnectionError, OSError):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--fault", default="")
    ap.add_argument("--tls-self-signed", metavar="CERT_OUT", help="serve TLS with a new certificate written here")
    a = ap.parse_args()
    server = Server(("127.0.0.1", a.port), Handler)
    server.tls = None
    if a.tls_self_signed:
        import ssl
        cert, key = self_signed_cert(a.tls_self_signed, "mongo-stub")
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(cert, key)
    server.store = Store(Faults(a.fault, counters=("not-primary", "close")), a.user, a.password)
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

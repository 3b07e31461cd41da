"""Shared pieces of the Python stand-ins in tests/support (rekor-v2-stub, tsa-stub).

Faults: a comma-separated fault list as --fault and POST /__stub/fault take it: flags ("bad-proof"),
counters ("5xx:3": the next three requests, taken one at a time) and values ("slow:200").
self_signed_cert(): an EC certificate for 127.0.0.1 / localhost (its own CA) for HTTPS stand-ins.
serve(): binds, optionally wraps TLS, prints "listening on PORT" (what test harnesses wait for)
and serves until interrupted.
serve_async(): the same for a handler on one asyncio loop: a lean HTTP/1.1 server (keep-alive,
Content-Length bodies, one request at a time per connection, one write per answer) for stand-ins
under benchmark load, where http.server's thread per connection and its header parsing cost more
than the service itself. handle(Request) returns the answer's bytes (reply()), CLOSE (the
connection is closed unanswered) or a coroutine giving either."""
import asyncio
import datetime
import http
import ipaddress
import json
import ssl
import threading


class Faults:
    def __init__(self, text, counters=(), values=()):
        self.text = text or ""
        self._lock = threading.Lock()
        self.flags, self.counts, self.values = set(), {}, {}
        for f in self.text.split(","):
            name, _, arg = f.partition(":")
            if name in counters:
                self.counts[name] = int(arg)
            elif name in values:
                self.values[name] = int(arg)
            elif f:
                self.flags.add(f)

    def has(self, name):
        return name in self.flags

    def value(self, name, default=0):
        return self.values.get(name, default)

    def take(self, name):
        # True for the next N calls of a counter fault.
        if not self.counts.get(name):
            return False
        with self._lock:
            if self.counts.get(name, 0) <= 0:
                return False
            self.counts[name] -= 1
            return True


def serve(server, tls_cert=None, tls_key=None):
    if tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def self_signed_cert(cert_out, common_name):
    """Writes an EC P-256 self-signed certificate (SAN 127.0.0.1, localhost; CA:true, so clients can
    trust it directly) to cert_out and its key to cert_out + ".key"; returns both paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(cert_out, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_out + ".key", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_out, cert_out + ".key"


# --- serve_async -------------------------------------------------------------------------------

CLOSE = object()  # a handler's answer: close the connection without answering
_REASONS = {s.value: s.phrase for s in http.HTTPStatus}


class Request:
    __slots__ = ("method", "path", "headers", "body")

    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body


def reply(status, body=b"", ctype="application/json", headers=()):
    """The bytes of an HTTP/1.1 answer; a body that is not bytes is sent as JSON."""
    data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        status, _REASONS.get(status, ""), ctype, len(data))
    for k, v in headers:
        head += "%s: %s\r\n" % (k, v)
    return head.encode("latin-1") + b"\r\n" + data


class _Connection(asyncio.Protocol):
    MAX_HEAD = 64 * 1024
    MAX_BODY = 16 * 1024 * 1024

    def __init__(self, handle):
        self.handle = handle
        self.buf = bytearray()
        self.busy = False
        self.t = None

    def connection_made(self, transport):
        self.t = transport

    def connection_lost(self, exc):
        self.t = None

    def data_received(self, data):
        self.buf += data
        if not self.busy:
            self._next()

    def _next(self):
        while not self.busy and self.t is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > self.MAX_HEAD:
                    self.t.close()
                return
            lines = self.buf[:end].decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length") or 0)
                if n < 0 or n > self.MAX_BODY or "transfer-encoding" in headers:
                    raise ValueError("unsupported body")
            except ValueError:
                self.t.write(reply(400, b"bad request", "text/plain", [("Connection", "close")]))
                self.t.close()
                return
            if len(self.buf) < end + 4 + n:
                return
            body = bytes(self.buf[end + 4:end + 4 + n])
            del self.buf[:end + 4 + n]
            keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            try:
                r = self.handle(Request(method, target, headers, body))
            except Exception as e:  # a stand-in bug: answer it, keep serving
                r = reply(500, {"code": 500, "message": "stand-in error: %r" % e})
            if asyncio.iscoroutine(r):
                self.busy = True
                asyncio.ensure_future(r).add_done_callback(lambda f, keep=keep: self._done(f, keep))
                return
            self._answer(r, keep)

    def _done(self, f, keep):
        self.busy = False
        try:
            r = f.result()
        except Exception as e:
            r = reply(500, {"code": 500, "message": "stand-in error: %r" % e})
        self._answer(r, keep)
        self._next()

    def _answer(self, r, keep):
        if self.t is None:
            return
        if r is CLOSE:
            self.t.close()
            return
        self.t.write(r)
        if not keep:
            self.t.close()


def serve_async(handle, host, port, tls_cert=None, tls_key=None, on_listen=None, backlog=4096):
    """Serves handle on one asyncio loop; on_listen(port) runs before "listening on PORT" is
    printed, on the loop (a stand-in may start its own tasks there)."""
    async def main():
        ctx = None
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert, tls_key)
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(lambda: _Connection(handle), host, port, ssl=ctx, backlog=backlog)
        bound = srv.sockets[0].getsockname()[1]
        if on_listen:
            on_listen(bound)
        print("listening on %d" % bound, flush=True)
        await srv.serve_forever()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass

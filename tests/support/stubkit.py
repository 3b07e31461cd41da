"""Shared pieces of the Python stand-ins in tests/support (rekor-v2-stub, tsa-stub).

Faults: a comma-separated fault list as --fault and POST /__stub/fault take it: flags ("bad-proof"),
counters ("5xx:3": the next three requests, taken one at a time) and values ("slow:200").
serve(): binds, optionally wraps TLS, prints "listening on PORT" (what test harnesses wait for)
and serves until interrupted."""
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

"""Shared pieces of the Python stand-ins in tests/support (rekor-v2-stub, tsa-stub).

Faults: a comma-separated fault list as --fault and POST /__stub/fault take it: flags ("bad-proof"),
counters ("5xx:3": the next three requests, taken one at a time) and values ("slow:200").
self_signed_cert(): an EC certificate for 127.0.0.1 / localhost (its own CA) for HTTPS stand-ins.
serve(): binds, optionally wraps TLS, prints "listening on PORT" (what test harnesses wait for)
and serves until interrupted."""
import datetime
import ipaddress
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

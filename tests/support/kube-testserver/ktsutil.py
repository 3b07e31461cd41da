"""Helpers for the kube-testserver integration tests: start the server on an ephemeral port,
wait for the URL on its first stdout line, always kill it, and speak plain HTTP(S) to it.

Runs under Debian's /usr/bin/python3 (the one with python3-kubernetes), standard library only.
"""
import atexit
import base64
import http.client
import json
import os
import select
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

SKIP = 77


def fail(msg):
    print("FAIL: " + msg, flush=True)
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


def stop_process(proc, timeout=10):
    """The tests' one way to stop a child (a stand-in, a registry, chainsd): SIGTERM, then SIGKILL
    when it has not exited within `timeout` seconds; reaped either way. Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Server:
    """A running kube-testserver. Use as a context manager; it is killed on exit either way."""

    def __init__(self, exe, *args, start_timeout=30):
        self.tmp = tempfile.TemporaryDirectory(prefix="kube-testserver-")
        self.kubeconfig = os.path.join(self.tmp.name, "kubeconfig")
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        self.args = [exe, "--listen", "127.0.0.1:0", "--kubeconfig-out", self.kubeconfig, "--exit-with-parent", *args]
        self._stderr = open(self.stderr_path, "wb")
        self._conn = None
        print("starting: " + " ".join(self.args), flush=True)
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._stderr)
        atexit.register(self.stop)
        deadline = time.monotonic() + start_timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                fail("server did not print its URL (exit=%s); stderr:\n%s" % (self.proc.returncode, self.stderr()))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    continue
                line += chunk
        self.url = line.decode().strip()
        u = urllib.parse.urlparse(self.url)
        self.host, self.port, self.tls = u.hostname, u.port, u.scheme == "https"
        self.token = None
        self.ca_file = None
        with open(self.kubeconfig) as f:
            text = f.read()
        for raw in text.splitlines():
            s = raw.strip()
            if s.startswith("token:"):
                self.token = s.split(":", 1)[1].strip()
            if s.startswith("certificate-authority-data:"):
                self.ca_file = os.path.join(self.tmp.name, "ca.pem")
                with open(self.ca_file, "wb") as out:
                    out.write(base64.b64decode(s.split(":", 1)[1].strip()))
        print("server at " + self.url, flush=True)
        self._conn = None

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        stop_process(self.proc)
        if not hasattr(self, "stderr_tail"):
            self.stderr_tail = self.stderr()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        try:
            self.tmp.cleanup()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            print("--- server stderr (tail) ---\n" + self.stderr(), flush=True)
            self.stop()
            return False
        self.stop()
        # SIGTERM is a clean shutdown: any other status (a crash, a sanitizer report) fails the test.
        if self.proc.returncode not in (0, -15):
            fail("server exited with %s after SIGTERM; stderr:\n%s" % (self.proc.returncode, self.stderr_tail))
        return False

    def connection(self, timeout=30):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json", headers=None, auth=True):
        """One request on a kept-alive connection. Returns (status, headers, parsed JSON or text)."""
        hdrs = dict(headers or {})
        if auth and self.token:
            hdrs.setdefault("Authorization", "Bearer " + self.token)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            hdrs["Content-Type"] = content_type
        for attempt in range(2):
            if self._conn is None:
                self._conn = self.connection()
            try:
                self._conn.request(method, path, body=body, headers=hdrs)
                resp = self._conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise
        text = data.decode()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return resp.status, dict(resp.getheaders()), parsed

    def faults(self, doc):
        status, _, body = self.request("POST", "/testserver/faults", doc)
        check(status == 200, "fault settings %s accepted" % json.dumps(doc))
        return body


class Watch:
    """A watch stream over a raw socket, so the test sees exactly how the server ended it:
    `clean_end` is True after the terminating zero-length chunk, False when the connection was
    cut mid-stream. Plain HTTP or HTTPS."""

    def __init__(self, server, path, timeout=15):
        import socket
        sock = socket.create_connection((server.host, server.port), timeout=timeout)
        if server.tls:
            ctx = ssl.create_default_context(cafile=server.ca_file)
            sock = ctx.wrap_socket(sock, server_hostname=server.host)
        self.sock = sock
        req = "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: application/json\r\n" % (path, server.host, server.port)
        if server.token:
            req += "Authorization: Bearer %s\r\n" % server.token
        req += "\r\n"
        sock.sendall(req.encode())
        self.buf = b""
        self.eof = False
        self.clean_end = None
        head = self._read_until(b"\r\n\r\n")
        if head is None:
            fail("watch %s: no response head" % path)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.lines = []
        self.pending = b""
        if not self.chunked:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n and self._fill():
                pass
            self.body = self.buf[:n]

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                return None
        head, self.buf = self.buf.split(marker, 1)
        return head

    def next(self):
        """The next event (a dict), or None once the stream has ended."""
        while not self.lines:
            if self.clean_end is not None:
                return None
            size_line = self._read_until(b"\r\n")
            if size_line is None:
                self.clean_end = False
                return None
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self._read_until(b"\r\n")
                self.clean_end = True
                return None
            while len(self.buf) < size + 2:
                if not self._fill():
                    self.clean_end = False
                    return None
            self.pending += self.buf[:size]
            self.buf = self.buf[size + 2:]
            while b"\n" in self.pending:
                line, self.pending = self.pending.split(b"\n", 1)
                if line.strip():
                    self.lines.append(json.loads(line))
        return self.lines.pop(0)

    def all(self):
        out = []
        while True:
            e = self.next()
            if e is None:
                return out
            out.append(e)

    def close(self):
        self.sock.close()


def skip(why):
    """A test that cannot run here is a skip (exit 77, meson's SKIP), never a pass; under CI=true
    scripts/count-results.py counts it as a failure."""
    print("SKIP: " + why, flush=True)
    sys.exit(SKIP)


def require(ok, why):
    if not ok:
        skip(why)


def have_command(name):
    return shutil.which(name) is not None


TESTS_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def have_node_module(name):
    """node on PATH and `name` installed in tests/node_modules."""
    return have_command("node") and os.path.isdir(os.path.join(TESTS_DIR, "node_modules", name))


def require_node_module(name):
    require(have_node_module(name), "node or tests/node_modules/%s is missing" % name)


def require_python_module(name):
    try:
        __import__(name)
    except ImportError:
        skip("python module %r not available in %s" % (name, sys.executable))

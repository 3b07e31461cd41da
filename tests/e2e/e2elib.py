"""End-to-end test helpers: the real chainsd process against kube-testserver.

Runs under Debian's /usr/bin/python3, standard library plus python3-securesystemslib. A test file
defines test_* functions and ends with run_tests(globals()); each function is reported as one case
in a JUnit file when the runner gets `-o FILE` (the project's result counter reads it)."""
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support", "kube-testserver"))
import ktsutil  # noqa: E402

check = ktsutil.check
fail = ktsutil.fail
skip = ktsutil.skip
stop_process = ktsutil.stop_process
require = ktsutil.require
require_node_module = ktsutil.require_node_module

BUILD = os.environ.get("CHAINSD_BUILD_DIR", "")
CHAINSD = os.environ.get("CHAINSD_EXE", os.path.join(BUILD, "engine/app/chainsd"))
TESTSERVER = os.environ.get("KUBE_TESTSERVER_EXE", os.path.join(BUILD, "tests/support/kube-testserver"))
PLUGINS = [p for p in os.environ.get("CHAINSD_PLUGINS", "").split(":") if p]
SOURCE_ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def wait_until(fn, timeout=20, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class Workdir:
    """A private directory with plugins (0755 dir, 0644 files) and a signing-secrets folder."""

    def __init__(self, key="ecdsa"):
        self.path = tempfile.mkdtemp(prefix="chainsd-e2e-")
        os.chmod(self.path, 0o755)
        self.plugins = os.path.join(self.path, "plugins")
        self.secrets = os.path.join(self.path, "signing-secrets")
        os.mkdir(self.plugins, 0o755)
        os.mkdir(self.secrets, 0o755)
        for p in PLUGINS:
            dst = os.path.join(self.plugins, os.path.basename(p))
            shutil.copy(p, dst)
            os.chmod(dst, 0o644)
        if key:
            self.make_key(key)

    def make_key(self, kind="ecdsa"):
        args = {"ecdsa": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "ed25519": ["-algorithm", "ED25519"]}[kind]
        key = os.path.join(self.secrets, "x509.pem")
        subprocess.run(["openssl", "genpkey", *args, "-out", key], check=True, capture_output=True)
        self.public_pem = subprocess.run(["openssl", "pkey", "-in", key, "-pubout"], check=True,
                                         capture_output=True).stdout.decode()
        with open(os.path.join(self.path, "pub.pem"), "w") as f:
            f.write(self.public_pem)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Chainsd:
    """A running chainsd. Its JSON logs are kept; the metrics address is read from them."""

    def __init__(self, server, work, *extra, retry_base_ms=100, ha=False):
        self.log_path = os.path.join(work.path, "chainsd-%d.log" % time.monotonic_ns())
        self._log = open(self.log_path, "wb")
        self.args = [CHAINSD, "--kubeconfig", server.kubeconfig, "--plugin-dir", work.plugins,
                     "--signing-secrets", work.secrets, "--metrics-addr", "127.0.0.1:0",
                     "--retry-base-ms", str(retry_base_ms), *(() if ha else ("--disable-ha",)), *extra]
        print("starting: " + " ".join(self.args), flush=True)
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT)
        m = wait_until(lambda: re.search(r'"serving health and metrics","address":"([^"]+)"', self.log()),
                       what="chainsd to serve metrics")
        self.metrics_addr = m.group(1)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def lines(self, msg):
        out = []
        for line in self.log().splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("msg") == msg:
                out.append(d)
        return out

    def get(self, path):
        try:
            with urllib.request.urlopen("http://%s%s" % (self.metrics_addr, path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        _, text = self.get("/metrics")
        total = 0.0
        found = False
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
                found = True
        return total if found else 0.0

    def wait_ready(self):
        wait_until(lambda: self.get("/readyz")[0] == 200, what="chainsd /readyz")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            print("--- chainsd log (tail) ---\n" + self.log()[-6000:], flush=True)
        self.stop()
        return False


class StubProcess:
    """A Python stand-in from tests/support (rekor-stub, fulcio-stub) on a free port: it prints
    "listening on PORT" when ready. Extra arguments go to the stub."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen(["/usr/bin/python3", script, "--port", "0", *args], stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        check(line.startswith("listening on "), "%s started" % os.path.basename(script))
        self.port = line.split()[-1]
        self.url = "http://127.0.0.1:" + self.port

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return r.read().decode()

    def json(self, path):
        return json.loads(self.get(path))

    def post(self, path, doc):
        req = urllib.request.Request(self.url + path, data=json.dumps(doc).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        try:
            return json.loads(body)
        except ValueError:
            return body.decode()

    def stats(self):
        return self.json("/__stub/stats")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop_process(self.proc)
        self.proc.stdout.close()
        return False


def kubectl(server, *args, input=None, check_rc=True):
    r = subprocess.run(["kubectl", "--kubeconfig", server.kubeconfig, *args], input=input,
                       capture_output=True, text=True, timeout=60)
    if check_rc and r.returncode != 0:
        fail("kubectl %s failed: %s" % (" ".join(args), r.stderr))
    return r


def get_run(server, kind, ns, name):
    st, _, body = server.request("GET", "/apis/tekton.dev/v1/namespaces/%s/%s/%s" % (ns, kind, name))
    check(st == 200, "%s %s/%s exists" % (kind, ns, name))
    return body


def annotations(obj):
    return obj["metadata"].get("annotations") or {}


def wait_signed(server, kind, ns, name, value="true", timeout=20):
    def probe():
        st, _, body = server.request("GET", "/apis/tekton.dev/v1/namespaces/%s/%s/%s" % (ns, kind, name))
        if st == 200 and annotations(body).get("chains.tekton.dev/signed") == value:
            return body
        return None
    return wait_until(probe, timeout=timeout, what="%s %s/%s signed=%s" % (kind, ns, name, value))


def create(server, obj):
    api = obj["apiVersion"]
    plural = obj["kind"].lower() + "s"
    ns = obj["metadata"].get("namespace", "default")
    base = "/api/v1" if api == "v1" else "/apis/" + api
    st, _, body = server.request("POST", "%s/namespaces/%s/%s" % (base, ns, plural), obj)
    check(st == 201, "created %s %s/%s" % (obj["kind"], ns, obj["metadata"]["name"]))
    return body


def chains_config(server, data):
    """Creates or replaces tekton-chains/chains-config with `data`."""
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "chains-config", "namespace": "tekton-chains"}, "data": data}
    st, _, _ = server.request("GET", "/api/v1/namespaces/tekton-chains/configmaps/chains-config")
    if st == 404:
        st, _, _ = server.request("POST", "/api/v1/namespaces/tekton-chains/configmaps", body)
        check(st == 201, "chains-config created")
    else:
        st, _, _ = server.request("PATCH", "/api/v1/namespaces/tekton-chains/configmaps/chains-config",
                                  {"data": data}, content_type="application/merge-patch+json")
        check(st == 200, "chains-config patched")


def taskrun(name, ns="default", image_digest=None, done=True, labels=None, status="True"):
    """A finished (or running) TaskRun in the shape Tekton Pipelines leaves it."""
    results = []
    if image_digest:
        results = [{"name": "IMAGE_URL", "type": "string", "value": "registry.example.com/e2e/" + name},
                   {"name": "IMAGE_DIGEST", "type": "string", "value": "sha256:" + image_digest}]
    st = {"startTime": "2026-11-26T06:00:00Z",
          "steps": [{"name": "build", "container": "step-build",
                     "imageID": "docker.io/library/busybox@sha256:" + "a" * 64}],
          "taskSpec": {"steps": [{"name": "build", "image": "busybox", "script": "echo hi"}]},
          "results": results}
    if done:
        st["completionTime"] = "2026-11-26T06:00:30Z"
        st["conditions"] = [{"type": "Succeeded", "status": status, "reason": "Succeeded"}]
    else:
        st["conditions"] = [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}]
    return {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"serviceAccountName": "default", "taskSpec": st["taskSpec"]},
            "status": st}


def keyless_identity(server, work):
    """The controller's ServiceAccount on `server` and a namespace file in work.path: what chainsd
    needs to get a token from kube-testserver for Fulcio. Returns the directory to give as
    CHAINSD_SERVICEACCOUNT_DIR."""
    st, _, _ = server.request("POST", "/api/v1/namespaces/tekton-chains/serviceaccounts",
                              {"apiVersion": "v1", "kind": "ServiceAccount",
                               "metadata": {"name": "tekton-chains-controller"}})
    check(st in (201, 409), "the controller's service account exists")
    sa_dir = os.path.join(work.path, "serviceaccount")
    os.mkdir(sa_dir)
    with open(os.path.join(sa_dir, "namespace"), "w") as f:
        f.write("tekton-chains")
    return sa_dir


def dsse_parts(envelope_b64):
    env = json.loads(base64.b64decode(envelope_b64))
    payload = base64.b64decode(env["payload"])
    t = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)
    return env, payload, pae


def verify_sslib(public_pem, keyid, sig_bytes, data):
    """Verifies with python3-securesystemslib (an independent implementation)."""
    from securesystemslib.signer import SSlibKey, Signature
    from securesystemslib.exceptions import UnverifiedSignatureError
    # securesystemslib wants hex key ids; the DSSE key id ("SHA256:...") is only a label here.
    kid = hashlib.sha256(keyid.encode()).hexdigest()
    key = SSlibKey(kid, "ecdsa", "ecdsa-sha2-nistp256", {"public": public_pem})
    try:
        key.verify_signature(Signature(kid, sig_bytes.hex()), data)
        return True
    except UnverifiedSignatureError:
        return False


SIGSTORE_VERIFY = os.path.join(SOURCE_ROOT, "tests/support/sigstore-verify/verify_bundle.mjs")


def sigstore_verify(args):
    """tests/support/sigstore-verify/verify_bundle.mjs (@sigstore/verify) on `args` (its input keys
    are listed in that script): (exit status, what it said); 0 when verified."""
    node_dir = os.path.join(SOURCE_ROOT, "tests")
    r = subprocess.run(["node", SIGSTORE_VERIFY], input=json.dumps(args), capture_output=True, text=True, timeout=60,
                       cwd=node_dir, env=dict(os.environ, NODE_PATH=os.path.join(node_dir, "node_modules")))
    return r.returncode, (r.stdout + r.stderr).strip()


def verify_openssl(work, sig_bytes, data):
    sig = os.path.join(work.path, "sig.bin")
    msg = os.path.join(work.path, "msg.bin")
    open(sig, "wb").write(sig_bytes)
    open(msg, "wb").write(data)
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(work.path, "pub.pem"),
                        "-signature", sig, msg], capture_output=True)
    return r.returncode == 0


def run_tests(ns):
    """Runs every test_* function in `ns`, prints a summary, writes JUnit when given -o FILE."""
    out = None
    if "-o" in sys.argv:
        out = sys.argv[sys.argv.index("-o") + 1]
    tests = [(k, v) for k, v in ns.items() if k.startswith("test_") and callable(v)]
    suite = ET.Element("testsuite", name=os.path.basename(sys.argv[0]))
    failed = 0
    for name, fn in tests:
        print("=== " + name, flush=True)
        case = ET.SubElement(suite, "testcase", name=name)
        start = time.monotonic()
        try:
            fn()
            print("--- PASS " + name, flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported per case
            failed += 1
            ET.SubElement(case, "failure", message=str(e)).text = traceback.format_exc()
            print("--- FAIL %s: %s\n%s" % (name, e, traceback.format_exc()), flush=True)
        case.set("time", "%.2f" % (time.monotonic() - start))
    if out:
        ET.ElementTree(suite).write(out)
    print("%d passed, %d failed" % (len(tests) - failed, failed), flush=True)
    sys.exit(1 if failed else 0)

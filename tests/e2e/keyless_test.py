"""Keyless signing end to end: the real chainsd with signers.x509.fulcio.enabled against
kube-testserver (TokenRequest, OIDC discovery + JWKS) and tests/support/fulcio-stub (a Fulcio with a
test CA that verifies the token and the proof of possession). Checked with openssl: the cert
annotation's key verifies the DSSE and image signatures, its chain verifies up to the stub's root,
its SAN is the identity of the token's provider. With transparency on (tests/support/rekor-stub)
the entry's verifier is the certificate, integratedTime lies in its validity, and @sigstore/verify
(when node and tests/node_modules are there) accepts a bundle built from the output for the
expected identity and issuer and rejects it for others. Also: many runs -> one certificate request,
token file / SIGSTORE_ID_TOKEN / GKE metadata providers, v1 fallback, rotation ahead of expiry,
and a failing Fulcio -> the run retries, then fails with a reason naming Fulcio."""
import base64
import calendar
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from cryptography import x509

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import (Chainsd, StubProcess, Workdir, annotations, chains_config, check, create, dsse_parts,  # noqa: E402
                    run_tests, taskrun, wait_signed, wait_until, TESTSERVER, SOURCE_ROOT)
import ktsutil  # noqa: E402

STUB = os.environ.get("FULCIO_STUB", os.path.join(SOURCE_ROOT, "tests/support/fulcio-stub/fulcio_stub.py"))
REKOR_STUB = os.environ.get("REKOR_STUB", os.path.join(SOURCE_ROOT, "tests/support/rekor-stub/rekor_stub.py"))
BASE_CONFIG = {"artifacts.oci.storage": "tekton"}
K8S_URI = "https://kubernetes.io/namespaces/tekton-chains/serviceaccounts/%s"


class FulcioStub(StubProcess):
    """The Fulcio stand-in trusting `server`'s token issuer; its root CA is written to self.ca."""

    def __init__(self, server, *args):
        self.dir = tempfile.mkdtemp(prefix="fulcio-stub-")
        self.ca = os.path.join(self.dir, "root.pem")
        super().__init__(STUB, "--trust", server.url, "--ca-out", self.ca, *args)


def RekorStub():
    return StubProcess(REKOR_STUB)


class Env:
    """Environment variables for the chainsd started inside the block (Popen copies them)."""

    def __init__(self, **kv):
        self.kv = kv

    def __enter__(self):
        self.old = {k: os.environ.get(k) for k in list(self.kv) + ["SIGSTORE_ID_TOKEN"]}
        os.environ.pop("SIGSTORE_ID_TOKEN", None)
        for k, v in self.kv.items():
            os.environ[k] = v
        return self

    def __exit__(self, *exc):
        for k, v in self.old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


def service_account(server, name, ns="tekton-chains"):
    st, _, _ = server.request("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns,
                              {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    check(st in (201, 409), "service account %s/%s exists" % (ns, name))


def token_for(server, name, ns="tekton-chains"):
    service_account(server, name, ns)
    st, _, body = server.request("POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (ns, name),
                                 {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                  "spec": {"audiences": ["sigstore"], "expirationSeconds": 3600}})
    check(st == 201, "TokenRequest for %s" % name)
    return body["status"]["token"]


def keyless_env(extra_config=None, stub_args=()):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    service_account(server, "tekton-chains-controller")
    stub = FulcioStub(server, *stub_args)
    work = Workdir(key=None)
    sa_dir = os.path.join(work.path, "serviceaccount")
    os.mkdir(sa_dir)
    with open(os.path.join(sa_dir, "namespace"), "w") as f:
        f.write("tekton-chains")
    config = dict(BASE_CONFIG, **{"signers.x509.fulcio.enabled": "true", "signers.x509.fulcio.address": stub.url})
    config.update(extra_config or {})
    chains_config(server, config)
    return server, stub, work, sa_dir


def openssl(*args, input=None):
    return subprocess.run(["openssl", *args], input=input, capture_output=True)


def write(work, name, data):
    p = os.path.join(work.path, name)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return p


def cert_of(tr):
    ann = annotations(tr)
    uid = tr["metadata"]["uid"]
    return (base64.b64decode(ann["chains.tekton.dev/cert-taskrun-" + uid]).decode(),
            base64.b64decode(ann["chains.tekton.dev/chain-taskrun-" + uid]).decode())


def check_signed_run(work, stub, tr, identity, image_digest=None):
    """openssl: the cert's key verifies the signatures, the chain verifies to the stub's root, the SAN is `identity`."""
    ann = annotations(tr)
    uid = tr["metadata"]["uid"]
    cert, chain = cert_of(tr)
    check(cert.startswith("-----BEGIN CERTIFICATE-----"), "cert annotation holds a PEM certificate")
    check(chain.count("BEGIN CERTIFICATE") == 2, "chain annotation holds intermediate and root")
    cert_path = write(work, "cert.pem", cert)
    chain_path = write(work, "chain.pem", chain)
    r = openssl("verify", "-CAfile", stub.ca, "-untrusted", chain_path, cert_path)
    check(r.returncode == 0, "openssl verify: the certificate chains to the stub's root CA: %s" % (r.stdout + r.stderr).decode().strip())
    other_ca = write(work, "other-ca.pem", chain.split("-----END CERTIFICATE-----")[1].strip() + "\n")
    r = openssl("verify", "-CAfile", other_ca, cert_path)
    check(r.returncode != 0, "openssl verify fails without the intermediate (the chain is needed)")
    text = openssl("x509", "-in", cert_path, "-noout", "-text").stdout.decode()
    check(identity in text, "the certificate's SAN names %s" % identity)
    check("Code Signing" in text, "the certificate is for code signing")
    pub = openssl("x509", "-in", cert_path, "-noout", "-pubkey").stdout
    pub_path = write(work, "pub.pem", pub)
    env, payload, pae = dsse_parts(ann["chains.tekton.dev/signature-taskrun-" + uid])
    sig = base64.b64decode(env["signatures"][0]["sig"])
    r = openssl("dgst", "-sha256", "-verify", pub_path, "-signature", write(work, "sig.bin", sig), write(work, "msg.bin", pae))
    check(r.returncode == 0, "the certificate's key verifies the DSSE signature (openssl)")
    tampered = bytearray(pae)
    tampered[-3] ^= 1
    r = openssl("dgst", "-sha256", "-verify", pub_path, "-signature", write(work, "sig.bin", sig),
                write(work, "msg.bin", bytes(tampered)))
    check(r.returncode != 0, "a changed payload byte fails")
    if image_digest:
        img_payload = base64.b64decode(ann["chains.tekton.dev/payload-" + image_digest[:12]])
        img_sig = base64.b64decode(ann["chains.tekton.dev/signature-" + image_digest[:12]])
        r = openssl("dgst", "-sha256", "-verify", pub_path, "-signature", write(work, "isig.bin", img_sig),
                    write(work, "imsg.bin", img_payload))
        check(r.returncode == 0, "the certificate's key verifies the image signature")
        img_cert = base64.b64decode(ann["chains.tekton.dev/cert-" + image_digest[:12]]).decode()
        check(img_cert == cert, "the image signature carries the same certificate")
    return cert


def test_tokenrequest_provider_signs_and_one_certificate_serves_many_runs():
    server, stub, work, sa_dir = keyless_env()
    with server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir), Chainsd(server, work) as c:
        c.wait_ready()
        # 1,000 runs arrive at once, before any certificate exists: their signatures all wait for
        # the one request in flight, and later ones reuse its certificate.
        n = 1000
        runs = [taskrun("many-%d" % i) for i in range(n - 1)] + [taskrun("keyless-1", image_digest="d" * 64)]
        st, _, _ = server.request("POST", "/testserver/load", "\n".join(json.dumps(r) for r in runs),
                                  content_type="application/json")
        check(st in (200, 201), "%d finished TaskRuns loaded" % n)

        def all_signed():
            st, _, body = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns")
            items = body["items"]
            return items if sum(annotations(t).get("chains.tekton.dev/signed") == "true" for t in items) == n else None
        items = wait_until(all_signed, timeout=240, interval=0.5, what="%d runs signed" % n)
        certs = {cert_of(t)[0] for t in items}
        check(len(certs) == 1, "all %d runs carry the same certificate" % n)
        s = stub.stats()
        check(s["certificates"] == 1 and s["requests"] == 1,
              "%d runs, %d signatures: exactly one certificate request (stub: %s)" % (n, n + 1, s))
        tr = next(t for t in items if t["metadata"]["name"] == "keyless-1")
        check_signed_run(work, stub, tr, "URI:" + K8S_URI % "tekton-chains-controller", image_digest="d" * 64)
        check(s["v2"] == 1 and s["v1"] == 0, "the v2 API is used by default")
        check(len(c.lines("fulcio certificate obtained")) == 1, "chainsd logged one certificate")
        check("\"provider\":\"kubernetes\"" in c.log(), "the TokenRequest provider was used")
        check(c.metric("chainsd_plugin_fulcio_certificates_total") == 1, "the certificate metric counts one")
    work.remove()


def test_transparency_log_entry_and_sigstore_verify():
    rekor = RekorStub()
    server, stub, work, sa_dir = keyless_env({"transparency.enabled": "true", "transparency.url": rekor.url})
    with rekor, server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir), Chainsd(server, work):
        create(server, taskrun("logged"))
        tr = wait_signed(server, "taskruns", "default", "logged", timeout=30)
        ann = annotations(tr)
        san = K8S_URI % "tekton-chains-controller"
        cert = check_signed_run(work, stub, tr, "URI:" + san)
        loc = ann.get("chains.tekton.dev/transparency", "")
        check(loc.startswith(rekor.url + "/api/v1/log/entries?logIndex="), "the run names its Rekor entry: " + loc)
        (_, entry), = json.loads(rekor.get(loc[len(rekor.url):])).items()
        body = json.loads(base64.b64decode(entry["body"]))
        verifier = base64.b64decode(body["spec"]["signatures"][0]["verifier"]).decode()
        check(verifier == cert, "the Rekor entry's verifier is the Fulcio certificate")
        x = x509.load_pem_x509_certificate(cert.encode())
        t = entry["integratedTime"]
        # not_valid_before/after are naive UTC datetimes.
        check(calendar.timegm(x.not_valid_before.utctimetuple()) <= t <= calendar.timegm(x.not_valid_after.utctimetuple()),
              "integratedTime %d lies inside the certificate's validity" % t)
        # The independent check: @sigstore/verify (required, see the end of this file).
        _, chain = cert_of(tr)
        chain_pems = [p + "-----END CERTIFICATE-----\n" for p in chain.split("-----END CERTIFICATE-----")[:-1]]
        env = json.loads(base64.b64decode(ann["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]]))
        args = {"entry": entry, "envelope": env, "certPem": cert, "caPems": [p.strip() + "\n" for p in chain_pems],
                "logPem": rekor.get("/api/v1/log/publicKey"), "san": san, "issuer": "https://kubernetes.default.svc"}
        verify = e2elib.sigstore_verify

        rc, out = verify(args)
        check(rc == 0, "@sigstore/verify accepts the keyless bundle for %s: %s" % (san, out))
        rc, out = verify(dict(args, san=K8S_URI % "someone-else"))
        check(rc != 0, "@sigstore/verify rejects it for another identity: " + out)
        rc, out = verify(dict(args, issuer="https://accounts.google.com"))
        check(rc != 0, "@sigstore/verify rejects it for another issuer: " + out)
    work.remove()


def test_token_file_provider():
    server, stub, work, sa_dir = keyless_env()
    token = token_for(server, "file-sa")
    path = write(work, "oidc-token", token + "\n")
    # "True" as Go's strconv.ParseBool (upstream) accepts it.
    chains_config(server, {"signers.x509.identity.token.file": path, "signers.x509.fulcio.enabled": "True"})
    with server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir), Chainsd(server, work):
        create(server, taskrun("from-file"))
        tr = wait_signed(server, "taskruns", "default", "from-file")
        check_signed_run(work, stub, tr, "URI:" + K8S_URI % "file-sa")
    work.remove()


def test_sigstore_id_token_env_provider():
    server, stub, work, sa_dir = keyless_env()
    token = token_for(server, "env-sa")
    with server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir, SIGSTORE_ID_TOKEN=token), Chainsd(server, work) as c:
        create(server, taskrun("from-env"))
        tr = wait_signed(server, "taskruns", "default", "from-env")
        check_signed_run(work, stub, tr, "URI:" + K8S_URI % "env-sa")
        check("\"provider\":\"envvar\"" in c.log(), "the envvar provider was used (before TokenRequest, as upstream)")
    work.remove()


def test_gke_metadata_provider_and_legacy_v1_api():
    server, stub, work, sa_dir = keyless_env({"signers.x509.fulcio.provider": "google-workload-identity"},
                                             stub_args=("--no-v2",))
    with server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir, GCE_METADATA_HOST="127.0.0.1:" + stub.port), \
            Chainsd(server, work):
        create(server, taskrun("from-gke"))
        tr = wait_signed(server, "taskruns", "default", "from-gke")
        check_signed_run(work, stub, tr, "email:chains@test-project.iam.gserviceaccount.com")
        s = stub.stats()
        check(s["metadata"] == 1, "one token from the metadata server")
        check(s["v1"] == 1 and s["certificates"] == 1, "v2 answered 404: the legacy v1 API issued the certificate (%s)" % s)
    work.remove()


def not_before(cert_pem):
    return calendar.timegm(x509.load_pem_x509_certificate(cert_pem.encode()).not_valid_before.utctimetuple())


def test_certificate_is_replaced_ahead_of_expiry():
    # 30 s certificates: the next one is fetched in the background from 20 s on (signatures keep
    # using the current one meanwhile), and the current one is never used after 22.5 s.
    server, stub, work, sa_dir = keyless_env(stub_args=("--validity", "30"))
    ident = "URI:" + K8S_URI % "tekton-chains-controller"
    with server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir), Chainsd(server, work) as c:
        create(server, taskrun("early"))
        first = check_signed_run(work, stub, wait_signed(server, "taskruns", "default", "early"), ident)
        time.sleep(max(0.0, not_before(first) + 20.5 - time.time()))
        create(server, taskrun("in-refresh-window"))
        mid = check_signed_run(work, stub, wait_signed(server, "taskruns", "default", "in-refresh-window"), ident)
        check(mid == first, "inside the refresh window the current certificate still signs")
        wait_until(lambda: stub.stats()["certificates"] == 2, timeout=10, what="the background fetch of the next certificate")
        create(server, taskrun("late"))
        second = check_signed_run(work, stub, wait_signed(server, "taskruns", "default", "late"), ident)
        check(second != first, "the next certificate (fetched ahead of expiry) signs later runs")
        check(not_before(second) >= not_before(first) + 19, "the second certificate was issued ~20 s after the first")
        check(stub.stats()["certificates"] == 2, "two certificates for two lifetimes")
        check(len(c.lines("fulcio certificate obtained")) == 2, "chainsd logged both")
    work.remove()


def test_fulcio_error_retries_then_fails_naming_fulcio():
    server, stub, work, sa_dir = keyless_env()
    stub.post("/__stub/fault", {"status": 503, "count": -1})
    with server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir), Chainsd(server, work, retry_base_ms=1200):
        create(server, taskrun("fulcio-down"))
        tr = wait_signed(server, "taskruns", "default", "fulcio-down", value="failed", timeout=60)
        ann = annotations(tr)
        err = ann.get("chains.tekton.dev/error", "")
        check(ann.get("chains.tekton.dev/retries") == "3", "retried before failing")
        check("Fulcio " + stub.url in err and "503" in err and "kubernetes token" in err,
              "the reason names Fulcio, the token's provider and Fulcio's answer: " + err)
        check(stub.stats()["requests"] >= 2, "each retry asked Fulcio again")
    work.remove()


def test_untrusted_token_is_rejected_with_the_reason():
    server, stub, work, sa_dir = keyless_env()
    with open(os.path.join(work.path, "bad-token"), "w") as f:
        f.write("eyJhbGciOiJFUzI1NiJ9." + base64.urlsafe_b64encode(json.dumps(
            {"iss": "https://evil.example", "sub": "x", "aud": "sigstore", "exp": int(time.time()) + 600}).encode()).decode().rstrip("=")
            + ".AAAA")
    chains_config(server, {"signers.x509.identity.token.file": os.path.join(work.path, "bad-token")})
    with server, stub, Env(CHAINSD_SERVICEACCOUNT_DIR=sa_dir), Chainsd(server, work, retry_base_ms=20):
        create(server, taskrun("bad-token"))
        tr = wait_signed(server, "taskruns", "default", "bad-token", value="failed", timeout=60)
        err = annotations(tr).get("chains.tekton.dev/error", "")
        check("rejected the filesystem token" in err and "does Fulcio trust this issuer" in err and len(err) <= 512,
              "the reason names the provider: " + err)
        # Fulcio's answer (a JSON body) is kept out of the annotation, in the Warning event.
        st, _, events = server.request("GET", "/api/v1/namespaces/default/events")
        msgs = [e.get("message", "") for e in events["items"] if e["involvedObject"]["name"] == "bad-token"]
        check(any("unsupported issuer" in m for m in msgs), "the event carries Fulcio's answer: %r" % msgs)
    work.remove()


e2elib.require_node_module("@sigstore/verify")  # bundles are checked independently
run_tests(globals())

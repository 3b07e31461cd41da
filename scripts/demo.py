#!/usr/bin/env python3
"""chainsd's whole job on this machine, in steps that each print one line (scripts/demo runs it
after building). A Kubernetes API stand-in (kube-testserver) holds config/examples; chainsd signs
the example TaskRun and PipelineRun with a key; then the three features are turned on live, one
`kubectl patch configmap chains-config` each, as Tekton Chains' docs do it:
  1. transparency log (Rekor stand-in)       → a new run's entry: SET and body checked with openssl
  2. keyless signing (Fulcio stand-in, the    → a new run's certificate chain and signature checked
     identity token from a TokenRequest)        with openssl
  3. Kafka storage (librdkafka's mock cluster) → the record read back by kafkajs, its signature
                                                checked with openssl
Every check is made by a tool other than chainsd. Everything listens on 127.0.0.1 and is stopped
at the end. Usage: scripts/demo.py BUILD_DIR"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
WORK = tempfile.mkdtemp(prefix="chainsd-demo-")
os.chmod(WORK, 0o755)
PROCS = []
T0 = time.monotonic()


def say(step, text):
    print("[%5.1fs] %-22s %s" % (time.monotonic() - T0, step, text), flush=True)


def die(text):
    print("FAILED: " + text, flush=True)
    log = os.path.join(WORK, "chainsd.log")
    if os.path.exists(log):
        print("--- chainsd log (tail) ---\n" + open(log).read()[-4000:], flush=True)
    sys.exit(1)


def start(name, args, env=None, stdin=None):
    out = open(os.path.join(WORK, name + ".log"), "w")
    p = subprocess.Popen(args, stdout=subprocess.PIPE if name != "chainsd" else out, stderr=out, text=True,
                         stdin=stdin, env=dict(os.environ, **(env or {})))
    PROCS.append(p)
    return p


def first_line(p, name):
    line = p.stdout.readline().strip()
    if not line:
        die("%s did not start (see %s)" % (name, os.path.join(WORK, name + ".log")))
    return line


def kubectl(*args, input=None):
    r = subprocess.run(["kubectl", "--kubeconfig", os.path.join(WORK, "kubeconfig"), *args], input=input,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        die("kubectl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def openssl(*args, input=None):
    return subprocess.run(["openssl", *args], input=input, capture_output=True)


def write(name, data):
    p = os.path.join(WORK, name)
    with open(p, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return p


def wait_for(what, fn, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    die("timed out waiting for " + what)


def get_run(kind, name):
    return json.loads(kubectl("get", kind, name, "-n", "default", "-o", "json"))


def signed(kind, name):
    def check():
        a = get_run(kind, name)["metadata"].get("annotations") or {}
        v = a.get("chains.tekton.dev/signed")
        if v == "failed":
            die("%s %s failed: %s" % (kind, name, a.get("chains.tekton.dev/error")))
        return get_run(kind, name) if v == "true" else None
    return wait_for("%s %s to be signed" % (kind, name), check)


def config_applied():
    return open(os.path.join(WORK, "chainsd.log")).read().count('"chains-config applied"')


def patch_config(data):
    """The way Tekton Chains' docs turn a feature on."""
    before = config_applied()
    kubectl("patch", "configmap", "chains-config", "-n", "tekton-chains", "-p", json.dumps({"data": data}))
    wait_for("the new chains-config to be applied", lambda: config_applied() > before)


def new_taskrun(name):
    """A copy of the example TaskRun as Pipelines leaves it: created, then its status written."""
    with open(os.path.join(ROOT, "config/examples/taskrun-build.yaml")) as f:
        tr = yaml.safe_load(f)
    status = tr.pop("status")
    tr["metadata"]["name"] = name
    kubectl("create", "-f", "-", input=json.dumps(tr))
    kubectl("patch", "taskrun", name, "-n", "default", "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}))


def envelope_of(tr):
    a = tr["metadata"]["annotations"]
    return json.loads(base64.b64decode(a["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]]))


def pae(env):
    t, payload = env["payloadType"].encode(), base64.b64decode(env["payload"])
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def verify_dsse(env, pub_pem_path, what):
    sig = write("sig.bin", base64.b64decode(env["signatures"][0]["sig"]))
    data = write("pae.bin", pae(env))
    r = openssl("dgst", "-sha256", "-verify", pub_pem_path, "-signature", sig, data)
    if r.returncode != 0:
        die("openssl does not verify %s: %s" % (what, (r.stdout + r.stderr).decode().strip()))
    bad = bytearray(pae(env))
    bad[-2] ^= 1
    write("pae.bin", bytes(bad))
    if openssl("dgst", "-sha256", "-verify", pub_pem_path, "-signature", sig, data).returncode == 0:
        die("openssl verifies %s with a flipped byte" % what)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    plugins = os.path.join(WORK, "plugins")
    secrets = os.path.join(WORK, "signing-secrets")
    os.mkdir(plugins, 0o755)
    os.mkdir(secrets, 0o755)
    for p in ("plugins/signer-x509/signer-x509.so", "plugins/storage-tekton/storage-tekton.so",
              "plugins/storage-kafka/storage-kafka.so"):
        dst = os.path.join(plugins, os.path.basename(p))
        with open(os.path.join(BUILD, p), "rb") as s, open(dst, "wb") as d:
            d.write(s.read())
        os.chmod(dst, 0o644)
    key = os.path.join(secrets, "x509.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key],
                   check=True, capture_output=True)
    pub = os.path.join(WORK, "cosign.pub")
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)

    kts = start("kube-testserver", [os.path.join(BUILD, "tests/support/kube-testserver"), "--listen", "127.0.0.1:0",
                                    "--kubeconfig-out", os.path.join(WORK, "kubeconfig"), "--exit-with-parent",
                                    "--load", os.path.join(ROOT, "config/examples")])
    api = first_line(kts, "kube-testserver")
    say("cluster", "kube-testserver at %s holding config/examples (a TaskRun, a PipelineRun, chains-config)" % api)
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": "tekton-chains-controller",
                                                               "namespace": "tekton-chains"}}))
    sa_dir = os.path.join(WORK, "serviceaccount")
    os.mkdir(sa_dir)
    write("serviceaccount/namespace", "tekton-chains")
    rekor = start("rekor-stub", ["/usr/bin/python3", os.path.join(ROOT, "tests/support/rekor-stub/rekor_stub.py"),
                                 "--port", "0"])
    rekor_url = "http://127.0.0.1:" + first_line(rekor, "rekor-stub").split()[-1]
    fulcio_root = os.path.join(WORK, "fulcio-root.pem")
    fulcio = start("fulcio-stub", ["/usr/bin/python3", os.path.join(ROOT, "tests/support/fulcio-stub/fulcio_stub.py"),
                                   "--port", "0", "--trust", api, "--ca-out", fulcio_root])
    fulcio_url = "http://127.0.0.1:" + first_line(fulcio, "fulcio-stub").split()[-1]
    kafka = start("kafka-mock", [os.path.join(BUILD, "tests/support/kafka-mock/kafka-mock"), "--brokers", "1", "--topic",
                                 "chains:1:1", "--exit-with-parent"], stdin=subprocess.PIPE)
    bootstrap = first_line(kafka, "kafka-mock")
    say("stand-ins", "Rekor %s, Fulcio %s, Kafka %s" % (rekor_url, fulcio_url, bootstrap))

    start("chainsd", [os.path.join(BUILD, "engine/app/chainsd"), "run", "--kubeconfig", os.path.join(WORK, "kubeconfig"),
                      "--plugin-dir", plugins, "--signing-secrets", secrets, "--metrics-addr", "127.0.0.1:0",
                      "--disable-ha"], env={"CHAINSD_SERVICEACCOUNT_DIR": sa_dir})

    # --- signing with a key ---
    tr = signed("taskrun", "build-app")
    pr = signed("pipelinerun", "release-app")
    env = envelope_of(tr)
    statement = json.loads(base64.b64decode(env["payload"]))
    verify_dsse(env, pub, "the TaskRun's attestation")
    a = tr["metadata"]["annotations"]
    img = next(k for k in a if k.startswith("chains.tekton.dev/payload-") and "taskrun" not in k)
    digest = img.rsplit("-", 1)[1]
    sig = write("img.sig", base64.b64decode(a["chains.tekton.dev/signature-" + digest]))
    payload = write("img.payload", base64.b64decode(a[img]))
    if openssl("dgst", "-sha256", "-verify", pub, "-signature", sig, payload).returncode != 0:
        die("openssl does not verify the image signature")
    say("signed with a key", "taskrun build-app (%s, subject %s) and pipelinerun release-app: "
        "attestation and image signature verified by openssl" % (statement["predicateType"],
                                                                  statement["subject"][0]["name"]))

    # --- 1. transparency log ---
    patch_config({"transparency.enabled": "true", "transparency.url": rekor_url})
    new_taskrun("build-app-rekor")
    tr = signed("taskrun", "build-app-rekor")
    loc = tr["metadata"]["annotations"]["chains.tekton.dev/transparency"]
    with urllib.request.urlopen(loc, timeout=10) as r:
        (uuid, entry), = json.loads(r.read()).items()
    with urllib.request.urlopen(rekor_url + "/api/v1/log/publicKey", timeout=10) as r:
        log_pub = write("rekor.pub", r.read())
    ver = entry["verification"]
    signed_part = canonical({"body": entry["body"], "integratedTime": entry["integratedTime"],
                             "logIndex": entry["logIndex"], "logID": entry["logID"]})
    set_ok = openssl("dgst", "-sha256", "-verify", log_pub, "-signature",
                     write("set.sig", base64.b64decode(ver["signedEntryTimestamp"])), write("set.bin", signed_part))
    body = json.loads(base64.b64decode(entry["body"]))
    if set_ok.returncode != 0:
        die("openssl does not verify the Rekor entry's signed entry timestamp")
    a = tr["metadata"]["annotations"]
    if body["kind"] == "dsse":  # the run's attestation
        what = "the run's DSSE envelope"
        ok = body["spec"]["envelopeHash"]["value"] == hashlib.sha256(canonical_envelope(tr)).hexdigest()
    else:  # hashedrekord: the image signature (upstream annotates the last artifact logged)
        what = "the image's signed payload"
        img = next(k for k in a if k.startswith("chains.tekton.dev/payload-") and "taskrun" not in k)
        ok = body["spec"]["data"]["hash"]["value"] == hashlib.sha256(base64.b64decode(a[img])).hexdigest()
    if not ok:
        die("the Rekor entry is not of " + what)
    verify_dsse(envelope_of(tr), pub, "the logged attestation")
    say("1. transparency log", "kubectl patch transparency.enabled=true → build-app-rekor logged (%s entry, index "
        "%d); SET verified by openssl, entry = %s" % (body["kind"], entry["logIndex"], what))

    # --- 2. keyless ---
    patch_config({"signers.x509.fulcio.enabled": "true", "signers.x509.fulcio.address": fulcio_url,
                  "transparency.enabled": "false"})
    new_taskrun("build-app-keyless")
    tr = signed("taskrun", "build-app-keyless")
    a = tr["metadata"]["annotations"]
    uid = tr["metadata"]["uid"]
    cert = write("cert.pem", base64.b64decode(a["chains.tekton.dev/cert-taskrun-" + uid]))
    chain = write("chain.pem", base64.b64decode(a["chains.tekton.dev/chain-taskrun-" + uid]))
    r = openssl("verify", "-CAfile", fulcio_root, "-untrusted", chain, cert)
    if r.returncode != 0:
        die("openssl does not verify the Fulcio certificate: " + (r.stdout + r.stderr).decode())
    san = openssl("x509", "-in", cert, "-noout", "-ext", "subjectAltName").stdout.decode().split("\n")[1].strip()
    cert_pub = write("cert.pub", openssl("x509", "-in", cert, "-noout", "-pubkey").stdout)
    verify_dsse(envelope_of(tr), cert_pub, "the keyless attestation")
    say("2. keyless", "kubectl patch signers.x509.fulcio.enabled=true → build-app-keyless signed with a Fulcio "
        "certificate for %s (token from a TokenRequest); chain and signature verified by openssl" % san)

    # --- 3. Kafka ---
    patch_config({"storage.pubsub.provider": "kafka", "storage.pubsub.topic": "chains",
                  "storage.pubsub.kafka.bootstrap.servers": bootstrap, "artifacts.taskrun.storage": "tekton,kafka"})
    new_taskrun("build-app-kafka")
    tr = signed("taskrun", "build-app-kafka")
    r = subprocess.run(["node", os.path.join(ROOT, "tests/plugins/storage-kafka/consume.js"), bootstrap, "chains", "1", "20000"],
                       capture_output=True, text=True, timeout=60, cwd=os.path.join(ROOT, "tests"))
    records = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else []
    mine = [rec for rec in records if base64.b64decode(rec["key"]).decode() == tr["metadata"]["uid"]]
    if not mine:
        die("kafkajs read no record of build-app-kafka: " + r.stderr[-2000:])
    env = json.loads(base64.b64decode(mine[0]["value"]))
    headers = {k: base64.b64decode(v) for k, v in mine[0]["headers"]}
    rec_pub = write("rec-cert.pub", openssl("x509", "-noout", "-pubkey", input=headers["cert"]).stdout)
    verify_dsse(env, rec_pub, "the Kafka record's attestation")
    say("3. kafka", "kubectl patch storage.pubsub.provider=kafka → build-app-kafka's attestation read back by kafkajs "
        "(topic chains, partition %d, offset %s); signature verified by openssl" % (mine[0]["partition"], mine[0]["offset"]))
    say("done", "%.0f s; logs and files in %s" % (time.monotonic() - T0, WORK))


def canonical_envelope(tr):
    return base64.b64decode(tr["metadata"]["annotations"]["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]])


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in reversed(PROCS):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()

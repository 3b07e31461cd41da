#!/usr/bin/env python3
"""chainsd benchmarks: one command runs the scenarios and prints JSON + a short table.

    bench/run.py [--build build-release] [--runs 20000] [--scale 100000] [--only A1,B,...]

Baseline: `openssl speed -seconds 3 ecdsap256` on one core, measured in the same run, so runs/s
can be read as a fraction of the machine's signing limit.
A1/A2: N finished TaskRuns (~10 KB, an image in their results) preloaded in kube-testserver;
chainsd (x509 ECDSA P-256, tekton storage, in-toto) signs them all: runs/s, CPU seconds per 1,000
runs, peak RSS, API requests per run, and every server's CPU. A1 signs the run only
(artifacts.oci disabled); A2 also signs the image (two signatures per run, upstream's default).
B: runs arrive at a steady rate (POST /testserver/load in 10 ms batches); the test server times
each run from its arrival to the patch that sets chains.tekton.dev/signed=true: p50/p90/p99/max.
C: A1 with transparency.enabled against the Rekor stand-in (tests/support/rekor-stub).
C2: C with Rekor v2 + RFC 3161 timestamps (rekor-v2-stub holding each upload until its 1 s
checkpoint, tsa-stub); needs the reconciler's log step on tlog::logger, so not in the default set.
tlog-v2-load: the log step alone (bench/tlog_v2_load) against the same stand-ins, --runs uploads
with --uploads-in-flight at once: uploads/s, CPU and memory per upload, servers' CPU per upload.
D: A1 with the kafka storage on librdkafka's mock cluster (tests/support/kafka-mock).
E: A1 keyless: Fulcio stand-in, token from kube-testserver's TokenRequest; certificate requests.
F: A2 with the oci storage on Debian's docker-registry (attestation and image signature pushed).
kafka-backend: the kafka storage plugin alone vs librdkafka's own producer (bench/kafka.md).
Scale: N finished runs that are already signed; time until /readyz and chainsd's RSS.
chainsd runs on core 0, the servers on core 1 (taskset). Uses only public tools: python3,
openssl, taskset (util-linux), docker-registry (Debian)."""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
import time
import urllib.request

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SIGNED = "watcher_taskrun_marked_signed_total"
FAILED = "watcher_taskrun_marked_failed_total"


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def openssl_ecdsa_signs_per_s():
    out = sh("taskset", "-c", "0", "openssl", "speed", "-seconds", "3", "ecdsap256")
    # "256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  12000.0"
    for line in out.splitlines():
        m = re.search(r"ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            return float(m.group(1))
    raise RuntimeError("cannot parse openssl speed output:\n" + out)


def proc_cpu_seconds(pid):
    """User + system CPU of a process and its reaped children (a python stub's threads count)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[k]) for k in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def proc_status_mib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:  # e.g. /readyz answering 503 while chainsd starts
        return e.code, e.read().decode(errors="replace")


def metric(addr, name):
    try:
        _, text = http_get("http://%s/metrics" % addr)
    except OSError:
        return 0
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """kube-testserver on core 1."""

    def __init__(self, build, work, load, *args, listen="127.0.0.1:0"):
        self.kubeconfig = os.path.join(work, "kubeconfig")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "1", *os.environ.get("SERVER_BENCH_WRAP", "").split(),
             os.path.join(build, "tests/support/kube-testserver"), "--listen", listen,
             "--kubeconfig-out", self.kubeconfig, "--history", "1000000", *args,
             *sum([["--load", p] for p in load], [])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()
        self.conn = None

    def stats(self):
        return json.loads(http_get(self.url + "/testserver/stats")[1])

    def post(self, path, body):
        if self.conn is None:
            host = self.url.split("://", 1)[1]
            self.conn = http.client.HTTPConnection(host, timeout=30)
        self.conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("POST %s: %d %s" % (path, r.status, data[:200]))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Helper:
    """A stand-in process on core 1: its first stdout line tells where it listens."""

    def __init__(self, name, argv, pattern):
        self.name = name
        self.proc = subprocess.Popen(["taskset", "-c", "1", *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        m = re.search(pattern, line)
        if not m:
            raise RuntimeError("%s did not start: %r" % (name, line))
        self.value = m.group(1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Registry:
    """Debian's docker-registry, filesystem storage, plain HTTP on loopback, core 1."""

    def __init__(self, work, host):
        self.name = "docker-registry"
        self.host = host
        cfg = os.path.join(work, "registry.yml")
        with open(cfg, "w") as f:
            storage = ("  inmemory: {}\n" if os.environ.get("BENCH_REGISTRY_INMEMORY")
                       else "  filesystem:\n    rootdirectory: %s/registry\n" % work)
            f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n%s"
                    "http:\n  addr: %s\n" % (storage, self.host))
        self.proc = subprocess.Popen(["taskset", "-c", "1", "/usr/bin/docker-registry", "serve", cfg],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if http_get("http://%s/v2/" % self.host)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not start")
            time.sleep(0.05)

    def stop(self):
        Helper.stop(self)


def api_requests(stats):
    """Requests except watches (a watch is one long request) and the benchmark's own loads."""
    verbs = stats.get("verbs") or {}
    return sum(v for k, v in verbs.items() if k != "watch"), verbs


PLUGINS = {"x509": "plugins/signer-x509/signer-x509.so", "tekton": "plugins/storage-tekton/storage-tekton.so",
           "kms": "plugins/signer-kms/signer-kms.so",
           "kafka": "plugins/storage-kafka/storage-kafka.so", "oci": "plugins/storage-oci/storage-oci.so"}


def start_chainsd(build, work, server, plugins=("x509", "tekton"), key=True, env=None, *extra):
    log = open(os.path.join(work, "chainsd.log"), "w")
    pdir = os.path.join(work, "plugins")
    os.makedirs(pdir, exist_ok=True)
    os.chmod(pdir, 0o755)
    engine_build = os.environ.get("CHAINSD_BENCH_BUILD") or build
    for name in plugins:
        shutil.copy(os.path.join(engine_build, PLUGINS[name]), pdir)
        os.chmod(os.path.join(pdir, os.path.basename(PLUGINS[name])), 0o644)
    secrets = os.path.join(work, "secrets")
    if not os.path.exists(secrets):
        os.makedirs(secrets)
        os.chmod(secrets, 0o755)
        if key:
            sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
               os.path.join(secrets, "x509.pem"))
    wrap = os.environ.get("CHAINSD_BENCH_WRAP", "").split()
    exe = os.path.join(os.environ.get("CHAINSD_BENCH_BUILD") or build, "engine/app/chainsd")
    proc = subprocess.Popen(["taskset", "-c", "0", *wrap, exe, "--kubeconfig",
                             server.kubeconfig, "--plugin-dir", pdir, "--signing-secrets", secrets,
                             "--metrics-addr", "127.0.0.1:0", "--max-in-flight", "256", *extra,
                             *os.environ.get("CHAINSD_BENCH_ARGS", "").split()],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
    # The metrics address (port 0 = ephemeral) is read from the start-up log.
    deadline = time.monotonic() + 30
    addr = None
    while addr is None and time.monotonic() < deadline:
        time.sleep(0.01)
        for line in open(os.path.join(work, "chainsd.log")):
            m = re.search(r'"serving health and metrics","address":"([^"]+)"', line)
            if m:
                addr = m.group(1)
    if addr is None:
        raise RuntimeError("chainsd did not start: " + tail(work))
    return proc, addr


def tail(work):
    return open(os.path.join(work, "chainsd.log")).read()[-3000:]


def config_file(work, data, extra_objects=()):
    p = os.path.join(work, "chains-config.jsonl")
    with open(p, "w") as f:
        f.write(json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "chains-config", "namespace": "tekton-chains"}, "data": data}) + "\n")
        for o in extra_objects:
            f.write(json.dumps(o) + "\n")
    return p


def wait_signed(proc, addr, work, n, t0, timeout=600):
    done = 0
    while done < n:
        time.sleep(0.05)
        done = metric(addr, SIGNED)
        failed = metric(addr, FAILED)
        if failed:
            raise RuntimeError("%d runs marked failed; log tail:\n%s" % (failed, tail(work)))
        if proc.poll() is not None:
            raise RuntimeError("chainsd exited: " + tail(work))
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("timeout: %d of %d signed; log tail:\n%s" % (done, n, tail(work)))


def signing_run(build, n, runs_file, cfg, signatures_per_run, plugins=("x509", "tekton"), helpers=(), key=True,
                env=None, extra_objects=(), after=None, listen="127.0.0.1:0", late_helpers=()):
    """Preloads N finished runs, starts chainsd and measures until all N are marked signed."""
    work = tempfile.mkdtemp(prefix="chainsd-bench-")
    os.chmod(work, 0o755)
    started = []
    server = None
    try:
        for make in helpers:
            started.append(make(work))
        cfg = cfg(started) if callable(cfg) else cfg
        server = Server(build, work, [runs_file, config_file(work, cfg, extra_objects)], listen=listen)
        for make in late_helpers:  # stand-ins that need the API server up
            started.append(make(work))
        s0 = server.stats()
        cpu0 = {"kube-testserver": proc_cpu_seconds(server.proc.pid)}
        for h in started:
            cpu0[h.name] = proc_cpu_seconds(h.proc.pid)
        t0 = time.monotonic()
        proc, addr = start_chainsd(build, work, server, plugins, key, env(work) if callable(env) else env)
        wait_signed(proc, addr, work, n, t0)
        elapsed = time.monotonic() - t0
        cpu = proc_cpu_seconds(proc.pid)
        rss = proc_status_mib(proc.pid, "VmHWM")
        servers = {"kube-testserver": proc_cpu_seconds(server.proc.pid) - cpu0["kube-testserver"]}
        for h in started:
            servers[h.name] = proc_cpu_seconds(h.proc.pid) - cpu0[h.name]
        reqs0, _ = api_requests(s0)
        reqs1, verbs = api_requests(server.stats())
        extra = after(addr, started) if after else {}
        proc.terminate()
        proc.wait()
        result = {"runs": n, "signatures_per_run": signatures_per_run, "seconds": round(elapsed, 3),
                  "runs_per_s": round(n / elapsed, 1), "cpu_s_per_1000_runs": round(cpu / n * 1000, 3),
                  "peak_rss_mib": round(rss, 1), "api_requests_per_run": round((reqs1 - reqs0) / n, 3),
                  "server_cpu_s": {k: round(v, 2) for k, v in servers.items()}, "server_verbs": verbs}
        result.update(extra)
        return result
    finally:
        if server:
            server.stop()
        for h in started:
            h.stop()
        if os.environ.get("BENCH_KEEP"):
            print("kept " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


BASE = {"artifacts.taskrun.format": "in-toto", "artifacts.taskrun.storage": "tekton",
        "artifacts.pipelinerun.storage": "tekton"}


def scenario_a(build, n, runs_file, oci):
    cfg = dict(BASE, **{"artifacts.oci.storage": "tekton" if oci else ""})
    return signing_run(build, n, runs_file, cfg, 2 if oci else 1)


def scenario_ha(build, n, runs_file, replicas):
    """A1 shared by `replicas` chainsd processes (leader election on, 6 buckets, short leases), all
    started at once on core 0: runs/s, CPU per run of all replicas together, the share each took."""
    work = tempfile.mkdtemp(prefix="chainsd-bench-ha-")
    os.chmod(work, 0o755)
    le = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "tekton-chains-config-leader-election", "namespace": "tekton-chains"},
          "data": {"buckets": "6", "lease-duration": "2s", "renew-deadline": "1500ms", "retry-period": "200ms"}}
    cfg = dict(BASE, **{"artifacts.oci.storage": ""})
    server = Server(build, work, [runs_file, config_file(work, cfg, [le])])
    procs = []
    try:
        t0 = time.monotonic()
        for i in range(replicas):
            d = os.path.join(work, "r%d" % i)
            os.makedirs(d)
            os.chmod(d, 0o755)
            procs.append(start_chainsd(build, d, server))
        done = 0
        while done < n:
            time.sleep(0.05)
            done = sum(metric(addr, SIGNED) for _, addr in procs)
            if any(metric(addr, FAILED) for _, addr in procs):
                raise RuntimeError("runs marked failed")
            if time.monotonic() - t0 > 600:
                raise RuntimeError("timeout: %d of %d signed" % (done, n))
        elapsed = time.monotonic() - t0
        shares = [int(metric(addr, SIGNED)) for _, addr in procs]
        cpu = sum(proc_cpu_seconds(p.pid) for p, _ in procs)
        rss = [round(proc_status_mib(p.pid, "VmHWM"), 1) for p, _ in procs]
        return {"replicas": replicas, "runs": n, "signatures_per_run": 1, "seconds": round(elapsed, 3),
                "runs_per_s": round(n / elapsed, 1), "cpu_s_per_1000_runs": round(cpu / n * 1000, 3),
                "runs_signed_by_each": shares, "peak_rss_mib_each": rss, "peak_rss_mib": max(rss),
                "api_requests_per_run": 0, "server_cpu_s": {"kube-testserver": round(proc_cpu_seconds(server.proc.pid), 2)}}
    finally:
        for p, _ in procs:
            p.terminate()
            p.wait()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def scenario_c(build, n, runs_file):
    rekor = lambda work: Helper("rekor-stub", ["/usr/bin/python3", os.path.join(
        ROOT, "tests/support/rekor-stub/rekor_stub.py"), "--port", "0"], r"listening on (\d+)")
    cfg = lambda hs: dict(BASE, **{"artifacts.oci.storage": "", "transparency.enabled": "true",
                                   "transparency.url": "http://127.0.0.1:" + hs[0].value})
    return signing_run(build, n, runs_file, cfg, 1, helpers=[rekor])


def rekor_v2_helpers():
    """The Rekor v2 stand-in (a checkpoint every second, as the public log) and the TSA, core 1."""
    stub = os.path.join(ROOT, "tests/support")
    v2 = lambda work: Helper("rekor-v2-stub", ["/usr/bin/python3", os.path.join(stub, "rekor-v2-stub/rekor_v2_stub.py"),
                                               "--port", "0", "--checkpoint-interval", "1",
                                               "--public-key-out", os.path.join(work, "rekor-v2.pub")],
                             r"listening on (\d+)")
    tsa = lambda work: Helper("tsa-stub", ["/usr/bin/python3", os.path.join(stub, "tsa-stub/tsa_stub.py"), "--port", "0",
                                           "--chain-out", os.path.join(work, "tsa-chain.pem")], r"listening on (\d+)")
    return [v2, tsa]


def rekor_v2_waiting(addr, helpers):
    # How many uploads the log held at once: what the run slots must not cap.
    v2 = next(h for h in helpers if h.name == "rekor-v2-stub")
    with urllib.request.urlopen("http://127.0.0.1:%s/__stub/stats" % v2.value, timeout=10) as r:
        st = json.load(r)
    return {"rekor_v2_max_waiting_uploads": st["maxWaiting"], "rekor_v2_entries": st["treeSize"]}


def scenario_c2(build, n, runs_file):
    """C with Rekor v2 + RFC 3161 timestamps: every upload held until the log's next checkpoint."""
    def cfg(hs):
        # Each helper's last argument is the file it wrote: the log's key, the TSA's chain.
        return dict(BASE, **{"artifacts.oci.storage": "", "transparency.enabled": "true",
                             "transparency.version": "v2", "transparency.url": "http://127.0.0.1:" + hs[0].value,
                             "transparency.publickey": hs[0].proc.args[-1],
                             "transparency.timestamp.url": "http://127.0.0.1:" + hs[1].value,
                             "transparency.timestamp.certchain": hs[1].proc.args[-1]})
    return signing_run(build, n, runs_file, cfg, 1, helpers=rekor_v2_helpers(), after=rekor_v2_waiting)


def tlog_v2_load(build, uploads, in_flight):
    """The log step alone (bench/tlog_v2_load.cpp on core 0) against the same stand-ins."""
    work = tempfile.mkdtemp(prefix="chainsd-bench-")
    started = []
    try:
        for make in rekor_v2_helpers():
            started.append(make(work))
        v2, tsa = started
        cpu0 = {h.name: proc_cpu_seconds(h.proc.pid) for h in started}
        out = subprocess.run(["taskset", "-c", "0", os.path.join(build, "bench/tlog_v2_load"),
                              "--log", "http://127.0.0.1:" + v2.value, "--log-key", os.path.join(work, "rekor-v2.pub"),
                              "--tsa", "http://127.0.0.1:%s/api/v1/timestamp" % tsa.value,
                              "--tsa-chain", os.path.join(work, "tsa-chain.pem"), "--uploads", str(uploads),
                              "--in-flight", str(in_flight), "--idle-per-host", str(in_flight)],
                             capture_output=True, text=True, timeout=600)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["server_cpu_ms_per_upload"] = {h.name: round((proc_cpu_seconds(h.proc.pid) - cpu0[h.name]) / uploads * 1000, 3)
                                              for h in started}
        return result
    finally:
        for h in started:
            h.stop()
        shutil.rmtree(work, ignore_errors=True)


def scenario_d(build, n, runs_file):
    mock = lambda work: Helper("kafka-mock", [os.path.join(build, "tests/support/kafka-mock/kafka-mock"), "--brokers", "3",
                                              "--topic", "chains:3:3"], r"^(\S+)$")
    cfg = lambda hs: dict(BASE, **{"artifacts.oci.storage": "", "artifacts.taskrun.storage": "kafka",
                                   "storage.pubsub.provider": "kafka", "storage.pubsub.topic": "chains",
                                   "storage.pubsub.kafka.bootstrap.servers": hs[0].value})
    return signing_run(build, n, runs_file, cfg, 1, plugins=("x509", "tekton", "kafka"), helpers=[mock])


KMS_LATENCY_MS = 5


def scenario_k(build, n, runs_file):
    """A1 signed through the kms signer (Vault transit, tests/support/vault-stub) whose every sign
    answer waits KMS_LATENCY_MS: concurrency must hide the latency (runs/s against 1/latency)."""
    vault = lambda work: Helper("vault-stub", ["/usr/bin/python3", os.path.join(
        ROOT, "tests/support/vault-stub/vault_stub.py"), "--port", "0", "--root-token", "bench", "--key", "release",
        "--fault", "slow:%d" % KMS_LATENCY_MS], r"listening on (\d+)")

    def cfg(hs):
        return dict(BASE, **{"artifacts.oci.storage": "", "artifacts.taskrun.signer": "kms",
                             "artifacts.pipelinerun.signer": "kms", "artifacts.oci.signer": "kms",
                             "signers.kms.kmsref": "hashivault://release",
                             "signers.kms.auth.address": "http://127.0.0.1:" + hs[0].value,
                             "signers.kms.auth.token": "bench"})

    def sign_calls(addr, hs):
        stats = json.loads(http_get("http://127.0.0.1:%s/__stub/stats" % hs[0].value)[1])
        return {"kms_sign_calls": sum((stats.get("sign") or {}).values()), "kms_latency_ms": KMS_LATENCY_MS,
                "one_at_a_time_runs_per_s": round(1000.0 / KMS_LATENCY_MS, 1)}

    return signing_run(build, n, runs_file, cfg, 1, plugins=("kms", "tekton"), helpers=[vault], key=False,
                       after=sign_calls)


def scenario_e(build, n, runs_file):
    # fulcio-stub trusts kube-testserver's token issuer, whose discovery document it reads at start:
    # it starts after the server, on a port chosen before the config is written.
    port = free_port()
    fulcio = lambda work: Helper("fulcio-stub", ["/usr/bin/python3", os.path.join(
        ROOT, "tests/support/fulcio-stub/fulcio_stub.py"), "--port", str(port), "--trust", server_url],
        r"listening on (\d+)")
    server_url = "http://127.0.0.1:%d" % free_port()

    def env(work):
        sa = os.path.join(work, "serviceaccount")
        os.makedirs(sa, exist_ok=True)
        with open(os.path.join(sa, "namespace"), "w") as f:
            f.write("tekton-chains")
        return {"CHAINSD_SERVICEACCOUNT_DIR": sa}

    def certs(addr, hs):
        stats = json.loads(http_get("http://127.0.0.1:%d/__stub/stats" % port)[1])
        return {"certificate_requests": stats.get("certificates")}

    sa = {"apiVersion": "v1", "kind": "ServiceAccount",
          "metadata": {"name": "tekton-chains-controller", "namespace": "tekton-chains"}}
    cfg = dict(BASE, **{"artifacts.oci.storage": "", "signers.x509.fulcio.enabled": "true",
                        "signers.x509.fulcio.address": "http://127.0.0.1:%d" % port})
    return signing_run(build, n, runs_file, cfg, 1, late_helpers=[fulcio], key=False, env=env, extra_objects=[sa],
                       after=certs, listen=server_url.split("://", 1)[1])


def scenario_f(build, n, runs_file_for):
    """Attestation (.att) and image signature (.sig) of every run pushed to docker-registry."""
    host = "127.0.0.1:%d" % free_port()
    runs = runs_file_for(host)
    cfg = dict(BASE, **{"artifacts.taskrun.storage": "oci", "artifacts.oci.storage": "oci",
                        "artifacts.pipelinerun.storage": "oci", "storage.oci.repository.insecure": "true"})
    return signing_run(build, n, runs, cfg, 2, plugins=("x509", "oci"), helpers=[lambda work: Registry(work, host)])


def registry_alone(pushes):
    """F's ceiling without chainsd: docker-registry (core 1) taking the requests of `pushes` signature
    pushes from bench/registry_push.py (Python threads, core 0): its CPU per push bounds F."""
    work = tempfile.mkdtemp(prefix="chainsd-bench-")
    host = "127.0.0.1:%d" % free_port()
    reg = Registry(work, host)
    try:
        cpu0 = proc_cpu_seconds(reg.proc.pid)
        out = sh("taskset", "-c", "0", sys.executable, os.path.join(ROOT, "bench/registry_push.py"), host, "bench/app",
                 str(pushes), timeout=1800)
        cpu = proc_cpu_seconds(reg.proc.pid) - cpu0
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    r = json.loads(out.strip().splitlines()[-1])
    r["storage"] = "inmemory" if os.environ.get("BENCH_REGISTRY_INMEMORY") else "filesystem"
    r["registry_cpu_ms_per_push"] = round(1000 * cpu / pushes, 2)
    # F pushes two manifests per run (.sig and .att): the registry's one-core limit in runs/s.
    r["one_core_ceiling_runs_per_s"] = round(1000 / r["registry_cpu_ms_per_push"] / 2, 1) if cpu > 0 else None
    return r


def scenario_b(build, rate, seconds, runs_file):
    """Runs arrive at `rate`/s for `seconds`; latency from arrival to the signed annotation."""
    work = tempfile.mkdtemp(prefix="chainsd-bench-")
    os.chmod(work, 0o755)
    with open(runs_file) as f:
        docs = [line for line in f]
    n = min(len(docs), int(rate * seconds))
    batch = max(1, int(rate / 100))  # one POST every 10 ms
    bodies = ['{"kind":"TaskRunList","items":[' + ",".join(docs[i:i + batch]) + "]}" for i in range(0, n, batch)]
    server = Server(build, work, [config_file(work, dict(BASE, **{"artifacts.oci.storage": ""}))],
                    "--latency-annotation", "chains.tekton.dev/signed=true")
    try:
        proc, addr = start_chainsd(build, work, server)
        deadline = time.monotonic() + 30
        while http_get("http://%s/readyz" % addr)[0] != 200 or time.monotonic() > deadline:
            time.sleep(0.02)
        cpu0 = proc_cpu_seconds(proc.pid)
        srv0 = proc_cpu_seconds(server.proc.pid)
        t0 = time.monotonic()
        interval = batch / rate
        late = 0.0
        for k, body in enumerate(bodies):
            target = t0 + k * interval
            now = time.monotonic()
            if now < target:
                time.sleep(target - now)
            else:
                late = max(late, now - target)
            server.post("/testserver/load", body)
        fed = time.monotonic() - t0
        wait_signed(proc, addr, work, n, t0)
        lat = server.stats()["annotation_latency_ms"]
        cpu = proc_cpu_seconds(proc.pid) - cpu0
        srv = proc_cpu_seconds(server.proc.pid) - srv0
        proc.terminate()
        proc.wait()
        return {"runs": n, "target_rate_per_s": rate, "achieved_feed_rate_per_s": round(n / fed, 1),
                "feeder_max_lag_ms": round(late * 1000, 1), "latency_ms": {k: round(v, 2) if isinstance(v, float) else v
                                                                          for k, v in lat.items()},
                "chainsd_cpu_share": round(cpu / fed, 3), "server_cpu_s": {"kube-testserver": round(srv, 2)}}
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def scenario_scale(build, n, runs_file):
    work = tempfile.mkdtemp(prefix="chainsd-bench-")
    os.chmod(work, 0o755)
    server = Server(build, work, [runs_file, config_file(work, {"artifacts.oci.storage": "tekton"})])
    try:
        t0 = time.monotonic()
        proc, addr = start_chainsd(build, work, server)
        while True:
            try:
                if http_get("http://%s/readyz" % addr)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.02)
            if time.monotonic() - t0 > 300:
                raise RuntimeError("not ready after 300 s")
        ready = time.monotonic() - t0
        time.sleep(1)
        signed = metric(addr, SIGNED)
        rss = proc_status_mib(proc.pid, "VmHWM")
        cur = proc_status_mib(proc.pid, "VmRSS")
        proc.terminate()
        proc.wait()
        return {"runs_in_cluster": n, "seconds_to_ready": round(ready, 3), "peak_rss_mib": round(rss, 1),
                "rss_after_ready_mib": round(cur, 1), "signed_again": signed}
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def make_runs(n, path, signed=False, registry=None):
    args = [sys.executable, os.path.join(ROOT, "tests/support/kube-testserver/make-taskruns.py"), str(n), path]
    if registry:
        args += ["--registry", registry]
    sh(*args)
    if signed:
        tmp = path + ".tmp"
        with open(path) as src, open(tmp, "w") as dst:
            for line in src:
                o = json.loads(line)
                o["metadata"].setdefault("annotations", {})["chains.tekton.dev/signed"] = "true"
                dst.write(json.dumps(o) + "\n")
        os.replace(tmp, path)


def kafka_backend(build, messages):
    exe = os.path.join(build, "bench/kafka_throughput")
    out = subprocess.run(["taskset", "-c", "0", exe, "--messages", str(messages),
                          "--plugin", os.path.join(build, PLUGINS["kafka"])],
                         check=True, capture_output=True, text=True, timeout=600).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


ALL = "A1,A2,B,C,C2,D,E,K,F,registry-alone,kafka-backend,tlog-v2-load,scale"
TARGETS = [("A1_taskrun_only", 5000), ("C_transparency_rekor", 2000), ("D_kafka_storage", 2000),
           ("E_keyless_fulcio", 2000), ("F_oci_storage", 2000)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--scale", type=int, default=100000)
    ap.add_argument("--rate", type=float, default=1000, help="scenario B: runs arriving per second")
    ap.add_argument("--seconds", type=float, default=10, help="scenario B: how long runs arrive")
    ap.add_argument("--kafka-messages", type=int, default=10000)
    ap.add_argument("--uploads-in-flight", type=int, default=2000, help="tlog-v2-load: uploads in flight at once")
    ap.add_argument("--only", default=ALL)
    a = ap.parse_args()
    only = set(a.only.split(","))
    if not os.path.exists(os.path.join(a.build, "build.ninja")):
        sh("meson", "setup", a.build, "--buildtype=release", "-Dtests=enabled", cwd=ROOT)
    targets = ["engine/app/chainsd", "tests/support/kube-testserver"] + list(PLUGINS.values())
    if "D" in only:
        targets.append("tests/support/kafka-mock/kafka-mock")
    if "kafka-backend" in only:
        targets.append("bench/kafka_throughput")
    if "tlog-v2-load" in only:
        targets.append("bench/tlog_v2_load")
    subprocess.run(["ninja", "-C", a.build, *targets], check=True, stdout=subprocess.DEVNULL)
    results = {"machine": {"nproc": os.cpu_count()}, "openssl_ecdsap256_sign_per_s_one_core": openssl_ecdsa_signs_per_s()}
    tmp = tempfile.mkdtemp(prefix="chainsd-bench-data-")
    try:
        runs = os.path.join(tmp, "runs.jsonl")
        if only & {"A1", "A2", "B", "C", "C2", "D", "E", "K", "HA1", "HA2", "HA3"}:
            make_runs(max(a.runs, int(a.rate * a.seconds) if "B" in only else 0), runs)
        if "A1" in only:
            results["A1_taskrun_only"] = scenario_a(a.build, a.runs, runs, oci=False)
        for r in (1, 2, 3):
            if "HA%d" % r in only:
                results["HA%d_replicas" % r] = scenario_ha(a.build, a.runs, runs, r)
        if "A2" in only:
            results["A2_taskrun_and_image"] = scenario_a(a.build, a.runs, runs, oci=True)
        if "B" in only:
            results["B_latency_steady_rate"] = scenario_b(a.build, a.rate, a.seconds, runs)
        if "C" in only:
            results["C_transparency_rekor"] = scenario_c(a.build, a.runs, runs)
        if "C2" in only:
            results["C2_transparency_rekor_v2"] = scenario_c2(a.build, a.runs, runs)
        if "tlog-v2-load" in only:
            results["tlog_v2_load"] = tlog_v2_load(a.build, a.runs, a.uploads_in_flight)
        if "D" in only:
            results["D_kafka_storage"] = scenario_d(a.build, a.runs, runs)
        if "E" in only:
            results["E_keyless_fulcio"] = scenario_e(a.build, a.runs, runs)
        if "K" in only:
            results["K_kms_vault"] = scenario_k(a.build, a.runs, runs)
        if "F" in only:
            def local_runs(registry):
                p = os.path.join(tmp, "runs-oci.jsonl")
                make_runs(a.runs, p, registry=registry + "/bench/app")
                return p
            results["F_oci_storage"] = scenario_f(a.build, a.runs, local_runs)
        if "registry-alone" in only:
            results["registry_alone"] = registry_alone(2 * min(a.runs, 2000))
        if "kafka-backend" in only:
            results["kafka_backend_alone"] = kafka_backend(a.build, a.kafka_messages)
        if "scale" in only:
            signed = os.path.join(tmp, "signed.jsonl")
            make_runs(a.scale, signed, signed=True)
            results["scale_signed_runs"] = scenario_scale(a.build, a.scale, signed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ecdsa = results["openssl_ecdsap256_sign_per_s_one_core"]
    for k, v in results.items():
        if isinstance(v, dict) and "signatures_per_run" in v:
            v["fraction_of_one_core_sign_rate"] = round(v["runs_per_s"] * v["signatures_per_run"] / ecdsa, 3)
    print(json.dumps(results, indent=2))
    print("\n| scenario | result |\n|---|---|")
    print("| openssl ECDSA P-256 signs/s (1 core) | %.0f |" % ecdsa)
    for k, v in results.items():
        if isinstance(v, dict) and "signatures_per_run" in v:
            servers = ", ".join("%s %.1f s" % (s, c) for s, c in v["server_cpu_s"].items())
            print("| %s | %.0f runs/s (%.3f of the sign rate), %.3f CPU s/1000 runs, %.0f MiB peak, %.2f API req/run; "
                  "server CPU: %s%s |" % (k, v["runs_per_s"], v["fraction_of_one_core_sign_rate"], v["cpu_s_per_1000_runs"],
                                         v["peak_rss_mib"], v["api_requests_per_run"], servers,
                                         "; %d certificate requests" % v["certificate_requests"]
                                         if "certificate_requests" in v else ""))
    if "B_latency_steady_rate" in results:
        r = results["B_latency_steady_rate"]
        l = r["latency_ms"]
        print("| B: %d runs at %.0f/s (fed %.0f/s) | latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; "
              "chainsd CPU %.0f%% |" % (r["runs"], r["target_rate_per_s"], r["achieved_feed_rate_per_s"], l["p50"],
                                        l["p90"], l["p99"], l["max"], 100 * r["chainsd_cpu_share"]))
    if "registry_alone" in results:
        r = results["registry_alone"]
        print("| docker-registry alone (%s), %d pushes from Python | %.0f pushes/s, %.2f registry CPU ms/push: "
              "one core takes at most %.0f F runs/s |" % (r["storage"], r["pushes"], r["pushes_per_s"],
                                                       r["registry_cpu_ms_per_push"], r["one_core_ceiling_runs_per_s"] or 0))
    for r in results.get("kafka_backend_alone", []):
        print("| kafka backend alone: %d B values, %d in flight | %.0f msgs/s vs librdkafka %.0f msgs/s (ratio %.2f) |" % (
            r["size"], r["in_flight"], r["chainsd_backend_msgs_per_s"], r["librdkafka_msgs_per_s"], r["ratio"]))
    if "scale_signed_runs" in results:
        r = results["scale_signed_runs"]
        print("| scale: %d signed runs | ready in %.2f s, %.0f MiB peak RSS, %d re-signed |" % (
            r["runs_in_cluster"], r["seconds_to_ready"], r["peak_rss_mib"], r["signed_again"]))


if __name__ == "__main__":
    main()

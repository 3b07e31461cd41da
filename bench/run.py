#!/usr/bin/env python3
"""chainsd benchmarks: one command runs the scenarios and prints JSON + a short table.

    bench/run.py [--build build-release] [--runs 20000] [--scale 100000] [--only A,scale]

Scenario A: N finished TaskRuns (~10 KB, an image in their results) preloaded in kube-testserver;
chainsd (x509 ECDSA P-256, tekton storage, in-toto) signs them all; we measure runs/s, CPU seconds
per 1,000 runs, peak RSS, API requests per run, and the server's CPU. A1 signs the run only
(artifacts.oci disabled); A2 also signs the image (two signatures per run, upstream's default).
Scale: N finished runs that are already signed; time until /readyz and chainsd's RSS.
Baseline: `openssl speed -seconds 3 ecdsap256` on one core, measured in the same run, so runs/s
can be read as a fraction of the machine's signing limit. chainsd and kube-testserver are pinned
to different cores with taskset.
Uses only public tools: python3, openssl, taskset (util-linux)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


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
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def metric(addr, name):
    try:
        _, text = http_get("http://%s/metrics" % addr)
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0


class Server:
    def __init__(self, build, work, load):
        self.kubeconfig = os.path.join(work, "kubeconfig")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "1", os.path.join(build, "tests/support/kube-testserver"), "--listen", "127.0.0.1:0",
             "--kubeconfig-out", self.kubeconfig, "--history", "1000000", *sum([["--load", p] for p in load], [])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()

    def stats(self):
        return json.loads(http_get(self.url + "/testserver/stats")[1])

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def api_requests(stats):
    """Requests except watches (a watch is one long request)."""
    verbs = stats.get("verbs") or stats.get("by_verb") or {}
    return sum(v for k, v in verbs.items() if k != "watch"), verbs


def start_chainsd(build, work, server, *extra):
    log = open(os.path.join(work, "chainsd.log"), "w")
    plugins = os.path.join(work, "plugins")
    os.makedirs(plugins, exist_ok=True)
    os.chmod(plugins, 0o755)
    for p in ("plugins/signer-x509/signer-x509.so", "plugins/storage-tekton/storage-tekton.so"):
        shutil.copy(os.path.join(build, p), plugins)
        os.chmod(os.path.join(plugins, os.path.basename(p)), 0o644)
    secrets = os.path.join(work, "secrets")
    if not os.path.exists(secrets):
        os.makedirs(secrets)
        os.chmod(secrets, 0o755)
        sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
           os.path.join(secrets, "x509.pem"))
    wrap = os.environ.get("CHAINSD_BENCH_WRAP", "").split()
    proc = subprocess.Popen(["taskset", "-c", "0", *wrap, os.path.join(build, "engine/app/chainsd"), "--kubeconfig",
                             server.kubeconfig, "--plugin-dir", plugins, "--signing-secrets", secrets,
                             "--metrics-addr", "127.0.0.1:0", *extra],
                            stdout=log, stderr=subprocess.STDOUT)
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
        raise RuntimeError("chainsd did not start: " + open(os.path.join(work, "chainsd.log")).read()[-2000:])
    return proc, addr


def config_file(work, data):
    p = os.path.join(work, "chains-config.json")
    json.dump({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "chains-config", "namespace": "tekton-chains"}, "data": data}, open(p, "w"))
    return p


def scenario_a(build, n, runs_file, oci):
    work = tempfile.mkdtemp(prefix="chainsd-bench-")
    os.chmod(work, 0o755)
    cfg = {"artifacts.taskrun.format": "in-toto", "artifacts.taskrun.storage": "tekton",
           "artifacts.pipelinerun.storage": "tekton", "artifacts.oci.storage": "tekton" if oci else ""}
    server = Server(build, work, [runs_file, config_file(work, cfg)])
    try:
        s0 = server.stats()
        srv_cpu0 = proc_cpu_seconds(server.proc.pid)
        t0 = time.monotonic()
        proc, addr = start_chainsd(build, work, server, "--max-in-flight", "256")
        done = 0
        while done < n:
            time.sleep(0.05)
            done = metric(addr, "watcher_taskrun_marked_signed_total")
            if proc.poll() is not None:
                raise RuntimeError("chainsd exited: " + open(os.path.join(work, "chainsd.log")).read()[-2000:])
            if time.monotonic() - t0 > 600:
                raise RuntimeError("timeout: %d of %d signed" % (done, n))
        elapsed = time.monotonic() - t0
        cpu = proc_cpu_seconds(proc.pid)
        rss = proc_peak_rss_mib(proc.pid)
        srv_cpu = proc_cpu_seconds(server.proc.pid) - srv_cpu0
        s1 = server.stats()
        reqs0, _ = api_requests(s0)
        reqs1, verbs = api_requests(s1)
        proc.terminate()
        proc.wait()
        return {"runs": n, "signatures_per_run": 2 if oci else 1, "seconds": round(elapsed, 3),
                "runs_per_s": round(n / elapsed, 1), "cpu_s_per_1000_runs": round(cpu / n * 1000, 3),
                "peak_rss_mib": round(rss, 1), "api_requests_per_run": round((reqs1 - reqs0) / n, 3),
                "server_cpu_s": round(srv_cpu, 2), "server_verbs": verbs}
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
        signed = metric(addr, "watcher_taskrun_marked_signed_total")
        rss = proc_peak_rss_mib(proc.pid)
        with open("/proc/%d/status" % proc.pid) as f:
            cur = [int(l.split()[1]) / 1024 for l in f if l.startswith("VmRSS:")][0]
        proc.terminate()
        proc.wait()
        return {"runs_in_cluster": n, "seconds_to_ready": round(ready, 3), "peak_rss_mib": round(rss, 1),
                "rss_after_ready_mib": round(cur, 1), "signed_again": signed}
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def make_runs(n, path, signed=False):
    sh(sys.executable, os.path.join(ROOT, "tests/support/kube-testserver/make-taskruns.py"), str(n), path)
    if signed:
        tmp = path + ".tmp"
        with open(path) as src, open(tmp, "w") as dst:
            for line in src:
                o = json.loads(line)
                o["metadata"].setdefault("annotations", {})["chains.tekton.dev/signed"] = "true"
                dst.write(json.dumps(o) + "\n")
        os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    ap.add_argument("--runs", type=int, default=20000)
    ap.add_argument("--scale", type=int, default=100000)
    ap.add_argument("--only", default="A1,A2,scale")
    a = ap.parse_args()
    only = set(a.only.split(","))
    if not os.path.exists(os.path.join(a.build, "build.ninja")):
        sh("meson", "setup", a.build, "--buildtype=release", "-Dtests=enabled", cwd=ROOT)
    subprocess.run(["ninja", "-C", a.build, "engine/app/chainsd", "tests/support/kube-testserver",
                    "plugins/signer-x509/signer-x509.so", "plugins/storage-tekton/storage-tekton.so"], check=True,
                   stdout=subprocess.DEVNULL)
    results = {"machine": {"nproc": os.cpu_count()}, "openssl_ecdsap256_sign_per_s_one_core": openssl_ecdsa_signs_per_s()}
    tmp = tempfile.mkdtemp(prefix="chainsd-bench-data-")
    try:
        if only & {"A1", "A2"}:
            runs = os.path.join(tmp, "runs.jsonl")
            make_runs(a.runs, runs)
            if "A1" in only:
                results["A1_taskrun_only"] = scenario_a(a.build, a.runs, runs, oci=False)
            if "A2" in only:
                results["A2_taskrun_and_image"] = scenario_a(a.build, a.runs, runs, oci=True)
        if "scale" in only:
            signed = os.path.join(tmp, "signed.jsonl")
            make_runs(a.scale, signed, signed=True)
            results["scale_signed_runs"] = scenario_scale(a.build, a.scale, signed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ecdsa = results["openssl_ecdsap256_sign_per_s_one_core"]
    for k in ("A1_taskrun_only", "A2_taskrun_and_image"):
        if k in results:
            r = results[k]
            r["fraction_of_one_core_sign_rate"] = round(r["runs_per_s"] * r["signatures_per_run"] / ecdsa, 3)
    print(json.dumps(results, indent=2))
    print("\n| scenario | result |\n|---|---|")
    print("| openssl ECDSA P-256 signs/s (1 core) | %.0f |" % ecdsa)
    for k in ("A1_taskrun_only", "A2_taskrun_and_image"):
        if k in results:
            r = results[k]
            print("| %s | %.0f runs/s (%.2f of the sign rate), %.2f CPU s/1000 runs, %.0f MiB peak, %.2f API req/run |" % (
                k, r["runs_per_s"], r["fraction_of_one_core_sign_rate"], r["cpu_s_per_1000_runs"], r["peak_rss_mib"],
                r["api_requests_per_run"]))
    if "scale_signed_runs" in results:
        r = results["scale_signed_runs"]
        print("| scale: %d signed runs | ready in %.2f s, %.0f MiB peak RSS, %d re-signed |" % (
            r["runs_in_cluster"], r["seconds_to_ready"], r["peak_rss_mib"], r["signed_again"]))


if __name__ == "__main__":
    main()

"""Soak: SOAK_RUNS (default 3,000) TaskRuns through the real chainsd while the API server fails
requests (500, 429, 409), drops watches and adds latency, the Rekor stand-in answers 5xx, 429 and
slowly, and chainsd is SIGKILLed twice and restarted. At the end:
  - 0 lost: every run is signed;
  - 0 signed twice: no run's signature annotation was ever replaced (read from the API server's
    watch history of every write);
  - log entries: 0 extra for runs no crash interrupted; at most one extra per run in flight at a
    SIGKILL (those are the only runs allowed a second entry).
Run twice: without crashes (half the runs; then 0 extra entries is required) and with the two
SIGKILLs. Prints the figures (runs, entries, extra entries, time)."""
import base64
import hashlib
import http.client
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (Chainsd, StubProcess, Workdir, annotations, chains_config, check, run_tests, taskrun,  # noqa: E402
                    wait_until, SOURCE_ROOT, TESTSERVER)
import ktsutil  # noqa: E402

REKOR_STUB = os.environ.get("REKOR_STUB", os.path.join(SOURCE_ROOT, "tests/support/rekor-stub/rekor_stub.py"))
RUNS = int(os.environ.get("SOAK_RUNS", "3000"))
PHASES = 6


def load(server, first, count):
    lines = []
    for i in range(first, first + count):
        tr = taskrun("soak-%05d" % i)
        tr["metadata"]["uid"] = "soak-uid-%05d" % i
        # A parameter of its own, so that every run's provenance (and log entry) is distinct.
        tr["spec"]["params"] = [{"name": "run", "value": "soak-%05d" % i}]
        lines.append(json.dumps(tr))
    st, _, _ = server.request("POST", "/testserver/load", "\n".join(lines), content_type="application/jsonl",
                              auth=False)
    check(st in (200, 201), "loaded runs %d..%d" % (first, first + count - 1))


def signed_count(server):
    st, _, body = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns")
    n = 0
    for item in body["items"]:
        if annotations(item).get("chains.tekton.dev/signed") == "true":
            n += 1
    return n, body["items"]


def history(server, since, timeout=20):
    """Every write's version of every run after resourceVersion `since`, from the watch history."""
    w = ktsutil.Watch(server, "/apis/tekton.dev/v1/namespaces/default/taskruns?watch=true&resourceVersion=%s"
                              "&timeoutSeconds=3" % since, timeout=timeout)
    events = [ev["object"] for ev in w.all() if ev.get("type") in ("ADDED", "MODIFIED")]
    w.close()
    return events


def entry_payload_hashes(log, size):
    conn = http.client.HTTPConnection("127.0.0.1", int(log.port), timeout=30)
    out = []
    for i in range(size):
        conn.request("GET", "/api/v1/log/entries?logIndex=%d" % i)
        (uuid, e), = json.loads(conn.getresponse().read()).items()
        body = json.loads(base64.b64decode(e["body"]))
        out.append(body["spec"]["payloadHash"]["value"])
    conn.close()
    return out


def soak(RUNS, kill):
    started = time.monotonic()
    with StubProcess(REKOR_STUB) as log:
        server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status", "--history", "400000")
        chains_config(server, {"artifacts.oci.storage": "", "transparency.enabled": "true",
                               "transparency.url": log.url})
        work = Workdir("ecdsa")
        with server:
            _, _, before = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns")
            since = before["metadata"]["resourceVersion"]
            extra = ("--max-retries", "10", "--retry-max-ms", "2000", "--kube-api-qps", "100000")
            c = Chainsd(server, work, *extra, retry_base_ms=50)
            c.wait_ready()
            per = RUNS // PHASES
            killed_in_flight = 0
            kills = []
            faults = [
                {"fail_fraction": {"fraction": 0.05, "status": 500}},
                {"fail_fraction": {"fraction": 0.05, "status": 429, "retry_after_seconds": 0}},
                {"fail_fraction": {"fraction": 0.05, "status": 409}, "drop_watch_after_events": 300, "latency_ms": 2},
                {"clear": True},
                {"clear": True},
                {"clear": True},
            ]
            rekor = ["", "5xx:40", "429:40", "slow:20", "5xx:40", ""]
            for phase in range(PHASES):
                server.faults({"clear": True})
                count = per if phase < PHASES - 1 else RUNS - per * (PHASES - 1)
                load(server, phase * per, count)
                server.faults(faults[phase])
                log.post("/__stub/fault", {"fault": rekor[phase]})
                time.sleep(0.4)
                if kill and phase in (2, 4):
                    # SIGKILL with passes in flight: those runs may get one more log entry.
                    in_flight = c.metric("chainsd_runs_in_flight")
                    killed_in_flight += int(in_flight)
                    kills.append(int(in_flight))
                    c.stop(signal.SIGKILL)
                    server.faults({"clear": True})
                    c = Chainsd(server, work, *extra, retry_base_ms=50)
                    server.faults(faults[phase])
                time.sleep(0.6)
            server.faults({"clear": True})
            log.post("/__stub/fault", {"fault": ""})
            with c:
                n = wait_until(lambda: signed_count(server)[0] == RUNS and RUNS, timeout=240, interval=0.5,
                               what="every run signed")
                check(n == RUNS, "0 lost: %d of %d runs signed" % (n, RUNS))
                failed = c.metric("watcher_taskrun_marked_failed_total")
            _, items = signed_count(server)
            payload_of = {}
            for item in items:
                uid = item["metadata"]["uid"]
                p = annotations(item)["chains.tekton.dev/payload-taskrun-" + uid]
                payload_of[hashlib.sha256(base64.b64decode(p)).hexdigest()] = item["metadata"]["name"]

            # Signed twice = a signature annotation replaced by another value at some write.
            seen = {}
            replaced = 0
            writes = history(server, since)
            for obj in writes:
                uid = obj["metadata"]["uid"]
                sig = annotations(obj).get("chains.tekton.dev/signature-taskrun-" + uid)
                if sig is None:
                    continue
                if uid in seen and seen[uid] != sig:
                    replaced += 1
                seen[uid] = sig
            check(len(seen) == RUNS, "the history shows every run's signature (%d)" % len(seen))
            check(replaced == 0, "0 signed twice: %d signature annotations replaced" % replaced)

            size = log.stats()["treeSize"]
            hashes = entry_payload_hashes(log, size)
            per_run = {}
            for h in hashes:
                name = payload_of.get(h)
                check(name is not None, "every log entry belongs to a signed run's payload")
                per_run[name] = per_run.get(name, 0) + 1
            extra_entries = size - RUNS
            twice = sum(1 for v in per_run.values() if v > 1)
            missing = sorted(set(payload_of.values()) - set(per_run))
            if missing:
                item = next(i for i in items if i["metadata"]["name"] == missing[0])
                print("runs without an entry: %d, e.g. %s: %s" % (len(missing), missing[0], {
                    k: v[:100] for k, v in annotations(item).items()}))
            check(len(per_run) == RUNS, "every run has its log entry (%d of %d; tree size %d)" % (len(per_run), RUNS, size))
            check(max(per_run.values()) <= 2, "no run logged more than twice (max %d)" % max(per_run.values()))
            if not kill:
                check(extra_entries == 0, "faults without a crash: 0 extra log entries (got %d)" % extra_entries)
            check(extra_entries <= killed_in_flight,
                  "extra entries (%d) only for runs in flight at the %d SIGKILLs (%d in flight)"
                  % (extra_entries, len(kills), killed_in_flight))
            print("soak: %d runs, %d log entries, %d extra (%d runs logged twice; %s in flight at the kills), "
                  "%d marked failed then, %.1f s" % (RUNS, size, extra_entries, twice, kills, failed,
                                                     time.monotonic() - started), flush=True)
        work.remove()


def test_soak_faults_without_a_crash_log_each_run_once():
    soak(RUNS // 2, kill=False)


def test_soak_faults_and_two_sigkills_lose_nothing_and_sign_once():
    soak(RUNS, kill=True)


run_tests(globals())

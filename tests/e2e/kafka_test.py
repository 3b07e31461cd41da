"""Kafka broker outage, end to end: the real chainsd signs 1,000 finished TaskRuns into librdkafka's
mock cluster (3 brokers, topic chains:3:3, over the wire protocol); in the middle of signing every
broker goes down for 30 s, then comes back. After recovery every run must be signed (none failed),
and an independent client (kafkajs) must read exactly one record per run: key = the run's uid,
value = the signature stored on the run (chains.tekton.dev/signature-taskrun-<uid>). With the
plugin's defaults the stores wait the outage out (no run is signed twice) and delivery resumes
within seconds. Prints the measured numbers as one JSON line. KAFKA_E2E_RUNS / KAFKA_E2E_OUTAGE_S
change the scale for experiments."""
import base64
import collections
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import e2elib  # noqa: E402
from e2elib import Chainsd, Workdir, annotations, chains_config, check, fail, run_tests, taskrun, SOURCE_ROOT, TESTSERVER
import ktsutil

RUNS = int(os.environ.get("KAFKA_E2E_RUNS", "1000"))
OUTAGE_S = float(os.environ.get("KAFKA_E2E_OUTAGE_S", "30"))
BROKERS = 3
TOPIC = "chains"
# The outage starts once this many records were acknowledged: signing is then well under way.
OUTAGE_AFTER = max(1, RUNS // 10)
RECOVERY_TIMEOUT_S = 120


class KafkaMock:
    """tests/support/kafka-mock as a child: bootstrap servers on its first stdout line, commands
    ("down 2", "up 2") on stdin, each answered with one line ("ok" or "error: ...")."""

    def __init__(self, exe, *topics, brokers=3):
        args = [exe, "--brokers", str(brokers), "--exit-with-parent"]
        for t in topics:
            args += ["--topic", t]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.bootstrap = self.proc.stdout.readline().strip()
        if not self.bootstrap:
            fail("kafka-mock printed no bootstrap servers (exit=%s)" % self.proc.poll())

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        check(answer == "ok", "kafka-mock: %s -> %s" % (cmd, answer))

    def stop(self):
        e2elib.stop_process(self.proc)


def labelled_metric(c, name, labels):
    """The value of one series, e.g. name{result="delivered"}; 0 when absent."""
    _, text = c.get("/metrics")
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        have = ",".join(sorted(p for p in (m.group(2) or "").split(",") if p))
        if have == want:
            return float(m.group(3))
    return 0.0


def write_runs(path, count):
    """`count` finished TaskRuns as JSON lines for kube-testserver --load (created in one go at
    start-up instead of one POST each)."""
    with open(path, "w") as f:
        for i in range(count):
            tr = taskrun("outage-%04d" % i)
            tr["metadata"]["uid"] = "00000000-0000-4000-8000-%012d" % i
            f.write(json.dumps(tr, separators=(",", ":")) + "\n")


def list_runs(server):
    st, _, body = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns")
    check(st == 200, "taskruns listed")
    return body["items"]


def consume(bootstrap, expected, timeout_ms):
    r = subprocess.run(["node", os.path.join(SOURCE_ROOT, "tests", "plugins", "storage-kafka", "consume.js"), bootstrap, TOPIC,
                        str(expected), str(timeout_ms)], capture_output=True, text=True,
                       timeout=timeout_ms / 1000 + 30, cwd=os.path.join(SOURCE_ROOT, "tests"))
    if r.returncode != 0:
        fail("consume.js failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_all_brokers_down_for_30s_while_signing_1000_runs():
    mock_exe = os.environ.get("KAFKA_MOCK")
    mock = KafkaMock(mock_exe, "%s:3:3" % TOPIC, brokers=BROKERS)
    tmp = tempfile.mkdtemp(prefix="chainsd-kafka-e2e-")
    try:
        print("mock cluster at " + mock.bootstrap, flush=True)
        runs_file = os.path.join(tmp, "taskruns.jsonl")
        write_runs(runs_file, RUNS)
        server = ktsutil.Server(TESTSERVER, "--lenient-status", "--load", runs_file)
        work = Workdir()
        data = {"artifacts.taskrun.storage": "tekton,kafka",
                "artifacts.oci.storage": "",
                "storage.pubsub.provider": "kafka",
                "storage.pubsub.topic": TOPIC,
                "storage.pubsub.kafka.bootstrap.servers": mock.bootstrap}
        chains_config(server, data)
        with server, Chainsd(server, work) as c:
            delivered = lambda: labelled_metric(c, "chainsd_plugin_kafka_records_total", {"result": "delivered"})
            marked = lambda: c.metric("watcher_taskrun_marked_signed_total")
            started = time.monotonic()
            deadline = started + 60
            while delivered() < OUTAGE_AFTER:
                if time.monotonic() > deadline:
                    fail("fewer than %d records delivered within 60 s" % OUTAGE_AFTER)
                time.sleep(0.005)
            for b in range(1, BROKERS + 1):
                mock.command("down %d" % b)
            down_at = time.monotonic()
            at_down = marked()
            print("outage starts %.2f s after chainsd started, %d runs marked signed" % (down_at - started, at_down),
                  flush=True)
            check(at_down < RUNS * 0.8, "the outage starts in the middle of signing (%d of %d runs marked)" %
                  (at_down, RUNS))
            # Records acknowledged before the last broker went down may still be counted; after a
            # settling second, nothing may get through while the cluster is down.
            time.sleep(1)
            during_start = delivered()
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            during_end = delivered()
            check(during_end == during_start,
                  "no record is acknowledged while every broker is down (%d -> %d)" % (during_start, during_end))
            for b in range(1, BROKERS + 1):
                mock.command("up %d" % b)
            up_at = time.monotonic()
            outage = up_at - down_at
            deadline = up_at + RECOVERY_TIMEOUT_S
            first_ack_after_up = None
            while marked() < RUNS:
                if first_ack_after_up is None and delivered() > during_end:
                    first_ack_after_up = time.monotonic() - up_at
                if time.monotonic() > deadline:
                    fail("only %d of %d runs marked signed %d s after the brokers came back" %
                         (marked(), RUNS, RECOVERY_TIMEOUT_S))
                if c.proc.poll() is not None:
                    fail("chainsd exited with %s" % c.proc.returncode)
                time.sleep(0.05)
            recovered = time.monotonic() - up_at
            if first_ack_after_up is None:
                first_ack_after_up = recovered  # all done between two polls: an upper bound

            items = list_runs(server)
            failed_runs = c.metric("watcher_taskrun_marked_failed_total")
            kafka = {r: int(labelled_metric(c, "chainsd_plugin_kafka_records_total", {"result": r}))
                     for r in ("delivered", "failed", "unconfirmed")}

        by_uid = {}
        retried = 0
        not_signed = []
        for tr in items:
            a = annotations(tr)
            uid = tr["metadata"]["uid"]
            if a.get("chains.tekton.dev/signed") != "true":
                not_signed.append("%s=%s" % (tr["metadata"]["name"], a.get("chains.tekton.dev/signed")))
            if "chains.tekton.dev/retries" in a:
                retried += 1
            sig = a.get("chains.tekton.dev/signature-taskrun-" + uid)
            by_uid[uid] = base64.b64decode(sig) if sig else None

        records = consume(mock.bootstrap, RUNS, 60000)
        keys = [base64.b64decode(r["key"]).decode() if r["key"] else "" for r in records]
        per_key = collections.Counter(keys)
        duplicates = sum(n - 1 for n in per_key.values())
        strangers = [k for k in per_key if k not in by_uid]
        missing = [u for u in by_uid if per_key[u] == 0]
        mismatched = [k for k, r in zip(keys, records) if by_uid.get(k) != base64.b64decode(r["value"])]
        print(json.dumps({"runs": RUNS, "brokers_down": BROKERS, "outage_s": round(outage, 1),
                          "runs_marked_when_down": int(at_down),
                          "first_ack_after_up_s": round(first_ack_after_up, 2),
                          "all_signed_after_up_s": round(recovered, 1),
                          "records_read": len(records), "duplicates": duplicates, "missing": len(missing),
                          "runs_retried_by_engine": retried, "runs_marked_failed": int(failed_runs),
                          "kafka_records": kafka}), flush=True)

        check(len(items) == RUNS, "%d runs in the server" % RUNS)
        check(not not_signed, "every run carries chains.tekton.dev/signed=true (not: %s)" % not_signed[:5])
        check(failed_runs == 0, "no run was marked failed")
        check(all(v is not None for v in by_uid.values()), "every run holds its signature")
        # The outage is shorter than the plugin's default message.timeout.ms (120 s): the stores
        # wait it out instead of failing, so no run is signed twice.
        check(retried == 0 and kafka["failed"] == 0 and kafka["unconfirmed"] == 0,
              "no store failed and no run needed a second signing pass (%d runs retried, records: %s)" %
              (retried, kafka))
        # librdkafka's reconnect backoff grows to reconnect.backoff.max.ms while the brokers are
        # down (librdkafka's default 10 s made this 0.3-7 s; the plugin's default is 1 s).
        check(first_ack_after_up < 5,
              "delivery resumed within 5 s of the brokers coming back (%s s)" % first_ack_after_up)
        check(kafka["delivered"] == RUNS, "chainsd counted %d acknowledged records (%d)" % (RUNS, kafka["delivered"]))
        check(not strangers, "every record's key is a run's uid (others: %s)" % strangers[:5])
        check(not missing, "every run's record was read (missing: %s)" % missing[:5])
        check(duplicates == 0, "no run's record was read twice (%d duplicates)" % duplicates)
        check(len(records) == RUNS, "kafkajs read exactly %d records (%d)" % (RUNS, len(records)))
        check(not mismatched, "every value is the signature stored on its run (not: %s)" % mismatched[:5])
        work.remove()
    finally:
        mock.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    e2elib.require(os.environ.get("KAFKA_MOCK"), "KAFKA_MOCK is not set (run through meson test)")
    e2elib.require_node_module("kafkajs")  # the records are read back by kafkajs
    run_tests(globals())

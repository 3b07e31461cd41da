"""Upstream's documented Kafka command, as users copy it (quote fixed, `storage.pubusub.topic` still
misspelled): applied with kubectl, the running chainsd warns with the likely key, and
`chainsd config check` on `kubectl get -o yaml` output reports the warning and, once the pub/sub
backend is selected, the missing topic; spelled right, the check passes."""
import base64
import json
import os
import subprocess

import e2elib  # noqa: E402
from e2elib import (CHAINSD, Chainsd, Workdir, annotations, chains_config, check, create, kubectl, run_tests, taskrun,
                    wait_signed, wait_until, SOURCE_ROOT, TESTSERVER)
import ktsutil

DOCUMENTED = ('{"data": {"storage.pubsub.provider": "kafka","storage.pubusub.topic": "chains", '
              '"storage.pubsub.kafka.bootstrap.servers":"kafka-0.kafka-headless.default.svc.cluster.local:9092"}}')


def config_check(server, work):
    yaml = kubectl(server, "get", "configmap", "chains-config", "-n", "tekton-chains", "-o", "yaml").stdout
    r = subprocess.run([CHAINSD, "config", "check", "--plugin-dir", work.plugins, "--signing-secrets", work.secrets,
                        "-"], input=yaml, capture_output=True, text=True, timeout=60)
    print(r.stdout + r.stderr, flush=True)
    return r.returncode, r.stdout


def test_documented_kafka_command_warns_in_log_and_config_check():
    server = ktsutil.Server(TESTSERVER, "--lenient-status")
    work = Workdir()
    chains_config(server, {"artifacts.oci.storage": "tekton"})
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains", "-p", DOCUMENTED)
        wait_until(lambda: "did you mean storage.pubsub.topic?" in c.log(), what="the misspelling warning in the log")
        unselected = "are set but no artifacts.*.storage selects kafka, so nothing is stored there; add kafka"
        check(unselected in c.log(), "the log says nothing selects the pub/sub backend and what to add")
        check(c.metric("chainsd_config_warnings") == 2, "chainsd_config_warnings counts both warnings (%s)"
              % c.metric("chainsd_config_warnings"))
        rc, out = config_check(server, work)
        check(rc == 0, "the config is still valid while nothing selects the pub/sub backend")
        check(unselected in out and "e.g. artifacts.taskrun.storage: tekton,kafka" in out,
              "config check says nothing selects the pub/sub backend, naming the key to add")
        check("(2 warnings, 0 errors)" in out, "config check counts it: not \"accepted (0 warnings)\"")
        check('unknown key "storage.pubusub.topic" is ignored; did you mean storage.pubsub.topic?' in out,
              "config check shows the warning with the likely key")
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"artifacts.taskrun.storage": "kafka"}}')
        rc, out = config_check(server, work)
        check(rc == 1, "selecting the pub/sub backend without a topic is rejected")
        check("storage.pubsub.topic is not set" in out, "the error names storage.pubsub.topic")
        kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains",
                "-p", '{"data":{"storage.pubsub.topic": "chains"}}')
        rc, out = config_check(server, work)
        check(rc == 0 and "accepted" in out, "spelled right, the check passes")
    work.remove()


def test_fixed_spelling_makes_messages_flow_without_restart():
    """With the key spelled right and the backend selected live, signed runs reach Kafka (librdkafka's
    mock cluster over the wire protocol), read back by kafkajs: value = the DSSE envelope stored on
    the run, header payload = base64 of the payload."""
    mock = os.environ.get("KAFKA_MOCK")
    broker = subprocess.Popen([mock, "--brokers", "3", "--topic", "chains:3:3", "--exit-with-parent"],
                              stdout=subprocess.PIPE, text=True)
    try:
        bootstrap = broker.stdout.readline().strip()
        check(bootstrap != "", "mock cluster at " + bootstrap)
        server = ktsutil.Server(TESTSERVER, "--lenient-status")
        work = Workdir()
        chains_config(server, {"artifacts.oci.storage": "tekton"})
        with server, Chainsd(server, work) as c:
            c.wait_ready()
            kubectl(server, "patch", "configmap", "chains-config", "-n", "tekton-chains", "-p", json.dumps(
                {"data": {"storage.pubsub.provider": "kafka", "storage.pubsub.topic": "chains",
                          "storage.pubsub.kafka.bootstrap.servers": bootstrap,
                          "artifacts.taskrun.storage": "tekton,kafka"}}))
            wait_until(lambda: any(l.get("version") == "3" for l in c.lines("chains-config applied")),
                       what="the live config change")
            create(server, taskrun("to-kafka"))
            tr = wait_signed(server, "taskruns", "default", "to-kafka", timeout=60)
            uid = tr["metadata"]["uid"]
            r = subprocess.run(["node", os.path.join(SOURCE_ROOT, "tests", "plugins", "storage-kafka", "consume.js"), bootstrap, "chains",
                                "1", "20000"], capture_output=True, text=True, timeout=60,
                               cwd=os.path.join(SOURCE_ROOT, "tests"))
            records = json.loads(r.stdout.strip().splitlines()[-1])
            check(len(records) == 1, "exactly one message for the one signed run (%d)" % len(records))
            rec = records[0]
            envelope = base64.b64decode(annotations(tr)["chains.tekton.dev/signature-taskrun-" + uid])
            check(base64.b64decode(rec["value"]) == envelope, "the value is the DSSE envelope stored on the run")
            headers = {k: base64.b64decode(v) for k, v in rec["headers"]}
            payload = base64.b64decode(annotations(tr)["chains.tekton.dev/payload-taskrun-" + uid])
            check(base64.b64decode(headers["payload"]) == payload, "header payload = base64 of the signed payload")
            check(base64.b64decode(rec["key"]).decode() == uid, "the message key is the run's uid")
            check(headers["storage-key"].decode() == "tekton.dev-v1-TaskRun-" + uid,
                  "header storage-key is upstream's FullKey, <group>-<version>-<kind>-<uid>")
        work.remove()
    finally:
        e2elib.stop_process(broker)


if __name__ == "__main__":
    e2elib.require(os.environ.get("KAFKA_MOCK"), "KAFKA_MOCK is not set (run through meson test)")
    e2elib.require_node_module("kafkajs")  # the records are read back by kafkajs
    run_tests(globals())

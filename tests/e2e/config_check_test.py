"""Upstream's documented Kafka command, as users copy it (quote fixed, `storage.pubusub.topic` still
misspelled): applied with kubectl, the running chainsd warns with the likely key, and
`chainsd config check` on `kubectl get -o yaml` output reports the warning and, once the pub/sub
backend is selected, the missing topic; spelled right, the check passes."""
import subprocess

from e2elib import (CHAINSD, Chainsd, Workdir, chains_config, check, kubectl, run_tests, wait_until, TESTSERVER)
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
        rc, out = config_check(server, work)
        check(rc == 0, "the config is still valid while nothing selects the pub/sub backend")
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


if __name__ == "__main__":
    run_tests(globals())

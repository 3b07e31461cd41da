#!/usr/bin/env python3
"""Writes N TaskRuns (completed, with a realistic ~10 KB status) as JSON lines, for --load in
benchmarks:  make-taskruns.py 100000 /tmp/taskruns.jsonl [--namespaces 10] [--size 10000] [--registry R]"""
import argparse
import json
import uuid

ap = argparse.ArgumentParser()
ap.add_argument("count", type=int)
ap.add_argument("out")
ap.add_argument("--namespaces", type=int, default=10)
ap.add_argument("--size", type=int, default=10000, help="approximate bytes per object")
ap.add_argument("--registry", default="registry.example/app", help="repository the runs' IMAGE_URL results name")
a = ap.parse_args()

with open(a.out, "w") as f:
    for i in range(a.count):
        steps = []
        obj = {
            "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": "tr-%07d" % i, "namespace": "bench-%d" % (i % a.namespaces),
                         "labels": {"app": "bench", "tekton.dev/task": "build", "shard": str(i % 16)},
                         "uid": str(uuid.uuid4())},
            "spec": {"taskRef": {"name": "build"}, "serviceAccountName": "default",
                     "params": [{"name": "revision", "value": "%040x" % i}]},
            "status": {"podName": "tr-%07d-pod" % i, "startTime": "2026-01-01T00:00:00Z",
                       "completionTime": "2026-01-01T00:01:00Z",
                       "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded",
                                       "lastTransitionTime": "2026-01-01T00:01:00Z"}],
                       "results": [{"name": "IMAGE_DIGEST", "type": "string", "value": "sha256:%064x" % i},
                                   {"name": "IMAGE_URL", "type": "string", "value": "%s:%d" % (a.registry, i)}],
                       "steps": steps},
        }
        base = len(json.dumps(obj))
        n = 0
        while base < a.size:
            step = {"name": "step-%d" % n, "container": "step-step-%d" % n, "imageID": "docker.io/library/busybox@sha256:%064x" % (i * 100 + n),
                    "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-01T00:00:10Z",
                                   "finishedAt": "2026-01-01T00:00:20Z", "containerID": "containerd://%064x" % n}}
            steps.append(step)
            base += len(json.dumps(step)) + 1
            n += 1
        f.write(json.dumps(obj, separators=(",", ":")) + "\n")

"""engine/ha's bucket function against knative_hash.py (an independent transliteration of
knative.dev/pkg/hash and leaderelection): 1..10 buckets, thousands of keys of realistic and odd
shapes (long names, UTF-8, empty namespace). Argument: the ha-bucket-print helper."""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import knative_hash as k  # noqa: E402


def keys(rng, n):
    out = [("default", "build-1"), ("", "cluster-scoped"), ("ns", ""), ("tekton-pipelines", "x" * 253),
           ("équipe", "exécution-1"), ("a/b", "c")]
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    while len(out) < n:
        ns = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))
        name = rng.choice(["build", "release", "pr", "ci"]) + "-" + "".join(rng.choice(alphabet[:36]) for _ in range(5))
        out.append((ns, name))
    return out


def main():
    helper = sys.argv[1]
    rng = random.Random(17)
    cases = [(b, ns, name) for b in range(1, 11) for ns, name in keys(rng, 600)]
    text = "".join("%d\t%s\t%s\n" % c for c in cases)
    out = subprocess.run([helper], input=text.encode(), capture_output=True, check=True).stdout.decode().splitlines()
    assert len(out) == len(cases), (len(out), len(cases))
    names = {b: (k.lease_names(k.TASKRUN_QUEUE, b), k.lease_names(k.PIPELINERUN_QUEUE, b)) for b in range(1, 11)}
    bad = 0
    for (b, ns, name), line in zip(cases, out):
        tr, pr = names[b]
        want = "%s\t%s" % (k.owner(tr, ns, name), k.owner(pr, ns, name))
        if line != want:
            bad += 1
            if bad < 10:
                print("MISMATCH %d buckets %r/%r: chainsd %r, knative %r" % (b, ns, name, line, want))
    print("%d keys x bucket counts compared, %d mismatches" % (len(cases), bad))
    # The clash path (pinned in buckets_config_test.cpp) needs names whose angles clash for every
    # key: FNV-1a's low 11 bits after a common suffix depend only on those bits before it.
    assert k.fnv64a(b"bucket-12") % 2048 == k.fnv64a(b"bucket-180") % 2048
    clash = ["bucket-12", "bucket-180", "bucket-3"]
    assert [sorted(clash).index(k.owner(clash, "default", n)) for n in ("build-1", "build-2")] == [1, 0]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

"""config/grafana/chainsd-dashboard.json against a running chainsd: every query names metric
families chainsd serves on /metrics (so no panel stays empty because of a typo or a renamed
metric), with HA on and a run signed. Families made on first use (one series per label value,
e.g. signing failures by error_type) are provoked: a run whose log cannot be reached."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (SOURCE_ROOT, TESTSERVER, Chainsd, Workdir, chains_config, check, create, run_tests,  # noqa: E402
                    taskrun, wait_signed, wait_until)
import ktsutil  # noqa: E402

DASHBOARD = os.path.join(SOURCE_ROOT, "config", "grafana", "chainsd-dashboard.json")
# PromQL functions and keywords that look like metric names in the regex below.
NOT_METRICS = {"sum", "rate", "increase", "max", "by", "histogram_quantile", "le"}


def queries():
    with open(DASHBOARD) as f:
        d = json.load(f)
    check(d.get("uid") == "chainsd" and d.get("schemaVersion", 0) >= 36, "a Grafana dashboard (uid, schemaVersion)")
    out = []
    for p in d["panels"]:
        check(p.get("targets"), "panel %r has queries" % p.get("title"))
        for t in p["targets"]:
            out.append((p["title"], t["expr"]))
    return out


def families(expr):
    names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr)) - NOT_METRICS
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def served(text):
    out = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            out.add(line.split()[2])
    return out


def test_every_dashboard_query_names_metrics_chainsd_serves():
    qs = queries()
    check(len(qs) >= 10, "%d queries in the dashboard" % len(qs))
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    work = Workdir("ecdsa")
    with server:
        chains_config(server, {"artifacts.oci.storage": "tekton"})
        st, _, _ = server.request("POST", "/api/v1/namespaces/tekton-chains/configmaps",
                                  {"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "tekton-chains-config-leader-election"},
                                   "data": {"buckets": "2", "lease-duration": "4s", "renew-deadline": "3s",
                                            "retry-period": "1s"}})
        check(st == 201, "leader-election ConfigMap created")
        with Chainsd(server, work, ha=True) as c:
            create(server, taskrun("dash-ok"))
            wait_signed(server, "taskruns", "default", "dash-ok")
            # A failure, so the per-error_type families exist: a transparency log nobody serves.
            applied = len(c.lines("chains-config applied"))
            chains_config(server, {"artifacts.oci.storage": "tekton", "transparency.enabled": "true",
                                   "transparency.url": "http://127.0.0.1:9"})
            wait_until(lambda: len(c.lines("chains-config applied")) > applied, what="config applied")
            create(server, taskrun("dash-nolog"))
            wait_until(lambda: c.lines("signing failed; will retry"), what="a failed pass")
            text = c.get("/metrics")[1]
            have = served(text)
            missing = []
            for title, expr in qs:
                for fam in families(expr):
                    # One code path makes both kinds' failure families (run_metrics::failure):
                    # the TaskRun's stands for the PipelineRun's.
                    twin = fam.replace("watcher_pipelinerun_", "watcher_taskrun_")
                    if fam not in have and not (fam.endswith("_signing_failures_total") and twin in have):
                        missing.append("%s (panel %r)" % (fam, title))
            check(not missing, "every metric the dashboard queries is served: missing %s" % missing)
    work.remove()


if __name__ == "__main__":
    run_tests(globals())

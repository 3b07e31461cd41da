"""Big runs and big backlogs (issue 23 items 2 and 5): a cluster whose runs do not fit in one
64 MiB list page becomes ready and signs them all; a backlog of large runs stays under 75 % of the
memory limit chainsd is given (--memory-limit-mb, as the cgroup's would be). Peak RSS is VmHWM
from /proc/<pid>/status. Figures are printed for the closing note."""
import json
import os
import re
import time

from e2elib import Chainsd, Workdir, chains_config, check, run_tests, taskrun, wait_until, TESTSERVER
import ktsutil


def write_runs(path, count, size):
    """`count` finished TaskRuns of about `size` bytes each, as JSON lines for --load. The bulk is
    a status field provenance does not read, so payloads (and the tekton storage annotations) stay
    small while the objects are as large as the cluster's."""
    with open(path, "w") as f:
        for i in range(count):
            tr = taskrun("big-%05d" % i)
            tr["metadata"]["uid"] = "00000000-0000-4000-8000-%012d" % i
            tr["metadata"]["resourceVersion"] = str(i + 1)
            base = len(json.dumps(tr))
            tr["status"]["podLogsArchive"] = "x" * max(0, size - base - 30)
            f.write(json.dumps(tr) + "\n")


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1))


def sign_all(count, size, *flags, timeout, server_args=()):
    work = Workdir()
    runs = os.path.join(work.path, "runs.jsonl")
    write_runs(runs, count, size)
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "500ms", "--lenient-status", "--load", runs,
                            *server_args, start_timeout=120)
    with server:
        os.unlink(runs)
        chains_config(server, {"artifacts.oci.storage": "tekton"})
        t0 = time.monotonic()
        with Chainsd(server, work, *flags) as c:
            wait_until(lambda: c.get("/readyz")[0] == 200, timeout=timeout, interval=0.2, what="chainsd /readyz")
            ready_s = time.monotonic() - t0
            wait_until(lambda: c.metric("watcher_taskrun_marked_signed_total") >= count, timeout=timeout,
                       interval=0.5, what="%d runs signed" % count)
            signed_s = time.monotonic() - t0
            hwm = vm_hwm_kb(c.proc.pid)
            check(c.metric("watcher_taskrun_marked_signed_total") == count, "each run signed once")
            budget = c.lines("memory budget")
            skipped = c.lines("listed object too big; skipped")
            shrunk = c.lines("list page failed; asking again")
    work.remove()
    return {"ready_s": ready_s, "signed_s": signed_s, "peak_rss_mb": hwm / 1024.0,
            "budget": budget[0] if budget else None, "skipped": len(skipped), "smaller_pages": len(shrunk), "shrunk": shrunk[:5]}


def test_520_runs_of_140_kb_become_ready_and_are_all_signed():
    """520 × 140 KB = 73 MB in one 500-run page: over the old 64 MiB response limit (chainsd then
    never became ready). Pages are now streamed; no object is skipped."""
    r = sign_all(520, 140_000, timeout=300)
    print("FIGURES 520x140KB: ready %.1f s, all signed %.1f s, peak RSS %.0f MiB, pages made smaller %d; budget %s" %
          (r["ready_s"], r["signed_s"], r["peak_rss_mb"], r["smaller_pages"], json.dumps(r["budget"])), flush=True)
    for line in r["shrunk"]:
        print("  " + json.dumps(line), flush=True)
    check(r["skipped"] == 0, "no run skipped")


def test_backlog_of_5000_runs_of_130_kb_stays_under_75_percent_of_256_mib():
    """The budgets (runs in flight, kept documents, progress, list pages) come from the limit.
    Every API request takes 500 ms (--latency-ms), so signing (one patch per run, runs in flight
    bounded) falls behind the list and the backlog really queues up: runs in flight wait holding
    their documents and the queue fills to its budget."""
    limit_mb = 256
    r = sign_all(5000, 130_000, "--memory-limit-mb", str(limit_mb), timeout=900, server_args=("--latency-ms", "500"))
    b = r["budget"]
    check(b is not None and b["limit_mb"] == str(limit_mb) and b["source"] == "--memory-limit-mb",
          "the budget is logged with its source: %r" % b)
    frac = r["peak_rss_mb"] / limit_mb
    print("FIGURES 5000x130KB @ %d MiB: ready %.1f s, all signed %.1f s, peak RSS %.0f MiB = %.0f %% of the limit; "
          "budget %s; pages made smaller %d" % (limit_mb, r["ready_s"], r["signed_s"], r["peak_rss_mb"], frac * 100,
                                               json.dumps(b), r["smaller_pages"]), flush=True)
    check(frac < 0.75, "peak RSS %.0f MiB is under 75 %% of %d MiB" % (r["peak_rss_mb"], limit_mb))


if __name__ == "__main__":
    run_tests(globals())

"""High availability with the real chainsd: replicas share the work through Leases on
kube-testserver (6 buckets per reconciler, short lease settings), every run is signed exactly once
(read from the API server's history of every write), a replica SIGKILLed and another SIGTERMed
mid-way lose nothing, and a replica cut off from the API server stops before its leases expire.
Prints the share each replica took and the failover times."""
import json
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (Chainsd, Workdir, annotations, chains_config, check, run_tests, taskrun, wait_until,  # noqa: E402
                    TESTSERVER)
import ktsutil  # noqa: E402

RUNS = int(os.environ.get("HA_RUNS", "3000"))
LEASE = {"lease-duration": "2s", "renew-deadline": "1500ms", "retry-period": "200ms", "buckets": "6"}


def ha_env():
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status", "--history", "400000")
    chains_config(server, {"artifacts.oci.storage": ""})
    st, _, _ = server.request("POST", "/api/v1/namespaces/tekton-chains/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "tekton-chains-config-leader-election", "namespace": "tekton-chains"}, "data": LEASE})
    check(st == 201, "leader-election ConfigMap created")
    return server, Workdir("ecdsa")


def leases(server):
    """The bucket Leases (upstream's names) and their holders; presence Leases left out."""
    st, _, body = server.request("GET", "/apis/coordination.k8s.io/v1/namespaces/tekton-chains/leases")
    return {i["metadata"]["name"]: i["spec"].get("holderIdentity", "") for i in body["items"]
            if i["metadata"]["name"].startswith("watcher.")}


def load(server, first, count):
    lines = []
    for i in range(first, first + count):
        tr = taskrun("ha-%05d" % i)
        tr["spec"]["params"] = [{"name": "run", "value": str(i)}]
        lines.append(json.dumps(tr))
    st, _, _ = server.request("POST", "/testserver/load", "\n".join(lines), auth=False)
    check(st in (200, 201), "loaded runs %d..%d" % (first, first + count - 1))


def all_signed(server, n):
    st, _, body = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns")
    return sum(1 for i in body["items"] if annotations(i).get("chains.tekton.dev/signed") == "true") == n


def signing_writes(server, since):
    """Per run: how many writes made it signed, and how many distinct signatures it ever had."""
    w = ktsutil.Watch(server, "/apis/tekton.dev/v1/namespaces/default/taskruns?watch=true&resourceVersion=%s"
                              "&timeoutSeconds=3" % since, timeout=30)
    signed_writes, sigs, was_signed = {}, {}, {}
    for ev in w.all():
        if ev.get("type") not in ("ADDED", "MODIFIED"):
            continue
        obj = ev["object"]
        uid = obj["metadata"]["uid"]
        a = annotations(obj)
        now = a.get("chains.tekton.dev/signed") == "true"
        if now and not was_signed.get(uid):
            signed_writes[uid] = signed_writes.get(uid, 0) + 1
        was_signed[uid] = now
        s = a.get("chains.tekton.dev/signature-taskrun-" + uid)
        if s:
            sigs.setdefault(uid, set()).add(s)
    w.close()
    return signed_writes, sigs


def holders_of(server):
    held = {}
    for name, holder in leases(server).items():
        if holder:
            held.setdefault(holder, []).append(name)
    return held


def identity(c):
    line = c.lines("leader election")
    return line[0]["identity"] if line else None


def ts(line):
    t = time.strptime(line["ts"][:19], "%Y-%m-%dT%H:%M:%S")
    return time.mktime(t) + float("0." + line["ts"][20:23])


def test_three_replicas_share_the_work_and_survive_a_kill_and_a_stop():
    server, work = ha_env()
    with server:
        _, _, before = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns")
        since = before["metadata"]["resourceVersion"]
        reps = [Chainsd(server, work, ha=True) for _ in range(3)]
        try:
            wait_until(lambda: all(identity(c) for c in reps), timeout=10, what="identities logged")
            ids = [identity(c) for c in reps]
            wait_until(lambda: sorted(len(v) for v in holders_of(server).values()) == [4, 4, 4], timeout=20,
                       what="12 leases held, 4 by each replica")
            held = holders_of(server)
            share = [len(held.get(i, [])) for i in ids]
            print("leases per replica at start: %s" % share)
            load(server, 0, RUNS // 2)
            wait_until(lambda: all_signed(server, RUNS // 2), timeout=120, interval=0.3, what="first half signed")
            # A replica counts a run once the answer to its patch is handled: let the counters catch up.
            wait_until(lambda: sum(int(c.metric("watcher_taskrun_marked_signed_total")) for c in reps) >= RUNS // 2,
                       timeout=10, interval=0.2, what="every replica's count of signed runs")
            signed = [int(c.metric("watcher_taskrun_marked_signed_total")) for c in reps]
            print("runs signed per replica (first half): %s" % signed)
            check(sum(signed) == RUNS // 2, "every run signed by exactly one replica (%d)" % sum(signed))
            check(all(n > 0 for n in signed), "each replica signed a share: %s" % signed)

            # Kill the replica holding most buckets while runs arrive; stop another cleanly.
            load(server, RUNS // 2, RUNS - RUNS // 2)
            held = holders_of(server)
            victim = max(range(3), key=lambda k: len(held.get(ids[k], [])))
            t_kill = time.time()
            reps[victim].stop(signal.SIGKILL)
            stopped = (victim + 1) % 3
            reps[stopped].stop(signal.SIGTERM)
            survivor = reps[3 - victim - stopped]
            wait_until(lambda: all_signed(server, RUNS), timeout=120, interval=0.3, what="all runs signed")
            t_all = time.time()
            # On a loaded machine the stopping replica (draining) may take some of the victim's
            # leases first and hand them on when it stops: wait until the survivor holds them all.
            wait_until(lambda: len(holders_of(server).get(identity(survivor), [])) == 12, timeout=30,
                       interval=0.2, what="the survivor holds every lease")
            victim_leases = set(held.get(ids[victim], []))
            got = [(l.get("lease", "").split("/")[-1], ts(l)) for l in survivor.lines("lease acquired")
                   if l.get("lease", "").split("/")[-1] in victim_leases and ts(l) >= t_kill - 0.5]
            taken = [t for _, t in got]
            check({name for name, _ in got} == victim_leases, "the killed replica's %d leases were taken by the survivor"
                  % len(victim_leases))
            firsts = [ts(l) for l in survivor.lines("run signed") if taken and ts(l) >= min(taken)]
            takeover = (min(taken) - t_kill) if taken else float("nan")
            first_run = (min(firsts) - t_kill) if firsts else float("nan")
            check(len(holders_of(server).get(identity(survivor), [])) == 12, "the survivor holds every bucket")
            print("failover (lease 2s, renew 1.5s, retry 0.2s): the killed replica's first lease taken %.2f s after "
                  "the kill (last %.2f s), first run signed by the taker after it %.2f s after the kill, all %d runs "
                  "signed %.2f s after it" % (takeover, max(taken) - t_kill, first_run, RUNS, t_all - t_kill))
        finally:
            for c in reps:
                c.stop()
        signed_writes, sigs = signing_writes(server, since)
        check(len(signed_writes) == RUNS, "the history shows %d signed runs" % len(signed_writes))
        twice = [u for u, n in signed_writes.items() if n > 1]
        check(not twice, "no run marked signed twice (%d were)" % len(twice))
        replaced = [u for u, s in sigs.items() if len(s) > 1]
        check(not replaced, "no signature annotation replaced (%d were)" % len(replaced))
    work.remove()


class Proxy:
    """A TCP forwarder to the API server that can black-hole: connections stay open, nothing passes."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.blackhole = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                for s in (src, dst):
                    try:
                        s.close()
                    except OSError:
                        pass
                return
            if self.blackhole:
                continue  # swallowed: the peer waits for ever
            try:
                dst.sendall(data)
            except OSError:
                return


class ProxiedServer:
    """What Chainsd needs of a server (its kubeconfig), pointing at the proxy."""

    def __init__(self, server, proxy, dirname):
        with open(server.kubeconfig) as f:
            text = f.read()
        text = text.replace("http://%s:%d" % (server.host, server.port), "http://127.0.0.1:%d" % proxy.port)
        self.kubeconfig = os.path.join(dirname, "kubeconfig-proxied")
        with open(self.kubeconfig, "w") as f:
            f.write(text)


def test_a_replica_cut_off_from_the_api_stops_before_its_leases_expire():
    server, work = ha_env()
    with server:
        _, _, before = server.request("GET", "/apis/tekton.dev/v1/namespaces/default/taskruns")
        since = before["metadata"]["resourceVersion"]
        proxy = Proxy(server.host, server.port)
        cut = Chainsd(ProxiedServer(server, proxy, work.path), work, ha=True)
        other = Chainsd(server, work, ha=True)
        try:
            wait_until(lambda: identity(other) and identity(cut), timeout=10, what="identities logged")
            wait_until(lambda: sorted(len(v) for v in holders_of(server).values()) == [6, 6], timeout=20,
                       what="6 leases held by each replica")
            load(server, 0, 300)
            time.sleep(0.3)
            proxy.blackhole = True
            t_cut = time.time()
            load(server, 300, 300)  # these the cut replica can only see, never write
            wait_until(lambda: len(holders_of(server).get(identity(other), [])) == 12, timeout=20,
                       what="the other replica takes every bucket")
            t_taken = time.time()
            wait_until(lambda: all_signed(server, 600), timeout=60, interval=0.3, what="all runs signed")
            gave_up = [ts(l) for l in cut.lines("lease not renewed in time, giving it up")]
            acquired = [ts(l) for l in other.lines("lease acquired") if ts(l) > t_cut]
            check(gave_up, "the cut replica gave its leases up")
            check(min(acquired) >= max(gave_up) - 0.05,
                  "every lease was given up (last %.3f) before the other replica took one (first %.3f)"
                  % (max(gave_up) - t_cut, min(acquired) - t_cut))
            print("partition: leases given up %.2f s after the cut, taken over %.2f s after it"
                  % (max(gave_up) - t_cut, t_taken - t_cut))
            proxy.blackhole = False
            time.sleep(1.0)  # whatever the cut replica still had in flight now reaches the server
        finally:
            other.stop()
            cut.stop(signal.SIGKILL)
        signed_writes, sigs = signing_writes(server, since)
        check(len(signed_writes) == 600, "600 runs signed")
        check(all(n == 1 for n in signed_writes.values()), "no run marked signed twice")
        check(all(len(s) == 1 for s in sigs.values()), "no signature annotation replaced")
    work.remove()


run_tests(globals())

"""What chainsd reads from outside (issue 23), with the real chainsd against kube-testserver:
a cosign key pair added after start, as `cosign generate-key-pair k8s://` stores it and kubelet
publishes it (a `..data` symlink swap), signs the parked run within seconds; a wrong
cosign.password fails runs until it is fixed on disk; /dev/zero as transparency.publickey is
refused naming the key while chainsd's memory stays flat; a cosign key with scrypt parameters
cosign never writes is refused naming the file, and /healthz answers while a key is derived."""
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2elib import (Chainsd, Workdir, annotations, chains_config, check, create, dsse_parts, get_run,  # noqa: E402
                    run_tests, taskrun, verify_openssl, wait_signed, wait_until, SOURCE_ROOT, TESTSERVER)
import ktsutil  # noqa: E402

MAKE_KEY = os.path.join(SOURCE_ROOT, "tests/support/cosign-keys/make_cosign_key.py")
COSIGN_FILES = ["cosign.key", "cosign.pub", "cosign.password"]


class SecretVolume:
    """The signing-secrets directory as kubelet's atomic writer keeps it: files in a timestamped
    directory, `..data` pointing at it, one link per key through `..data`."""

    def __init__(self, path):
        self.path = path
        self.generation = 0
        self.publish({})  # upstream's install order: the Secret exists, empty

    def publish(self, files):
        ts = "..2026_12_04_01_00_%02d.%d" % (self.generation, os.getpid())
        self.generation += 1
        os.mkdir(os.path.join(self.path, ts))
        for name, data in files.items():
            with open(os.path.join(self.path, ts, name), "wb") as f:
                f.write(data)
        tmp = os.path.join(self.path, "..data_tmp")
        os.symlink(ts, tmp)
        os.rename(tmp, os.path.join(self.path, "..data"))
        for name in files:
            link = os.path.join(self.path, name)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", name), link)


def cosign_key_pair(*args):
    d = tempfile.mkdtemp(prefix="chainsd-cosign-")
    subprocess.run(["/usr/bin/python3", MAKE_KEY, d, *args], check=True)
    files = {n: open(os.path.join(d, n), "rb").read() for n in COSIGN_FILES}
    shutil.rmtree(d)
    return files


def env(config=None):
    server = ktsutil.Server(TESTSERVER, "--bookmark-interval", "200ms", "--lenient-status")
    chains_config(server, dict({"artifacts.oci.storage": "tekton"}, **(config or {})))
    work = Workdir(key=None)
    os.rmdir(work.secrets)
    os.mkdir(work.secrets, 0o755)
    return server, work, SecretVolume(work.secrets)


def events_of(server, name, reason=None):
    st, _, events = server.request("GET", "/api/v1/namespaces/default/events")
    return [e for e in events["items"] if e["involvedObject"]["name"] == name
            and (reason is None or e.get("reason") == reason)]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def verify_run(server, work, name, public_pem):
    tr = get_run(server, "taskruns", "default", name)
    env_doc, _, pae = dsse_parts(annotations(tr)["chains.tekton.dev/signature-taskrun-" + tr["metadata"]["uid"]])
    with open(os.path.join(work.path, "pub.pem"), "wb") as f:
        f.write(public_pem)
    check(verify_openssl(work, base64.b64decode(env_doc["signatures"][0]["sig"]), pae),
          "openssl verifies %s's signature with cosign.pub" % name)


def test_a_cosign_key_added_after_start_signs_the_parked_run_within_seconds():
    server, work, vol = env()
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        create(server, taskrun("late-key"))
        wait_until(lambda: events_of(server, "late-key", "SigningKeyMissing"), timeout=30,
                   what="a SigningKeyMissing event")
        time.sleep(2.5)  # parked: retried every 2 s meanwhile
        files = cosign_key_pair()
        added = time.monotonic()
        vol.publish(files)
        wait_signed(server, "taskruns", "default", "late-key", timeout=20)
        took = time.monotonic() - added
        print("ok: the run was signed %.2f s after the key appeared" % took, flush=True)
        check(took < 5, "signed within a few seconds of the key appearing (%.2f s)" % took)
        verify_run(server, work, "late-key", files["cosign.pub"])
        ann = annotations(get_run(server, "taskruns", "default", "late-key"))
        check("chains.tekton.dev/retries" not in ann and "chains.tekton.dev/error" not in ann,
              "no retry counted, no error: %r" % {k: v for k, v in ann.items() if "signature" not in k and "payload" not in k})
        missing = events_of(server, "late-key", "SigningKeyMissing")
        check(len(missing) == 1 and missing[0].get("count", 1) == 1, "one SigningKeyMissing Warning Event")
        check(missing[0].get("type") == "Warning", "it is a Warning")
        check(not events_of(server, "late-key", "SigningFailed"), "no SigningFailed event")
        check(c.metric("watcher_taskrun_marked_signed_total") == 1, "signed once")
        # A rotation through another swap is used for the next run.
        files2 = cosign_key_pair()
        vol.publish(files2)
        time.sleep(1.2)
        create(server, taskrun("rotated"))
        wait_signed(server, "taskruns", "default", "rotated")
        verify_run(server, work, "rotated", files2["cosign.pub"])
    work.remove()


def test_a_wrong_cosign_password_fails_runs_until_fixed_on_disk():
    server, work, vol = env()
    files = cosign_key_pair()
    vol.publish(dict(files, **{"cosign.password": b"not-the-password"}))
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        create(server, taskrun("bad-password"))
        tr = wait_signed(server, "taskruns", "default", "bad-password", value="failed")
        err = annotations(tr).get("chains.tekton.dev/error", "")
        check("cosign.key" in err and "wrong password" in err, "the reason names the file: " + err)
        vol.publish(files)
        fixed = time.monotonic()
        time.sleep(1.2)
        create(server, taskrun("good-password"))
        wait_signed(server, "taskruns", "default", "good-password")
        print("ok: a run created %.2f s after the password was fixed is signed" % (time.monotonic() - fixed))
        verify_run(server, work, "good-password", files["cosign.pub"])
    work.remove()


def test_dev_zero_as_transparency_publickey_is_refused_and_memory_stays_flat():
    server, work, vol = env()
    vol.publish(cosign_key_pair())
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        before = rss_kib(c.proc.pid)
        chains_config(server, {"transparency.enabled": "true", "transparency.url": "http://127.0.0.1:9",
                               "transparency.publickey": "/dev/zero"})
        line = wait_until(lambda: [d for d in c.lines("transparency log cannot be used; runs that should upload will fail")
                                   if "/dev/zero" in d.get("error", "")], timeout=20, what="the refusal logged")
        err = line[0]["error"]
        check(err == "transparency.publickey: /dev/zero is a character device, not a regular file",
              "the error names the key and the path: " + err)
        time.sleep(1.0)
        after = rss_kib(c.proc.pid)
        print("ok: chainsd RSS %d KiB before, %d KiB after /dev/zero was configured" % (before, after), flush=True)
        check(after - before < 16 * 1024, "RSS stays flat (%d → %d KiB)" % (before, after))
        check(c.get("/healthz")[0] == 200, "/healthz answers")
    work.remove()


def test_scrypt_parameters_cosign_never_writes_are_refused_and_healthz_answers_during_a_derivation():
    server, work, vol = env()
    with server, Chainsd(server, work) as c:
        c.wait_ready()
        # 16 GiB of scrypt if it were run: refused naming the file, without deriving.
        vol.publish(cosign_key_pair("--declare", "4194304,32,1"))
        time.sleep(1.2)
        create(server, taskrun("huge-kdf"))
        tr = wait_signed(server, "taskruns", "default", "huge-kdf", value="failed")
        err = annotations(tr).get("chains.tekton.dev/error", "")
        check("signing-secrets/cosign.key: scrypt parameters N=4194304, r=32, p=1 are not accepted" in err,
              "the reason names the file and the parameters: " + err)
        check(rss_kib(c.proc.pid) < 200 * 1024, "no 16 GiB derivation happened")
        # The costliest accepted set (128 MiB) is derived off the loop: /healthz keeps answering.
        worst = [0.0]
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                with urllib.request.urlopen("http://%s/healthz" % c.metrics_addr, timeout=5) as r:
                    r.read()
                worst[0] = max(worst[0], time.monotonic() - t0)
                time.sleep(0.005)
        t = threading.Thread(target=probe)
        t.start()
        files = cosign_key_pair("--params", "131072,8,1")
        vol.publish(files)
        time.sleep(1.2)
        create(server, taskrun("costly-kdf"))
        wait_signed(server, "taskruns", "default", "costly-kdf")
        stop.set()
        t.join()
        print("ok: slowest /healthz answer while a N=131072 key was derived: %.0f ms" % (worst[0] * 1000), flush=True)
        check(worst[0] < 0.25, "/healthz answered within 250 ms throughout (%.0f ms)" % (worst[0] * 1000))
        verify_run(server, work, "costly-kdf", files["cosign.pub"])
    work.remove()


run_tests(globals())

"""The controller image built without a Docker engine (scripts/build-image, from this build's
chainsd and plugins): pushed to Debian's docker-registry on 127.0.0.1 and inspected with skopeo
(entrypoint, user 65532, labels, size); its rootfs runs `chainsd version` and loads every plugin
as user 65532 (chroot). Needs root (apt-get for mmdebstrap/umoci/skopeo, chroot) and Debian's
package mirror on the first run; the Debian layer is cached in the build directory after that."""
import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2elib import SOURCE_ROOT, check, fail, run_tests, wait_until  # noqa: E402
import ktsutil  # noqa: E402

BUILD_ROOT = os.environ.get("CHAINSD_BUILD_ROOT", "")
REGISTRY = "/usr/bin/docker-registry"
PLUGIN_DIR = "/usr/lib/x86_64-linux-gnu/chainsd/plugins"

if os.geteuid() != 0 or not BUILD_ROOT or not os.path.exists(REGISTRY):
    print("SKIP: needs root, CHAINSD_BUILD_ROOT and %s" % REGISTRY, flush=True)
    sys.exit(ktsutil.SKIP)


def project_version():
    with open(os.path.join(SOURCE_ROOT, "meson.build")) as f:
        return re.search(r"version:\s*'([^']+)'", f.read()).group(1)


class Registry:
    def __init__(self, root):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.host = "127.0.0.1:%d" % s.getsockname()[1]
        cfg = os.path.join(root, "registry.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\n"
                    "http:\n  addr: %s\n" % (root, self.host))
        self.log = open(os.path.join(root, "registry.log"), "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self.up, what="docker-registry to listen")

    def up(self):
        try:
            with urllib.request.urlopen("http://%s/v2/" % self.host, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        ktsutil.stop_process(self.proc)
        self.log.close()


def run(*argv, **kw):
    print("+ " + " ".join(argv), flush=True)
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        fail("%s failed (%d):\n%s\n%s" % (argv[0], r.returncode, r.stdout[-3000:], r.stderr[-6000:]))
    return r


TMP = tempfile.mkdtemp(prefix="chainsd-image-")
atexit.register(shutil.rmtree, TMP, True)
STATE = {}


def test_image_built_pushed_inspected_and_run():
    version = project_version()
    tmp = TMP
    reg = Registry(tmp)
    try:
        ref = "%s/chainsd:%s" % (reg.host, version)
        layout = os.path.join(tmp, "oci")
        r = run(os.path.join(SOURCE_ROOT, "scripts", "build-image"), "--build-dir", BUILD_ROOT, "--out", layout,
                "--work", os.path.join(tmp, "work"), "--base-cache", os.path.join(BUILD_ROOT, "image-base-cache"),
                "--push", ref, "--no-build", timeout=600)
        print(r.stderr[-2000:], flush=True)
        check(r.stdout.strip() == "%s:%s" % (layout, version), "build-image names the layout and tag")

        cfg = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--config", "docker://" + ref).stdout)
        c = cfg["config"]
        check(c["Entrypoint"] == ["/usr/bin/chainsd"] and c["Cmd"] == ["run"], "entrypoint chainsd, cmd run")
        check(c["User"] == "65532:65532", "runs as 65532:65532")
        check("9090/tcp" in c.get("ExposedPorts", {}), "exposes 9090")
        labels = c.get("Labels") or {}
        check(labels.get("org.opencontainers.image.version") == version, "label version = " + version)
        check("org.opencontainers.image.source" in labels and "org.opencontainers.image.revision" in labels,
              "labels source and revision")
        check(cfg["architecture"] == "amd64" and cfg["os"] == "linux", "linux/amd64")
        manifest = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--raw", "docker://" + ref).stdout)
        size = sum(layer["size"] for layer in manifest["layers"])
        print("IMAGE SIZE: %.1f MiB compressed in %d layers" % (size / 1048576, len(manifest["layers"])), flush=True)
        check(len(manifest["layers"]) == 2, "two layers: Debian + runtime libraries, then chainsd")
        check(size < 120 * 1048576, "the image is under 120 MiB compressed (%.1f MiB)" % (size / 1048576))

        # The rootfs as a container would see it (with /proc, as 65532).
        bundle = os.path.join(tmp, "bundle")
        run("umoci", "unpack", "--image", layout + ":" + version, bundle)
        rootfs = os.path.join(bundle, "rootfs")
        passwd = open(os.path.join(rootfs, "etc", "passwd")).read()
        check(re.search(r"^nonroot:x:65532:65532:", passwd, re.M) is not None, "user nonroot is 65532:65532")
        pdir = rootfs + PLUGIN_DIR
        check(os.stat(pdir).st_mode & 0o777 == 0o755, "plugin directory is 0755")
        sos = sorted(os.listdir(pdir))
        check(sos and all(os.stat(os.path.join(pdir, p)).st_mode & 0o777 == 0o644 for p in sos),
              "plugins %s are 0644" % sos)
        check(not os.path.exists(os.path.join(rootfs, "usr", "include", "chainsd")), "no plugin-api headers in the image")

        def in_image(*argv):
            script = 'mount -t proc proc "$0/proc" && exec chroot --userspec=65532:65532 "$0" "$@"'
            return run("unshare", "--mount", "--pid", "--fork", "sh", "-c", script, rootfs, *argv)
        out = in_image("/usr/bin/chainsd", "version").stdout.strip()
        check(out == "chainsd " + version, "chainsd version in the image: " + out)
        out = in_image("/usr/bin/chainsd", "plugins").stdout
        print(out, flush=True)
        check("plugin directory: " + PLUGIN_DIR in out, "the default plugin directory is the image's")
        accepted = out.split("rejected:")[0]
        for kind, name in (("signer", "x509"), ("storage", "tekton"), ("storage", "oci")):
            check(re.search(r"%s\s+%s\s" % (kind, name), accepted) is not None, "plugin %s %s loads in the image" % (kind, name))
        check(out.split("rejected:")[1].strip() == "(none)", "no plugin rejected")
        STATE["rootfs"] = rootfs
    finally:
        reg.stop()


# ---- upstream's release manifests with this image: "replace the image and nothing else" -----------

UPSTREAM = os.path.join(os.path.dirname(__file__), "upstream")
TESTSERVER = os.environ.get("KUBE_TESTSERVER_EXE", "")
EXTRA_RESOURCES = ["apps/v1/deployments:Deployment", "v1/services:Service",
                   "rbac.authorization.k8s.io/v1/clusterroles:ClusterRole:cluster",
                   "rbac.authorization.k8s.io/v1/clusterrolebindings:ClusterRoleBinding:cluster",
                   "rbac.authorization.k8s.io/v1/roles:Role", "rbac.authorization.k8s.io/v1/rolebindings:RoleBinding"]


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def test_upstream_release_manifests_run_this_image():
    """Tekton Chains' own config/100-*.yaml applied, its Deployment's container run from this image
    as kubelet would (no args: the image's cmd; its env; user 65532; read-only root; the Secret
    volume at /etc/signing-secrets; the service-account token at the standard path, no override)."""
    import yaml
    from e2elib import annotations, create, kubectl, taskrun, wait_signed
    if "rootfs" not in STATE:
        fail("needs test_image_built_pushed_inspected_and_run to have run")
    if not TESTSERVER:
        fail("KUBE_TESTSERVER_EXE is not set")
    if not port_free(9090):
        ktsutil.skip("port 9090 is busy on this machine (upstream's pod listens there)")
    rootfs = STATE["rootfs"]
    docs = []
    for f in sorted(os.listdir(UPSTREAM)):
        docs += [d for d in yaml.safe_load_all(open(os.path.join(UPSTREAM, f))) if d]
    dep = next(d for d in docs if d["kind"] == "Deployment")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    args = [a for r in EXTRA_RESOURCES for a in ("--resource", r)]
    with ktsutil.Server(TESTSERVER, *args, "--tls-self-signed", "--token", "upstream-test", "--lenient-status",
                        "--bookmark-interval", "200ms") as srv:
        r = kubectl(srv, "apply", "-f", UPSTREAM, check_rc=False)
        print(r.stdout + r.stderr, flush=True)
        check(r.returncode == 0, "kubectl apply of upstream's 100-deployment.yaml and 100-rolebinding.yaml")
        # kubelet's work: the Secret volume, the service-account folder at its standard path.
        secrets = os.path.join(rootfs, "etc", "signing-secrets")
        os.makedirs(secrets, exist_ok=True)
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", os.path.join(secrets, "x509.pem"))
        os.chmod(os.path.join(secrets, "x509.pem"), 0o644)
        sa = os.path.join(rootfs, "run", "secrets", "kubernetes.io", "serviceaccount")  # /var/run → /run
        os.makedirs(sa, exist_ok=True)
        token = kubectl(srv, "create", "token", "tekton-chains-controller", "-n", "tekton-chains").stdout.strip()
        for name, content in (("token", token), ("namespace", "tekton-chains"), ("ca.crt", open(srv.ca_file).read())):
            with open(os.path.join(sa, name), "w") as f:
                f.write(content)
        for sub in ("var/run/sigstore/cosign", "home/nonroot/.sigstore"):  # the pod's other mounts
            os.makedirs(os.path.join(rootfs, sub), exist_ok=True)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "KUBERNETES_SERVICE_HOST": srv.host, "KUBERNETES_SERVICE_PORT": str(srv.port)}
        for e in c["env"]:
            env[e["name"]] = e.get("value", "tekton-chains")  # the one fieldRef is metadata.namespace
        check("command" not in c and "args" not in c, "upstream's container has no command or args")
        user = "%d:%d" % (c["securityContext"]["runAsUser"], c["securityContext"]["runAsGroup"])
        script = ('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && mount -t proc proc "$0/proc" '
                  '&& exec chroot --userspec=%s "$0" /usr/bin/chainsd run' % user)
        check(c["securityContext"]["readOnlyRootFilesystem"] is True, "upstream asks for a read-only root")
        log_path = os.path.join(TMP, "upstream-chainsd.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(["unshare", "--mount", "sh", "-c", script, rootfs], stdout=log,
                                    stderr=subprocess.STDOUT, env=env)
        text = lambda: open(log_path, "rb").read().decode(errors="replace")
        try:
            def ready():
                if proc.poll() is not None:
                    fail("chainsd exited %s:\n%s" % (proc.returncode, text()[-3000:]))
                try:
                    with urllib.request.urlopen("http://127.0.0.1:9090/readyz", timeout=2) as r:
                        return r.status == 200
                except OSError:
                    return False
            wait_until(ready, timeout=30, what="chainsd /readyz on 9090")
            print("ok: chainsd in the image is ready on upstream's port 9090", flush=True)
            check('"source":"in-cluster (/var/run/secrets/kubernetes.io/serviceaccount)"' in text(),
                  "in-cluster credentials from the standard service-account path")
            check('"plugin rejected"' not in text() and re.search(r'"signers":"([^"]*, )?x509(, [^"]*)?"', text()),
                  "plugins from the image's default directory")
            create(srv, taskrun("upstream-build"))
            tr = wait_signed(srv, "taskruns", "default", "upstream-build", timeout=30)
            check(annotations(tr)["chains.tekton.dev/signed"] == "true", "signed=true under upstream's manifests")
        finally:
            ktsutil.stop_process(proc, 30)
            print("--- chainsd log (tail) ---\n" + text()[-2500:], flush=True)
        check(proc.returncode == 0, "chainsd exits 0 on SIGTERM")


if __name__ == "__main__":
    run_tests(globals())

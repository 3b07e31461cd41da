"""`meson install` to a staging prefix; an installed chainsd finds its plugins without
--plugin-dir; a third-party plugin built out of tree with pkg-config against the installed
plugin-api loads, and chainsd stores through it next to the tekton backend."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import e2elib  # noqa: E402
from e2elib import (Workdir, annotations, chains_config, check, create, run_tests, taskrun,  # noqa: E402
                    wait_signed, TESTSERVER)
import ktsutil  # noqa: E402

BUILD_ROOT = os.environ["CHAINSD_BUILD_ROOT"]
HERE = os.path.dirname(os.path.abspath(__file__))
stage = tempfile.mkdtemp(prefix="chainsd-install-")
os.chmod(stage, 0o755)


def sh(*args, env=None):
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise AssertionError("%s failed:\n%s\n%s" % (" ".join(args), r.stdout[-3000:], r.stderr[-3000:]))
    return r.stdout


def installed():
    if not os.path.exists(os.path.join(stage, ".done")):
        sh("meson", "install", "-C", BUILD_ROOT, "--no-rebuild", "--destdir", stage, "--quiet")
        open(os.path.join(stage, ".done"), "w").close()
    prefix = sh("meson", "introspect", BUILD_ROOT, "--buildoptions")
    import json
    opts = {o["name"]: o["value"] for o in json.loads(prefix)}
    root = stage + opts["prefix"]
    return root, opts["libdir"]


def test_installed_binary_finds_its_plugins():
    root, libdir = installed()
    out = sh(os.path.join(root, "bin", "chainsd"), "plugins")
    plugdir = os.path.join(root, libdir, "chainsd", "plugins")
    check(("plugin directory: " + plugdir) in out, "the installed layout's plugin directory is the default")
    check("x509" in out and "tekton" in out, "the project's plugins are listed as accepted:\n" + out)


def build_example():
    root, libdir = installed()
    pc = os.path.join(root, libdir, "pkgconfig")
    env = dict(os.environ, PKG_CONFIG_PATH=pc)
    # The .pc file names the final prefix; point it at the staging copy.
    cflags = sh("pkg-config", "--define-variable=prefix=" + root, "--cflags", "chainsd-plugin-api", env=env).split()
    out = os.path.join(stage, "example-storage.so")
    sh("g++", *cflags, "-shared", "-fPIC", "-O1", os.path.join(HERE, "example_storage.cpp"), "-o", out)
    return out


def test_out_of_tree_plugin_built_with_pkg_config_is_loaded_and_used():
    so = build_example()
    root, libdir = installed()
    work = Workdir()
    for p in os.listdir(os.path.join(root, libdir, "chainsd", "plugins")):
        shutil.copy(os.path.join(root, libdir, "chainsd", "plugins", p), work.plugins)
    shutil.copy(so, work.plugins)
    for p in os.listdir(work.plugins):
        os.chmod(os.path.join(work.plugins, p), 0o644)
    out = sh(os.path.join(root, "bin", "chainsd"), "plugins", "--plugin-dir", work.plugins)
    check("example" in out.split("rejected:")[0], "the example plugin is accepted:\n" + out)
    e2elib.CHAINSD = os.path.join(root, "bin", "chainsd")  # run the installed binary
    server = ktsutil.Server(TESTSERVER, "--lenient-status")
    chains_config(server, {"artifacts.oci.storage": "tekton", "artifacts.taskrun.storage": "tekton,example"})
    with server:
        with e2elib.Chainsd(server, work) as c:
            create(server, taskrun("third-party"))
            tr = wait_signed(server, "taskruns", "default", "third-party")
            uid = tr["metadata"]["uid"]
            ann = annotations(tr)
            check("chains.tekton.dev/example-taskrun-" + uid in ann, "the example plugin's annotation is on the run")
            check("chains.tekton.dev/payload-taskrun-" + uid in ann, "the tekton backend stored too (same patch)")
            check(c.metric("chainsd_plugin_example_stored_total") == 1, "the plugin's counter is in /metrics")
    work.remove()


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        shutil.rmtree(stage, ignore_errors=True)

"""Pieces the storage-backend e2e tests share (gcs_test, archivista_test, grafeas_test): a free
address nothing listens on, the Google environment chainsd inherits, and the two failure outcomes
they check (retried then failed; failed at once), each naming what the reason must contain."""
import os
import socket

from e2elib import annotations, check, wait_signed

GOOGLE_ENV = ("GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "STORAGE_EMULATOR_HOST",
              "CHAINSD_CONTAINERANALYSIS_ENDPOINT")


def dead_address():
    """127.0.0.1:PORT with nothing listening (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


def google_env(**values):
    """chainsd inherits this process's environment: set exactly these Google variables."""
    for k in GOOGLE_ENV:
        os.environ.pop(k, None)
    os.environ.update(values)


def failed_reason(server, name, retried, must_contain, timeout=30):
    """Waits for TaskRun default/`name` to be marked failed; checks it was retried 3 times first
    (`retried`) or not at all, and that chains.tekton.dev/error contains every `must_contain`."""
    tr = wait_signed(server, "taskruns", "default", name, value="failed", timeout=timeout)
    ann = annotations(tr)
    err = ann.get("chains.tekton.dev/error", "")
    if retried:
        check(ann.get("chains.tekton.dev/retries") == "3", "retried 3 times first (%s)" % ann.get("chains.tekton.dev/retries"))
    else:
        check("chains.tekton.dev/retries" not in ann, "failed at once: retrying cannot help")
    missing = [m for m in must_contain if m not in err]
    check(not missing, "the reason names %s: %s" % (", ".join(must_contain), err))
    return err

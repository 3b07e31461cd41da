#!/usr/bin/env python3
"""docker-registry alone: the requests of one signature push, as chainsd's oci storage makes them
once the registry is known (GET the existing manifest, POST+PUT the layer, POST+PUT the config,
PUT the manifest), from plain Python threads with keep-alive connections. No chainsd involved:
this is how many pushes the registry itself takes, and what each costs it.

usage: registry_push.py HOST REPOSITORY PUSHES [THREADS]   prints one JSON line
"""
import hashlib
import http.client
import json
import sys
import threading
import time


def blob(i, size):
    body = (("%d:" % i) * (size // 4 + 1)).encode()[:size]
    return body, "sha256:" + hashlib.sha256(body).hexdigest()


def push(conn, repo, i):
    """One push; every response is checked, so a registry that refuses shows as an error."""
    def call(method, path, body=None, headers=None, want=(200, 201, 202)):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        if r.status not in want:
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:200]))
        return r
    # Signatures (.sig, ~300 B) and attestations (.att, a ~20 KB DSSE envelope) alternate.
    layer, layer_digest = blob(i, 300 if i % 2 else 20000)
    config = json.dumps({"architecture": "", "os": "", "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    tag = "sha256-%064x.%s" % (i // 2, "sig" if i % 2 else "att")
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    call("GET", "/v2/%s/manifests/%s" % (repo, tag), headers=accept, want=(404,))
    for body, digest in ((layer, layer_digest), (config, config_digest)):
        loc = call("POST", "/v2/%s/blobs/uploads/" % repo).getheader("Location")
        loc = loc.split("://", 1)[-1]
        loc = loc[loc.index("/"):] if not loc.startswith("/") else loc
        call("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + digest, body=body,
             headers={"Content-Type": "application/octet-stream"})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(config), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.dsse.envelope.v1+json", "size": len(layer), "digest": layer_digest}],
    }).encode()
    call("PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest,
         headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def main():
    host, repo, pushes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    next_i = iter(range(pushes))
    lock = threading.Lock()
    errors = []

    def worker():
        conn = http.client.HTTPConnection(host, timeout=60)
        while True:
            with lock:
                i = next(next_i, None)
            if i is None or errors:
                return
            try:
                push(conn, repo, i)
            except Exception as e:  # noqa: BLE001 - reported, and the run fails
                errors.append(str(e))
                return

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    seconds = time.monotonic() - t0
    if errors:
        sys.exit("registry_push: " + errors[0])
    print(json.dumps({"pushes": pushes, "seconds": round(seconds, 3), "pushes_per_s": round(pushes / seconds, 1)}))


if __name__ == "__main__":
    main()

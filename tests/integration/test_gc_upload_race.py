"""A push that starts between registry.gc's first look for uploads and its stop is not
lost: gc looks again once the registry is stopped, starts it again and refuses. Real
engine and registry; the push is real registry API traffic, started by a `docker` wrapper
at the moment gc runs `docker stop` (one layer finished, the next one mid-upload: a push
between its layers and its manifest)."""

import hashlib
import json
import os
import shutil
import sys

import httpx
import pytest

from tests.support.stack import echoed

pytestmark = pytest.mark.integration

STOPPER = """#!/bin/sh
if [ "$1" = stop ] && [ "$2" = "{name}" ]; then
  {python} {helper} {url} {state} 2>>{state}.err
fi
exec {docker} "$@"
"""

PUSHER = """import sys, json, hashlib, httpx
url, state = sys.argv[1], sys.argv[2]
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": []}}).encode()
digest = "sha256:" + hashlib.sha256(config).hexdigest()
started = httpx.post(f"{url}/v2/racing-api/blobs/uploads/", timeout=10)
location = httpx.URL(url).join(started.headers["Location"])
done = httpx.put(location.copy_add_param("digest", digest), content=config, timeout=10)
assert done.status_code == 201, done.text
second = httpx.post(f"{url}/v2/racing-api/blobs/uploads/", timeout=10)
open_session = httpx.URL(url).join(second.headers["Location"])
part = httpx.patch(open_session, content=b"layer bytes, first half ", timeout=10)
assert part.status_code == 202, part.text
json.dump({"config": digest, "size": len(config),
           "session": str(httpx.URL(url).join(part.headers["Location"]))}, open(state, "w"))
"""


def test_a_push_that_starts_as_gc_stops_the_registry_is_not_lost(stack, tmp_path):
    s = stack
    assert s.invoke("registry.create").returncode == 0
    s.push("1.0.0")
    s.push("2.0.0")
    assert s.invoke("registry.prune", "--keep", "1", "--yes").returncode == 0  # gc has work
    helper, state = tmp_path / "pusher.py", tmp_path / "push.json"
    helper.write_text(PUSHER)
    wrapper = tmp_path / "stopper-bin"
    wrapper.mkdir()
    (wrapper / "docker").write_text(STOPPER.format(
        name=s.name, python=sys.executable, helper=helper, url=s.url, state=state,
        docker=shutil.which("docker")))  # fmt: skip
    (wrapper / "docker").chmod(0o755)

    result = s.invoke("registry.gc", "--yes", PATH=f"{wrapper}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode == 1, result.stderr
    assert "upload(s) to" in result.stderr and "in progress" in result.stderr
    assert "started again and nothing was collected" in result.stderr
    commands = echoed(result.stdout)
    assert commands[-1] == f"docker start {s.name}"
    assert not any("garbage-collect" in c and "--dry-run" not in c for c in commands)
    s.wait_healthy()

    assert state.exists(), (tmp_path / "push.json.err").read_text()
    push = json.loads(state.read_text())
    # The push goes on as docker's does: the registry signs upload state with a secret made
    # at each start (the official config sets none), so the open upload is sent again;
    # the layer it finished before the stop must still be there for its manifest.
    layer = b"layer bytes, the whole of it"
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    again = httpx.post(f"{s.url}/v2/racing-api/blobs/uploads/", timeout=10)
    finish = httpx.URL(s.url).join(again.headers["Location"]).copy_add_param("digest", layer_digest)
    assert httpx.put(finish, content=layer, timeout=10).status_code == 201
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": push["size"], "digest": push["config"]},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer), "digest": layer_digest}],
    }  # fmt: skip
    put = httpx.put(
        f"{s.url}/v2/racing-api/manifests/1.0.0", content=json.dumps(manifest),
        headers={"Content-Type": manifest["mediaType"]}, timeout=10,
    )  # fmt: skip
    assert put.status_code == 201, put.text  # the layer finished before the stop is still there
    assert s.tags("racing-api") == ["1.0.0"]

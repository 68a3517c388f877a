"""A push interrupted mid-way (a Jenkins abort) is completed by the next push: the real
engine and registry, the interruption real too (SIGKILL to the task and its docker push
while a layer is being uploaded; the registry is paused meanwhile, so the push cannot
finish by chance before the kill: its process is stopped with SIGSTOP, at once, rather than
through `docker pause`)."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from stagingkub.settings import ROOT
from tests.support.stack import LABELS, docker

pytestmark = pytest.mark.integration


def big_image(tag: str, tmp_path) -> None:
    """Three layers of random bytes (32 MiB each): a push that takes several requests, and
    seconds of the daemon's gzip, so the kill lands mid-upload on a busy machine too."""
    context = tmp_path / "big"
    context.mkdir()
    lines = ["FROM scratch"]
    for number in range(3):
        (context / f"layer{number}.bin").write_bytes(os.urandom(32 << 20))
        lines.append(f"COPY layer{number}.bin /layer{number}.bin")
    (context / "Dockerfile").write_text("\n".join(lines) + "\n")
    labels = [a for k, v in LABELS.items() for a in ("--label", f"{k}={v}")]
    docker("build", "-q", "-t", tag, *labels, str(context), timeout=300)


def uploads_started(s) -> bool:
    logs = docker("logs", s.name)
    return "POST /v2/" in logs.stdout + logs.stderr


def test_a_killed_push_is_completed_by_the_next_one(stack, tmp_path):
    s = stack
    name = f"{s.prefix}-big"
    s.base["image"] = {"name": name}
    s.write_profile()
    assert s.invoke("registry.create").returncode == 0
    big_image(f"{name}:1.0.0", tmp_path)
    registry_pid = int(s.inspect("{{.State.Pid}}"))
    push = subprocess.Popen(
        [sys.executable, "-m", "invoke", "image.push", "--version", "1.0.0"], cwd=ROOT,
        env=s.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not uploads_started(s):
        assert push.poll() is None and time.monotonic() < deadline, "the push never started"
        time.sleep(0.05)
    os.kill(registry_pid, signal.SIGSTOP)
    try:
        os.killpg(push.pid, signal.SIGKILL)  # the task and its docker push
        push.wait(30)
    finally:
        os.kill(registry_pid, signal.SIGCONT)
    assert s.tags(name) == []  # the manifest never arrived: the push did not finish

    again = s.invoke("image.push", "--version", "1.0.0")
    assert again.returncode == 0, again.stderr
    assert s.tags(name) == ["1.0.0"]
    manifest = httpx.get(
        f"{s.url}/v2/{name}/manifests/1.0.0", timeout=10,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).json()  # fmt: skip
    for layer in manifest["layers"]:  # every layer is whole in the registry
        head = httpx.head(f"{s.url}/v2/{name}/blobs/{layer['digest']}", timeout=10)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == layer["size"]

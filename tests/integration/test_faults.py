"""Faults on the real engine: nothing is lost, every failure is said plainly."""

import os
from pathlib import Path

import pytest

from tests.support import images
from tests.support.stack import LABELS, docker, echoed

pytestmark = pytest.mark.integration


def random_image(stack, tmp_path, version: str, size: int) -> str:
    """A local image `<prefix>-app:version` with one layer of `size` random bytes, made the
    stack's image.name; returns that name."""
    name = f"{stack.prefix}-app"
    stack.base["image"] = {"name": name}
    stack.write_profile()
    context = tmp_path / "random-image"
    context.mkdir()
    (context / "blob").write_bytes(os.urandom(size))
    (context / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
    images._build(f"{name}:{version}", LABELS, str(context))
    return name


def test_a_full_registry_volume_fails_the_push_loudly_and_loses_nothing(stack, tmp_path):
    """The data volume is a 3 MB tmpfs: a 5 MB layer cannot fit (docker retries, ~50 s)."""
    docker(
        "volume",
        "create",
        "--driver",
        "local",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=3m",
        *stack.label_args(),
        stack.volume,
    )
    assert stack.invoke("registry.create").returncode == 0
    small = stack.push("1.0.0")  # small: fits
    random_image(stack, tmp_path, "2.0.0", 5_000_000)

    result = stack.invoke("image.push", "--version", "2.0.0")
    assert result.returncode != 0
    assert f"Command failed with exit code {result.returncode}: docker push" in result.stderr
    assert "500 Internal Server Error" in result.stderr or "no space" in result.stderr
    assert "Traceback" not in result.stderr
    assert echoed(result.stdout)[-1].startswith("docker push")
    # the earlier tag still resolves, and the volume was not wiped
    assert stack.tags() == ["1.0.0"]
    docker("rmi", small)
    assert docker("pull", small, check=False, timeout=120).returncode == 0
    assert docker("volume", "inspect", stack.volume, check=False).returncode == 0
    assert stack.healthy()


def test_the_registry_killed_during_a_push(stack, tmp_path):
    """A docker wrapper freezes the registry as the push starts, then `docker kill`s it: the
    push fails plainly; registry.create brings the registry back; the push then succeeds;
    the earlier tag still pulls."""
    import shutil

    stack.make_network()
    assert stack.invoke("registry.create").returncode == 0
    earlier = stack.push("1.0.0")
    name = random_image(stack, tmp_path, "2.0.0", 2_000_000)

    real = shutil.which("docker")
    wrapper_dir = tmp_path / "bin"
    wrapper_dir.mkdir()
    (wrapper_dir / "docker").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = push ]; then\n'
        f"  kill -STOP $({real} inspect -f '{{{{.State.Pid}}}}' {stack.name})\n"
        f'  {real} "$@" & pushing=$!\n'
        f"  sleep 1; {real} kill {stack.name} >/dev/null\n"
        "  wait $pushing; exit $?\n"
        "fi\n"
        f'exec {real} "$@"\n'
    )
    (wrapper_dir / "docker").chmod(0o755)
    killed = stack.invoke(
        "image.push", "--version", "2.0.0", PATH=f"{wrapper_dir}:{os.environ['PATH']}"
    )
    assert killed.returncode != 0
    assert "Command failed with exit code" in killed.stderr and "docker push" in killed.stderr
    assert "Traceback" not in killed.stderr

    back = stack.invoke("registry.create")
    assert back.returncode == 0, back.stderr
    assert echoed(back.stdout)[0] == f"docker start {stack.name}"
    again = stack.invoke("image.push", "--version", "2.0.0")
    assert again.returncode == 0, again.stderr
    assert stack.tags(name) == ["2.0.0"] and stack.tags() == ["1.0.0"]
    docker("rmi", earlier)
    assert docker("pull", earlier, check=False, timeout=120).returncode == 0


@pytest.mark.engine_alone
@pytest.mark.deliberate_skip("an init system owns dockerd: restarting it is not ours to do")
@pytest.mark.skipif(
    os.environ.get("TEST_MAY_RESTART_DOCKERD") != "1",
    reason="restarts the Docker daemon: only where the run started dockerd itself "
    "(.ci/run sets TEST_MAY_RESTART_DOCKERD=1)",
)
def test_dockerd_restarted_the_registry_comes_back_with_data_and_networks(stack, tmp_path):
    import signal
    import subprocess
    import time

    stack.make_network()
    assert stack.invoke("registry.create").returncode == 0
    stack.push("1.0.0")
    pid = int(Path("/var/run/docker.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while os.path.exists(f"/proc/{pid}"):
        assert time.monotonic() < deadline, "dockerd did not stop"
        time.sleep(0.2)
    with open(tmp_path / "dockerd.log", "w") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while not stack.healthy():
        assert time.monotonic() < deadline, "the registry did not come back"
        time.sleep(0.5)
    status = stack.invoke("diag.registry")
    assert status.returncode == 0 and " ok " in status.stdout, status.stdout
    assert stack.tags() == ["1.0.0"]
    assert stack.network in stack.inspect("{{json .NetworkSettings.Networks}}")

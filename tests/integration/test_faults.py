"""Faults on the real engine: nothing is lost, every failure is said plainly."""

import os

import pytest

from tests.support import images
from tests.support.stack import LABELS, docker, echoed

pytestmark = pytest.mark.integration


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
    name = f"{stack.prefix}-big"
    stack.base["image"] = {"name": name}
    stack.write_profile()
    big = tmp_path / "big"
    big.mkdir()
    (big / "blob").write_bytes(os.urandom(5_000_000))
    (big / "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
    images._build(f"{name}:2.0.0", LABELS, str(big))

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

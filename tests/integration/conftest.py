"""Real Docker engine, real registry: fixtures that create only labelled, uniquely named things.

Nothing here touches the user's `kind-registry`, `kind` network or port 5000: every
test gets its own names and a free port, and the session removes exactly what
carries this run's label.
"""

from __future__ import annotations

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
def stack(tmp_path, registry_image) -> Stack:
    return Stack(tmp=tmp_path, image=registry_image)

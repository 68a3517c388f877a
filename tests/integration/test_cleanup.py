"""The tests' own promise: a run leaves no image behind, dangling ones included."""

from __future__ import annotations

import uuid

from tests.support import images
from tests.support.stack import TEST_LABEL, cleanup_run, docker


def test_cleanup_removes_the_runs_images_tagged_twice_and_dangling(engine, registry_image):
    run_id = f"cleanup-{uuid.uuid4().hex[:8]}"  # not this session's RUN_ID: its images stay
    labels = {TEST_LABEL: run_id}
    tag = f"stagingkub-test/cleanup:{run_id}"
    images.build_app_image(tag, labels, content="first")
    images.build_app_image(tag, labels, content="second")  # the first is now <none>
    docker("tag", tag, f"stagingkub-test/cleanup-copy:{run_id}")
    found = {"label": f"{TEST_LABEL}={run_id}"}
    assert len(engine.images.list(all=True, filters=found)) >= 2, "the dangling image is missing"

    cleanup_run(engine, run_id)

    assert engine.images.list(all=True, filters=found) == []
    assert images.image_exists(registry_image), "another run's image went too"

"""The tests' own promise: a run leaves no image behind, dangling ones and bases included."""

from __future__ import annotations

import uuid

from tests.support import images
from tests.support.stack import TEST_LABEL, cleanup_run, docker


def test_cleanup_removes_the_runs_images_dangling_and_built_upon(engine, registry_image, tmp_path):
    run_id = f"cleanup-{uuid.uuid4().hex[:8]}"  # not this session's RUN_ID: its images stay
    labels = {TEST_LABEL: run_id}
    tag = f"stagingkub-test/cleanup:{run_id}"
    images.build_app_image(tag, labels, content="first")
    images.build_app_image(tag, labels, content="second")  # the first is now <none>
    docker("tag", tag, f"stagingkub-test/cleanup-copy:{run_id}")
    (tmp_path / "Dockerfile").write_text(f"FROM {tag}\nCOPY Dockerfile /child\n")
    docker("build", "-q", "--label", f"{TEST_LABEL}={run_id}", "-t",
           f"stagingkub-test/cleanup-child:{run_id}", str(tmp_path))  # fmt: skip
    found = {"label": f"{TEST_LABEL}={run_id}"}
    assert len(engine.images.list(all=True, filters=found)) >= 3, "an image is missing"

    cleanup_run(engine, run_id)

    assert engine.images.list(all=True, filters=found) == []
    assert images.image_exists(registry_image), "another run's image went too"

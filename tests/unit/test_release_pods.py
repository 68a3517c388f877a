"""The one reader of the release's pods (stagingkub/release/pods.py), fed kubectl's JSON."""

import json
import sys

from stagingkub.release.pods import newest_ready, not_ready, release_pods


def pod(name, created, ready, deleting=False, image_id=""):
    metadata = {"name": name, "creationTimestamp": created}
    if deleting:  # kubectl shows a pod in its grace period with deletionTimestamp set
        metadata["deletionTimestamp"] = "2026-12-06T10:00:30Z"
    return {"metadata": metadata, "status": {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [{"imageID": image_id}]}}  # fmt: skip


def kubectl_printing(items) -> list[str]:
    """A kubectl that prints `kubectl get pods -o json` for these items, whatever it is asked."""
    return [sys.executable, "-c", f"print({json.dumps(json.dumps({'items': items}))})"]


def test_pods_being_deleted_are_not_the_releases():
    # a rollout: the old pod still Ready in its grace period, the new one not Ready yet
    items = [pod("new", "2026-12-06T10:00:20Z", False),
             pod("old", "2026-12-06T09:00:00Z", True, deleting=True)]  # fmt: skip
    found = release_pods(kubectl_printing(items), "rhdemo")
    assert [p.name for p in found] == ["new"]
    assert not_ready(found) == ["new"] and newest_ready(found) is None


def test_oldest_first_and_the_newest_ready_one():
    items = [pod("b", "2026-12-06T10:00:02Z", True, image_id="r@sha256:b"),
             pod("a", "2026-12-06T10:00:01Z", True, image_id="r@sha256:a"),
             pod("c", "2026-12-06T10:00:03Z", False)]  # fmt: skip
    found = release_pods(kubectl_printing(items), "rhdemo")
    assert [p.name for p in found] == ["a", "b", "c"]
    assert newest_ready(found).image_ids == ("r@sha256:b",)

"""Which helm revisions, and which of their images, registry.prune protects (pure)."""

import pytest

from stagingkub.registry.protection import image_of, rollback_targets


def rows(*statuses):
    return [{"revision": n, "status": status} for n, status in enumerate(statuses, start=1)]


def test_the_deployed_revision_and_its_rollback_targets():
    targets = rollback_targets(rows("superseded", "superseded", "superseded", "deployed"), 2)
    assert [n for n, _ in targets] == [4, 3, 2]
    assert targets[0][1] == "deployed: the release runs revision 4"


@pytest.mark.parametrize("status", ["pending-upgrade", "pending-rollback", "failed"])
def test_a_newer_revision_than_the_deployed_one_is_protected_too(status):
    # helm marks the old revision superseded only once the new one is Ready: while it
    # waits (pending-upgrade) or after it failed, the cluster may run the newer pods.
    targets = dict(rollback_targets(rows("superseded", "deployed", status), 0))
    assert set(targets) == {2, 3}
    assert f"revision 3 is {status}" in targets[3]


def test_a_first_install_still_pending_is_protected():
    assert [n for n, _ in rollback_targets(rows("pending-install"), 3)] == [1]


def test_computed_values_give_the_image_the_chart_defaults_name():
    values = {"rhdemo": {"image": {"repository": "localhost:5000/rhdemo-api", "tag": "1.0.0",
                                   "digest": ""}}}  # fmt: skip
    assert image_of(values) == ("localhost:5000/rhdemo-api", "tag:1.0.0")
    values["rhdemo"]["image"]["digest"] = "sha256:" + "a" * 64
    assert image_of(values) == ("localhost:5000/rhdemo-api", "sha256:" + "a" * 64)


NO_IMAGE = [None, {}, {"rhdemo": {"image": {"tag": "1.0.0"}}},
            {"rhdemo": {"image": {"repository": "r", "tag": ""}}}]  # fmt: skip


@pytest.mark.parametrize("values", NO_IMAGE)
def test_values_that_name_no_image_are_unknown(values):
    assert image_of(values) is None


def test_a_revision_whose_values_name_no_image_refuses_the_prune(monkeypatch):
    from types import SimpleNamespace

    from stagingkub.registry import protection

    settings = SimpleNamespace(
        deploy=SimpleNamespace(release="rhdemo", namespace="ns"), kube_context="kind-x",
        registry=SimpleNamespace(keep_rollback=1),
    )  # fmt: skip
    asked = []
    monkeypatch.setattr(protection, "_ask", lambda argv: asked.append(argv) or {"rhdemo": {}})
    with pytest.raises(protection.Unknown) as refused:
        protection._images(settings, "localhost:5000", rows("deployed"))
    assert "revision 1 of rhdemo names no image" in str(refused.value)
    assert "Nothing was deleted" in str(refused.value) and "--unprotected" in str(refused.value)
    assert "--all" in asked[0]

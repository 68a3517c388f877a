"""Which tags registry.prune keeps (pure)."""

from stagingkub.registry.retention import TagRecord, plan_prune


def record(tag, created, digest=None, repository="app", pushed=0.0, children=()):
    return TagRecord(repository, tag, digest or f"sha256:{tag}", created, pushed, children)


def kept(plan):
    return sorted((d.record.repository, d.record.tag) for d in plan.decisions if not d.delete)


def test_keeps_the_newest_n_of_each_repository_by_creation_time():
    records = [record(f"1.{i}", f"2026-01-0{i}T00:00:00Z") for i in range(1, 6)]
    records.append(record("9.0", "2020-01-01T00:00:00Z", repository="other"))
    plan = plan_prune(records, 2, {})
    assert kept(plan) == [("app", "1.4"), ("app", "1.5"), ("other", "9.0")]
    assert [d for _, d in plan.deletions] == ["sha256:1.3", "sha256:1.2", "sha256:1.1"]


def test_equal_creation_times_fall_back_to_the_push_time():
    # Spring Boot's build-image stamps every image 1980-01-01T00:00:01Z
    stamp = "1980-01-01T00:00:01Z"
    records = [record("b", stamp, pushed=30.0), record("a", stamp, pushed=10.0),
               record("c", stamp, pushed=20.0)]  # fmt: skip
    assert kept(plan_prune(records, 1, {})) == [("app", "b")]


def test_a_protected_tag_is_kept_with_its_reason():
    records = [record("1.0", "2026-01-01"), record("2.0", "2026-02-01")]
    plan = plan_prune(records, 1, {("app", "1.0"): "deployed: release rhdemo runs it"})
    assert not plan.deletions
    assert {d.record.tag: d.reason for d in plan.decisions}["1.0"].startswith("deployed")


def test_a_tag_sharing_the_digest_of_a_kept_tag_is_never_deleted():
    records = [record("2.0", "2026-02-01", "sha256:x"), record("latest", "2026-02-01", "sha256:x"),
               record("1.0", "2026-01-01", "sha256:y")]  # fmt: skip
    plan = plan_prune(records, 1, {})
    assert plan.deletions == [("app", "sha256:y")]
    assert kept(plan) == [("app", "2.0"), ("app", "latest")]


def test_the_platforms_of_a_kept_index_are_kept():
    records = [record("multi", "2026-03-01", children=("sha256:amd", "sha256:arm")),
               record("amd", "2026-01-01"), record("arm", "2026-01-02"),
               record("old", "2025-01-01")]  # fmt: skip
    plan = plan_prune(records, 1, {})
    assert plan.deletions == [("app", "sha256:old")]


def test_keep_zero_deletes_all_but_protected():
    records = [record("1.0", "2026-01-01"), record("2.0", "2026-02-01")]
    plan = plan_prune(records, 0, {("app", "2.0"): "deployed"})
    assert plan.deletions == [("app", "sha256:1.0")]

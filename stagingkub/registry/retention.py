"""Which tags registry.prune keeps and which it deletes (pure, no registry needed).

A v2 registry deletes manifests, not tags: DELETE /v2/<repo>/manifests/<digest>
removes every tag pointing at that digest. So a tag is deleted only when no kept
tag shares its digest; otherwise it is kept and the reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TagRecord:
    repository: str
    tag: str
    digest: str
    created: str  # the image config's RFC 3339 creation time, '' when unknown
    pushed: float = 0.0  # when the tag was last pushed (storage mtime), 0 when unknown
    children: tuple[str, ...] = ()  # a multi-arch index: its platform manifests' digests

    @property
    def order(self) -> tuple[str, float, str]:
        """Newest first sorts on this descending: creation time, then push time, then tag."""
        return (self.created, self.pushed, self.tag)


@dataclass
class Decision:
    record: TagRecord
    delete: bool
    reason: str


@dataclass
class PrunePlan:
    decisions: list[Decision] = field(default_factory=list)

    @property
    def deletions(self) -> list[tuple[str, str]]:
        """(repository, digest) to DELETE, each once."""
        pairs = [(d.record.repository, d.record.digest) for d in self.decisions if d.delete]
        return list(dict.fromkeys(pairs))

    @property
    def deleted_tags(self) -> list[TagRecord]:
        return [d.record for d in self.decisions if d.delete]


def plan_prune(
    records: list[TagRecord], keep: int, protected: dict[tuple[str, str], str]
) -> PrunePlan:
    """Keep the newest `keep` tags of each repository, every protected (repository, tag)
    with its reason, and every tag sharing a digest with a kept one; delete the rest."""
    plan = PrunePlan()
    by_repository: dict[str, list[TagRecord]] = {}
    for record in records:
        by_repository.setdefault(record.repository, []).append(record)
    for repository in sorted(by_repository):
        plan.decisions += _decide(by_repository[repository], keep, protected)
    return plan


def _decide(
    records: list[TagRecord], keep: int, protected: dict[tuple[str, str], str]
) -> list[Decision]:
    newest = sorted(records, key=lambda r: r.order, reverse=True)
    decisions = []
    for rank, record in enumerate(newest):
        why = protected.get((record.repository, record.tag))
        if rank < keep:
            decisions.append(Decision(record, False, f"newest {keep}"))
        elif why:
            decisions.append(Decision(record, False, why))
        else:
            decisions.append(Decision(record, True, "older than the newest " + str(keep)))
    kept = {d.record.digest: d.record.tag for d in decisions if not d.delete}
    inside = {c: d.record.tag for d in decisions if not d.delete for c in d.record.children}
    for decision in decisions:
        digest = decision.record.digest
        if decision.delete and digest in kept:
            decision.delete = False
            decision.reason = (
                f"same image as the kept tag {kept[digest]} (deleting its digest would delete both)"
            )
        elif decision.delete and digest in inside:
            decision.delete = False
            decision.reason = f"a platform of the kept multi-arch tag {inside[digest]}"
    return decisions


def by_tag(records: list[TagRecord], protected: dict[tuple[str, str], str]
           ) -> dict[tuple[str, str], str]:  # fmt: skip
    """{(repository, tag): why} for every tag whose digest (or, for a release without a
    digest, whose tag) is protected: every tag that points at a protected image."""
    found = {}
    for record in records:
        why = protected.get((record.repository, record.digest)) or protected.get(
            (record.repository, "tag:" + record.tag)
        )
        if why:
            found[(record.repository, record.tag)] = why
    return found

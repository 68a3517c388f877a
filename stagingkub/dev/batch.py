"""What may start a dev cycle, and when a batch of changes is complete: pure decisions,
fed with watchfiles' change sets and the time they arrived (tested without timers)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from stagingkub.release.image import ImageSpec
from stagingkub.release.image_inputs import LeftOut, absolute, source_roots

PROBE_PREFIX = ".stagingkub-dev-probe-"  # the file dev writes at start: never a trigger


@dataclass(frozen=True)
class Rules:
    """Which changed paths may start a cycle: those under a watched root that the input
    record does not leave out (image_inputs.LeftOut: the same rule), and not dev's probe."""

    roots: tuple[Path, ...]
    left_out: LeftOut

    @classmethod
    def of(cls, spec: ImageSpec, files_dir: Path | None = None) -> Rules:
        roots = tuple(absolute(root) for root in source_roots(spec))
        return cls(roots, LeftOut.of(spec, files_dir))

    def may_trigger(self, path: str) -> bool:
        found = absolute(Path(path))
        if found.name.startswith(PROBE_PREFIX):
            return False
        for root in self.roots:
            if found == root or root in found.parents:  # a folder's own event too
                return not self.left_out.excludes(found, root)
        return False


@dataclass
class Batch:
    """Change sets gathered until the files have been quiet for `debounce` seconds, or
    `max_wait` seconds have passed since the first one."""

    debounce: float
    max_wait: float
    first: float | None = None
    last: float | None = None
    events: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)  # path -> its latest event

    @property
    def paths(self) -> set[str]:
        return set(self.arrivals)

    def add(self, at: float, changes: set[tuple[object, str]]) -> None:
        if not changes:
            return
        self.first = at if self.first is None else self.first
        self.last = at
        self.events += len(changes)
        self.arrivals.update((path, at) for _, path in changes)

    def wait(self, now: float) -> float | None:
        """Seconds until the batch is complete (0: now); None while it is empty."""
        if self.first is None or self.last is None:
            return None
        quiet = self.last + self.debounce - now
        capped = self.first + self.max_wait - now
        return max(0.0, min(quiet, capped))

    def relative(self, root: Path) -> list[str]:
        """The changed paths relative to root, as the input record names files."""
        return relative(self.paths, root)


def relative(paths: set[str], root: Path) -> list[str]:
    """Paths relative to root, sorted: as the input record names files."""
    return sorted(os.path.relpath(path, root) for path in paths)


def summary(names: list[str], shown: int = 5) -> str:
    """'a, b, c, d, e and 3 more': what changed, as one line."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


BUILD, UNCHANGED, ECHO = "build", "unchanged", "echo"


@dataclass
class Trigger:
    """Whether a complete batch starts a cycle: the loop's decision, pure (the real loop and
    the model test in tests/unit/test_dev_trigger.py both drive this object).

    The input digest decides: equal to the last cycle's, nothing runs (a touch, a build that
    writes the same bytes again). Otherwise the batch builds, except the echo of an echo: a
    batch made only of files that changed while the last build ran, when that build's own
    batch was made only of the same files changing while the build before it ran. So a
    build that writes new bytes into its inputs (a stamp) costs one extra cycle, never a
    storm, and nothing is silenced for good: the files are named, no state changes, and the
    next change made while no build runs builds them (window: when the last build ran,
    stretched by how late the watcher may report)."""

    digest: str | None = None  # the inputs of the last cycle (built, or failed)
    window: tuple[float, float] | None = None  # when its build ran
    echoing: frozenset[str] = frozenset()  # its batch, when made only of changes in a window

    def decide(self, arrivals: dict[str, float], digest: str) -> str:
        """BUILD, UNCHANGED or ECHO for a complete batch (path -> its latest event's time)."""
        if digest == self.digest:
            return UNCHANGED
        if self.within(arrivals) and set(arrivals) <= self.echoing:
            return ECHO
        return BUILD

    def ran(self, arrivals: dict[str, float], digest: str, window) -> None:
        """A cycle ran on these inputs (built or failed); window: when its build ran."""
        self.echoing = frozenset(arrivals) if self.within(arrivals) else frozenset()
        self.digest, self.window = digest, window

    def within(self, arrivals: dict[str, float]) -> bool:
        """Every path's latest event came while the last build ran."""
        if self.window is None or not arrivals:
            return False
        start, end = self.window
        return all(start <= at <= end for at in arrivals.values())

    def settled(self, now: float) -> float:
        """Seconds until the last build's late events are in: a batch waits for them, so
        what that build wrote is one batch."""
        return 0.0 if self.window is None else max(0.0, self.window[1] - now)

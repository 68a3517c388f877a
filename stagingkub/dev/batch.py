"""What may start a dev cycle, and when a batch of changes is complete: pure decisions,
fed with watchfiles' change sets and the time they arrived (tested without timers)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

# Folders whose files never start a cycle: build output, VCS and package folders, this
# tool's own files, Python's and Gradle's caches (the default app_dir is the repository
# root, beside .venv). What git ignores is left out later, by the input record itself.
NEVER_DIRS = frozenset({
    "target", "build", ".git", "node_modules", ".stagingkub",
    ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".gradle",
})  # fmt: skip
# Editors' swap, backup and safe-write files (vim's 4913 and .swp, emacs' .#lock and
# backup~, JetBrains' ___jb_tmp___), the probe dev writes at start, macOS' .DS_Store.
PROBE_PREFIX = ".stagingkub-dev-probe-"
_EPHEMERAL = re.compile(
    r"(\.sw[a-p]|\.swx|~|___jb_(tmp|old|bak)___)$|^(\.#|#.*#$)|^4913$|^\.DS_Store$"
    rf"|^{re.escape(PROBE_PREFIX)}"
)


@dataclass(frozen=True)
class Rules:
    """Which changed paths may start a cycle: those under a watched root, outside the
    folders above and this tool's files_dir, and not an editor's temporary file."""

    roots: tuple[Path, ...]
    files_dir: Path

    @classmethod
    def of(cls, roots: list[Path], files_dir: Path) -> Rules:
        absolute = tuple(Path(os.path.abspath(root)) for root in roots)
        return cls(absolute, Path(os.path.abspath(files_dir)))

    def may_trigger(self, path: str) -> bool:
        absolute = Path(os.path.abspath(path))
        if absolute == self.files_dir or self.files_dir in absolute.parents:
            return False
        if _EPHEMERAL.search(absolute.name):
            return False
        for root in self.roots:
            if absolute == root or root in absolute.parents:
                inside = absolute.relative_to(root).parts  # a folder's own event too
                return not any(part in NEVER_DIRS for part in inside)
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

    def drop(self, paths: set[str]) -> None:
        for path in paths:
            self.arrivals.pop(path, None)

    def arrived_within(self, start: float, end: float) -> bool:
        """Every path's latest event came between start and end (during the last build)."""
        return bool(self.arrivals) and all(start <= at <= end for at in self.arrivals.values())

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


@dataclass
class BuildWrites:
    """Files a build writes into its own inputs (a code generator, a stamp file): a batch of
    only files that changed while the last build ran is a suspect; when the same files come
    back so after the next build too, they stop triggering (at most one extra build)."""

    window: tuple[float, float] | None = None  # when the last build ran
    suspects: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)  # found: never a trigger again

    def found_in(self, batch: Batch) -> set[str]:
        """Drop the known outputs from batch; return the paths newly found to be outputs."""
        batch.drop(self.outputs)
        if self.window is None or not batch.arrived_within(*self.window):
            self.suspects = set()
            return set()
        repeated = batch.paths & self.suspects
        self.suspects = batch.paths
        if repeated:
            self.outputs |= repeated
            batch.drop(repeated)
        return repeated

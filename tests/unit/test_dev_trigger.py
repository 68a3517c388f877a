"""invoke dev's decision, proved on a model of its world: a developer who saves, touches and
deletes files while no build runs or while one runs, builds of any length that do or do not
write into their own inputs (the same bytes, or new bytes each time), events reported late.

The model drives the loop's own decision object (stagingkub.dev.batch.Trigger), as the loop
does: each complete batch (path -> its latest event's time) and the input digest go to
decide(); a cycle that ran goes to ran() with when its build ran. What it must hold:

- the input digest decides: nothing runs when the inputs equal the last ones read;
- a save made while no build runs is built by the next cycle, always;
- a save made while a build runs is built by the next cycle, except in the one case that
  looks exactly like a build writing its sources (saved during a build that was itself
  started only by that file changing during the build before): then it is named in the
  line dev prints, and the next change made while no build runs builds it (nothing is
  silenced for good);
- a build that writes its own inputs costs at most one extra cycle: after the developer's
  last action at most two cycles start (the one that builds it, one extra), then none.
"""

import hashlib
import json

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from stagingkub.dev.batch import ECHO, UNCHANGED, Trigger

POM = "/app/pom.xml"
PATHS = ("/app/src/App.java", "/app/src/build/Version.java", "/app/gen/Stamp.java", POM)
KINDS = ("save", "touch", "delete")
LATE = 0.5  # how late the watcher may report an event: the loop's LATE_EVENTS
DURING = st.tuples(st.sampled_from(KINDS), st.sampled_from(PATHS), st.floats(0, 1),
                   st.floats(0, LATE))  # fmt: skip


def digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


class DevLoop(RuleBasedStateMachine):
    """The world around the loop, and the loop's decisions through Trigger."""

    def __init__(self) -> None:
        super().__init__()
        self.trigger = Trigger()
        self.clock, self.serial = 1000.0, 0
        self.files = {path: "v0" for path in PATHS}
        self.writes: dict[str, str] = {}  # path -> "same" | "new": what each build writes
        self.queued: dict[str, float] = {}  # the watcher's queue: path -> latest event
        self.owed: dict[str, str | None] = {}  # developer changes no build has read yet
        self.reported: set[str] = set()  # paths named by a "no cycle starts" line
        self.idle_since_build = False  # the developer acted while no build ran
        self.started_by_extra = False  # the last build's batch: only changes during a build
        self.cycles_after_developer = 0
        self.read = dict(self.files)  # what the last build read: the first deploy's inputs
        self.trigger.ran({}, digest(self.files), (self.clock, self.clock + 30 + LATE))
        self.clock += 30 + LATE

    def act(self, kind: str, path: str, at: float, developer: bool) -> bool:
        """One change and its event; False when there was nothing to delete."""
        if kind == "delete" and path not in self.files:
            return False
        if kind == "save":
            self.serial += 1
            self.files[path] = f"developer-{self.serial}"
        elif kind == "touch":
            self.files.setdefault(path, "")
        elif kind == "delete":
            del self.files[path]
        elif kind in ("same", "new"):  # the build writes its sources
            self.serial += 1
            self.files[path] = "generated" if kind == "same" else f"generated-{self.serial}"
        if developer:
            self.owed[path] = self.files.get(path)
            self.cycles_after_developer = 0
        else:
            self.owed.pop(path, None)  # what the developer saved there is gone
        self.queued[path] = at
        return True

    @rule(kind=st.sampled_from(KINDS), path=st.sampled_from(PATHS), gap=st.floats(0.01, 5))
    def developer_while_idle(self, kind: str, path: str, gap: float) -> None:
        self.clock += gap
        if self.act(kind, path, self.clock, developer=True):
            self.idle_since_build = True

    @rule(path=st.sampled_from(PATHS[:3]), mode=st.sampled_from((None, "same", "new")))
    def build_starts_or_stops_writing(self, path: str, mode: str | None) -> None:
        """The developer changes the build (a generator in pom.xml): pom.xml is saved."""
        if mode is None:
            self.writes.pop(path, None)
        else:
            self.writes[path] = mode
        self.developer_while_idle("save", POM, 0.01)

    @rule(during=st.lists(DURING, max_size=3), seconds=st.floats(0.1, 90),
          writes_at=st.floats(0, 1), late=st.floats(0, LATE))  # fmt: skip
    def batch_completes(self, during, seconds: float, writes_at: float, late: float) -> None:
        """What is queued becomes one batch; a build may run, during which the build writes
        its sources and the developer may act."""
        if not self.queued:
            return  # the loop waits
        arrivals, self.queued = self.queued, {}
        decision = self.trigger.decide(arrivals, digest(self.files))
        self.check(decision, arrivals)
        if decision == ECHO:
            self.reported |= set(arrivals)
        elif decision == UNCHANGED:
            self.owed = {}  # changed back: nothing to build
        else:
            self.build(arrivals, during, seconds, writes_at, late)

    def check(self, decision: str, arrivals: dict[str, float]) -> None:
        assert (decision == UNCHANGED) == (self.files == self.read)  # the digest decides
        if decision == ECHO:
            assert not self.idle_since_build  # a save made while no build ran: always built
            assert self.started_by_extra  # only the echo of an echo
            assert set(self.owed) <= self.reported | set(arrivals)  # never silently

    def build(self, arrivals, during, seconds: float, writes_at: float, late: float) -> None:
        start = self.clock
        self.read, self.owed, self.reported = dict(self.files), {}, set()
        self.started_by_extra = not self.idle_since_build
        self.idle_since_build = False
        self.cycles_after_developer += 1
        events = [(start + at * seconds, kind, path, lag, True) for kind, path, at, lag in during]
        events += [(start + writes_at * seconds, mode, path, late, False)
                   for path, mode in self.writes.items()]  # fmt: skip
        for at, kind, path, lag, developer in sorted(events):
            self.act(kind, path, at + lag, developer)
        self.trigger.ran(arrivals, digest(self.read), (start, start + seconds + LATE))
        self.clock = start + seconds + LATE  # the loop waits for late events (settled)

    @invariant()
    def at_most_one_extra_cycle(self) -> None:
        assert self.cycles_after_developer <= 2

    def teardown(self) -> None:
        """Nothing is silenced for good: after one more change while no build runs, every
        change the developer made is read by a build."""
        self.developer_while_idle("touch", PATHS[0], 1.0)
        for _ in range(4):
            self.batch_completes([], 60.0, 0.5, 0.0)
        assert self.owed == {}
        assert not self.queued  # quiet: no storm


TestDevLoop = DevLoop.TestCase
TestDevLoop.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)

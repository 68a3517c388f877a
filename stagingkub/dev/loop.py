"""invoke dev: deploy, then after each batch of changes to the app's inputs run build, push
and helm with the daily loop's skips. The input digest, not a file event, decides: a save
that changed nothing is one line. Cycles never overlap; a failure ends a cycle, not dev."""

from __future__ import annotations

import os
import queue
import signal
import time
from pathlib import Path

from stagingkub import pipeline
from stagingkub.console import say
from stagingkub.dev import watch
from stagingkub.dev.batch import Batch, BuildWrites, Rules, relative, summary
from stagingkub.dev.logs import LogStream
from stagingkub.errors import StagingkubError, StateError
from stagingkub.parse import seconds_of
from stagingkub.release import helm_ops, image_inputs
from stagingkub.release.helm import PENDING, pinned_reference
from stagingkub.release.image import ImageSpec
from stagingkub.runner import Interrupted, Runner, reap_descendants

DRY_REFUSAL = (
    "`invoke --dry dev` has nothing to print: dev is a loop that waits for file changes, not "
    "a script. `invoke --dry deploy` prints the commands of one deploy, for a Jenkins `sh` "
    "step; run `invoke dev` without --dry to build and deploy on every save."
)


class Loop:
    """One `invoke dev` run: its watcher, what it last built, what runs in the cluster."""

    def __init__(self, runner: Runner, settings, image: ImageSpec, *, poll: bool, logs: bool):
        self.runner, self.settings, self.image = runner, settings, image
        self.poll, self.engine = poll, None
        self.rules = Rules.of(image_inputs.source_roots(image), image.files_dir)
        self.debounce = seconds_of(settings.dev.debounce)
        self.max_wait = seconds_of(settings.dev.max_wait)
        self.baseline: image_inputs.BuildInputs | None = None
        self.running = ""  # the pinned reference the release runs, once known
        self.cycles, self.in_cycle = 0, False
        self.build_writes = BuildWrites()
        kubectl = ["kubectl", "--context", settings.kube_context, "-n", settings.deploy.namespace]
        self.logs = LogStream(kubectl, settings.deploy.release) if logs else None

    def run(self) -> None:
        """Until Ctrl-C or SIGTERM: exit code 130, nothing left running."""
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        watcher = None
        try:
            watcher, chosen = watch.start(
                self.rules,
                poll=self.poll,
                poll_interval=seconds_of(self.settings.dev.poll_interval),
            )
            inputs = self._read_inputs()
            self._announce(watcher, chosen, inputs)
            steps, self.engine = pipeline.prepare(self.runner, self.settings, self.image)
            self.cycle(Batch(self.debounce, self.max_wait), inputs, steps)
            while True:
                self.cycle(self.next_batch(watcher), self._read_inputs())
        except (KeyboardInterrupt, Interrupted) as stop:
            raise self._stopped(stop) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
            if watcher is not None:
                watcher.stop()
            if self.logs is not None:
                self.logs.pause()
            reap_descendants()

    def _read_inputs(self) -> image_inputs.BuildInputs:
        from stagingkub.docker import state as docker_state

        self.engine = self.engine or docker_state.client()
        return image_inputs.collect(self.image, self.engine, self.image.files_dir)

    def _announce(self, watcher: watch.Watcher, chosen: str, inputs) -> None:
        roots = ", ".join(_shown(root) for root in self.rules.roots)
        how = f"{watcher.backend}" + (f": {chosen}" if chosen else "")
        say(
            f"dev: watching {roots} ({len(inputs.files)} files, {how}); each batch of "
            f"changes runs build, push and helm for {self.image.version}. Ctrl-C stops."
        )

    def next_batch(self, watcher: watch.Watcher) -> Batch:
        """Changes until the files are quiet for dev.debounce (at most dev.max_wait after the
        first); what arrived during the last cycle is already queued, so it joins this one."""
        batch = Batch(self.debounce, self.max_wait)
        while True:
            drain(watcher.changes, batch)
            due = batch.wait(time.monotonic())
            if due == 0:
                return batch
            if watcher.failure is not None:
                raise StateError(
                    f"The file watcher stopped: {watcher.failure}. Re-run "
                    "`invoke dev` (with --poll if this folder's events fail)."
                )
            try:
                batch.add(*watcher.changes.get(timeout=min(due or 1.0, 1.0)))
            except queue.Empty:
                continue

    def cycle(self, batch: Batch, inputs, steps=None) -> None:
        """Build, push and helm for these inputs, unless they are the ones last built."""
        if steps is None and self._only_build_output(batch):
            return None
        if steps is None and self.baseline and inputs.digest == self.baseline.digest:
            return self._unchanged(batch, inputs)
        why = "the first deploy" if steps else image_inputs.difference(self.baseline, inputs)
        steps = self._begin(batch, why, steps)
        self.in_cycle, delivered = True, time.monotonic()
        try:
            release = pipeline.deliver(
                steps, self.runner, self.settings, self.image, self.engine, inputs=inputs
            )
        except StagingkubError as error:
            if isinstance(error, Interrupted):
                raise
            return self._failed(steps, error)
        finally:
            self.in_cycle, self.baseline = False, inputs
            self.build_writes.window = _build_window(steps, delivered)
        self._succeeded(steps, batch, pinned_reference(release))

    def _begin(self, batch: Batch, why: str, steps):
        """The cycle's header line; the log stream pauses while it runs."""
        self.cycles += 1
        events = f" ({_count(batch.events, 'event')})" if batch.events else ""
        say(f"\n-- dev cycle {self.cycles} ({time.strftime('%H:%M:%S')}): {why}{events}")
        if self.logs is not None:
            self.logs.pause()
        return steps or pipeline.Steps(self.runner)

    def _only_build_output(self, batch: Batch) -> bool:
        """True when nothing but files the build itself writes changed."""
        found = self.build_writes.found_in(batch)
        if found:
            names = summary(relative(found, self.rules.roots[0]))
            say(
                f"the build writes {names} inside the watched files, so each build would "
                "start another: they no longer start a cycle. Add them to .gitignore (or "
                "write them under target/), so the input record leaves them out too."
            )
        return not batch.paths

    def _unchanged(self, batch: Batch, inputs) -> None:
        root = self.rules.roots[0]
        inputs_touched = [
            p for p in batch.relative(root) if p in inputs.files or p in self.baseline.files
        ]
        if inputs_touched:
            say(
                f"no input changed: {_count(batch.events, 'event')}, "
                f"{_count(len(inputs_touched), 'file')} "
                f"({summary(inputs_touched)})"
            )

    def _succeeded(self, steps, batch: Batch, reference: str) -> None:
        steps.table()
        helm = next((s for s in steps.done if s.name == "helm"), None)
        if batch.first is None:  # the first deploy
            how = f"ready {time.monotonic() - steps.started:.1f} s after dev started"
        elif helm is not None and helm.ran:
            how = f"pods Ready {time.monotonic() - batch.first:.1f} s after the first change"
        else:
            how = "unchanged: the same image as before"
        new = " (new)" if self.running and reference != self.running else ""
        self.running = reference
        say(f"running {reference}{new}; {how}. Waiting for changes (Ctrl-C stops).")
        if self.logs is not None:
            self.logs.follow()

    def _failed(self, steps, error: StagingkubError) -> None:
        failing = _failing_step(steps)
        steps.fail(failing, "see above", steps.started + sum(s.seconds for s in steps.done))
        steps.table()
        still = f"The cluster still runs {self.running}" if self.running else "Nothing runs yet"
        say(
            f"dev cycle {self.cycles} failed at {failing}: {error}\n{still}; waiting for the "
            "next change (fix the file and save it)."
        )
        if self.logs is not None and self.running:
            self.logs.follow()

    def _stopped(self, stop: BaseException) -> Interrupted:
        """Exit 130: what ran is stopped; the release is not left pending-*."""
        if self.logs is not None:
            self.logs.pause()  # its kubectl is ours to end, not a leftover
        left = reap_descendants()
        state = self._release_state() if self.in_cycle or isinstance(stop, Interrupted) else ""
        parts = ["dev stopped"]
        if left:
            parts.append(f"{len(left)} process(es) it had started were stopped")
        if state:
            parts.append(state)
        elif self.running:
            parts.append(f"the cluster runs {self.running}")
        stopped = Interrupted("; ".join(parts) + ".")
        stopped.exit_code = 130
        return stopped

    def _release_state(self) -> str:
        """After a stop during a cycle: the release's status, recovered from pending-*."""
        spec = pipeline.release_spec(self.settings, self.image, "")
        try:
            current = helm_ops.release_state(self.runner, spec)
        except StagingkubError as error:
            return f"the release could not be read ({error}); `invoke deploy` checks it"
        if current is None:
            return f"the release {spec.release} is not installed"
        status, revision = current["info"]["status"], current.get("version")
        if status not in PENDING:
            return f"the release {spec.release} is {status} (revision {revision})"
        try:  # the helm that left it pending has exited: nothing else holds it
            helm_ops.recover_pending(self.runner, spec, current, force=True)
        except (StagingkubError, KeyboardInterrupt):
            return (
                f"the release {spec.release} is left {status}: the next `invoke deploy` "
                "recovers it (now: `invoke deploy --recover`)"
            )
        return f"the interrupted helm upgrade left {spec.release} {status}: it was rolled back"


def _failing_step(steps) -> str:
    """The step that raised: the one after the last recorded (build, scan, push, helm)."""
    order = ["build", "scan", "push", "helm"]
    done = [s.name for s in steps.done if s.name in order]
    return order[min(order.index(done[-1]) + 1, 3)] if done else "build"


def _build_window(steps, delivered: float) -> tuple[float, float] | None:
    """When this cycle's build ran (events arrive up to a watcher step later), or None."""
    build = next((s for s in steps.done if s.name == "build" and s.ran), None)
    if build is None:
        return None
    return (delivered, delivered + build.seconds + 0.5)


def _count(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def drain(changes: queue.Queue, batch: Batch) -> None:
    """Everything already queued joins the batch (what arrived during a cycle: one cycle)."""
    while True:
        try:
            batch.add(*changes.get_nowait())
        except queue.Empty:
            return


def _shown(root: Path) -> str:

    relative = os.path.relpath(root)
    return root.as_posix() if relative.startswith("..") else relative

"""invoke dev: deploy, then after each batch of changes to the app's inputs run build, push
and helm with the daily loop's skips. The input digest, not a file event, decides: a save
that changed nothing is one line (batch.Trigger). Cycles never overlap; a failure (the
inputs unreadable, the engine gone, a build, push or helm) ends a cycle, not dev."""

from __future__ import annotations

import os
import queue
import signal
import time
from pathlib import Path

from stagingkub import pipeline
from stagingkub.console import say
from stagingkub.dev import live_cycle, watch
from stagingkub.dev.batch import BUILD, ECHO, UNCHANGED, Batch, Rules, Trigger, relative, summary
from stagingkub.dev.forward import Forward, parse
from stagingkub.dev.forward import check_free as forward_check
from stagingkub.dev.live import Live
from stagingkub.dev.logs import LogStream
from stagingkub.errors import StagingkubError, StateError
from stagingkub.parse import seconds_of
from stagingkub.release import helm_ops, image_inputs
from stagingkub.release.helm import PENDING, pinned_reference
from stagingkub.release.image import ImageSpec
from stagingkub.runner import Interrupted, Runner, reap_descendants

LATE_EVENTS = 0.5  # seconds after a build ends that its own writes may still be reported
DRY_REFUSAL = (
    "`invoke --dry dev` has nothing to print: dev is a loop that waits for file changes, not "
    "a script. `invoke --dry deploy` prints the commands of one deploy, for a Jenkins `sh` "
    "step; run `invoke dev` without --dry to build and deploy on every save."
)


class Loop:
    """One `invoke dev` run: its watcher, what it last built, what runs in the cluster."""

    def __init__(self, runner: Runner, settings, image: ImageSpec, *, poll: bool, logs: bool,
                 live: str = "off", forward: str = ""):  # fmt: skip
        self.runner, self.settings, self.image = runner, settings, image
        self.poll, self.engine = poll, None
        self.rules = Rules.of(image)
        self.debounce = seconds_of(settings.dev.debounce)
        self.max_wait = seconds_of(settings.dev.max_wait)
        self.baseline: image_inputs.BuildInputs | None = None
        self.running = ""  # the pinned reference the release runs, once known
        self.cycles, self.in_cycle, self.late = 0, False, LATE_EVENTS
        self.trigger = Trigger()
        kubectl = ["kubectl", "--context", settings.kube_context, "-n", settings.deploy.namespace]
        self.logs = LogStream(kubectl, settings.deploy.release) if logs else None
        self.live = Live(image.app_dir, kubectl, settings.deploy.namespace,
                         settings.deploy.release, live, image.files_dir / "live")  # fmt: skip
        self.forward = (
            Forward(kubectl, settings.deploy.release, *parse(forward)) if forward else None
        )
        self.resynced = 0.0  # when pods were last checked for the live changes

    def run(self) -> None:
        """Until Ctrl-C or SIGTERM: exit code 130, nothing left running."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        watcher, stopping = None, False
        if self.forward is not None:
            forward_check(self.forward.local)
        try:
            watcher, chosen = watch.start(
                self.rules,
                poll=self.poll,
                poll_interval=seconds_of(self.settings.dev.poll_interval),
            )
            self.late = LATE_EVENTS + (watcher.poll_interval if watcher.polling else 0)
            inputs = self._read_inputs()
            self._announce(watcher, chosen, inputs)
            steps, self.engine = pipeline.prepare(self.runner, self.settings, self.image)
            self.cycle(Batch(self.debounce, self.max_wait), inputs, steps)
            live_cycle.reset_stale(self)  # what an earlier dev synced, if helm rolled nothing
            while True:
                self.live.warm()  # the warm javac, started (again) in the background
                self.next_cycle(self.next_batch(watcher))
        except (KeyboardInterrupt, Interrupted) as stop:
            stopping = self._hold_signals()  # held until the process exits with its message
            raise self._stopped(stop) from None
        finally:
            self._hold_signals()  # from here a Ctrl-C is noted, never a traceback
            self._close(watcher)
            for sig, handler in previous.items():  # stopping: ignored while Python exits
                signal.signal(sig, signal.SIG_IGN if stopping else handler)

    @staticmethod
    def _hold_signals() -> bool:
        """While dev stops, another Ctrl-C or SIGTERM changes nothing: the stop is bounded
        already (each process gets 5 s; a helm it runs still gets the signal), and it ends
        with its own message, never a traceback."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _already_stopping)
        return True

    def _close(self, watcher) -> None:
        if watcher is not None:
            watcher.stop()
        if self.forward is not None:
            self.forward.stop()
        if self.logs is not None:
            self.logs.pause()
        self.live.close()
        reap_descendants()

    def next_cycle(self, batch: Batch) -> None:
        """The batch's inputs read, then a cycle. A failure to read them (the engine
        restarting, a file unreadable) ends this cycle, never dev; a file gone mid-read is
        simply no input."""
        try:
            inputs = self._read_inputs()
        except (StagingkubError, OSError) as error:
            if isinstance(error, Interrupted):
                raise
            say(
                f"dev: a cycle failed before its build: the inputs could not be read: {error}\n"
                "Nothing ran; waiting for the next change (save a file to retry)."
            )
            return
        self.cycle(batch, inputs)

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
            now = time.monotonic()
            due = batch.wait(now)
            if due == 0:  # what the last build wrote, reported late, joins this batch
                due = self.trigger.settled(now)
            if due == 0:
                return batch
            if self.live.count and not batch.events and now - self.resynced >= 1.0:
                self.resynced = now
                live_cycle.resync(self)
            if watcher.failure is not None:
                raise StateError(
                    f"The file watcher stopped: {watcher.failure}. Re-run "
                    "`invoke dev` (with --poll if this folder's events fail)."
                )
            try:
                batch.add(*watcher.changes.get(timeout=min(due or 1.0, 1.0)))
            except queue.Empty:
                continue

    def cycle(self, batch: Batch, inputs, steps=None, full: str = "") -> None:
        """A live update, or build, push and helm for these inputs, when the trigger says
        so; full: why the full cycle runs whatever changed."""
        if steps is None and not full and not self._starts(batch, inputs):
            return None
        if steps is None and not full:
            served, full = live_cycle.serve(self, batch, inputs)
            if served:
                return None
        why = "the first deploy" if steps else image_inputs.difference(self.baseline, inputs)
        steps = self._begin(batch, why + (f" (full cycle: {full})" if full else ""), steps)
        self.in_cycle, delivered = True, time.monotonic()
        try:
            release = pipeline.deliver(
                steps,
                self.runner,
                self.settings,
                self.image,
                self.engine,
                inputs=inputs,
                live=self.live.enabled,
            )
        except (StagingkubError, OSError) as error:
            if isinstance(error, Interrupted):
                raise
            self._ran(batch, inputs, _build_window(steps, delivered, self.late, failed=True))
            return self._failed(steps, error)
        finally:
            self.in_cycle = False
        self._ran(batch, inputs, _build_window(steps, delivered, self.late, failed=False))
        had_live = self.live.count
        self._succeeded(steps, batch, pinned_reference(release))
        if had_live:  # the same image as before the live changes: its pods still hold them
            live_cycle.reset_stale(self)

    def _starts(self, batch: Batch, inputs) -> bool:
        """The trigger's decision, and its one line when no cycle starts."""
        decision = self.trigger.decide(batch.arrivals, inputs.digest)
        if decision == UNCHANGED:
            self._unchanged(batch, inputs)
        elif decision == ECHO:
            self._echo(batch)
        return decision == BUILD

    def _ran(self, batch: Batch, inputs, window) -> None:
        self.baseline = inputs
        self.trigger.ran(batch.arrivals, inputs.digest, window)

    def _begin(self, batch: Batch, why: str, steps):
        """The cycle's header line; the log stream pauses while it runs."""
        self.cycles += 1
        events = f" ({_count(batch.events, 'event')})" if batch.events else ""
        say(f"\n-- dev cycle {self.cycles} ({time.strftime('%H:%M:%S')}): {why}{events}")
        if self.logs is not None:
            self.logs.pause()
        return steps or pipeline.Steps(self.runner)

    def _echo(self, batch: Batch) -> None:
        names = summary(relative(batch.paths, self.rules.roots[0]))
        say(
            f"{names} changed while each of the last two builds ran: taken for files the "
            "build writes into its own inputs (a code generator, a stamp file), so no cycle "
            "starts (each would start another). Nothing is ignored for good: the next change "
            "saved while no build runs builds them too. If the build writes them, add them "
            "to .gitignore (or write them under target/)."
        )

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
        if helm is not None and helm.ran:
            self.live.baked()  # new pods from an image that holds every change
        self.running = reference
        say(f"running {reference}{new}; {how}. Waiting for changes (Ctrl-C stops).")
        if self.forward is not None and batch.first is None:
            note = self.forward.start()
            say(f"forwarding {self.forward.url} to port {self.forward.remote} of the app's "
                f"current pod (it follows rollouts and restarts).{note}")  # fmt: skip
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
        elif self.running and self.live.count:
            parts.append(
                f"the cluster runs {self.running} plus live changes to "
                f"{_count(self.live.count, 'file')}; `invoke deploy` bakes them into an image"
            )
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


def _already_stopping(signum, frame) -> None:
    """Ctrl-C again while dev stops: it is stopping already."""


def _failing_step(steps) -> str:
    """The step that raised: the one after the last recorded (build, scan, push, helm)."""
    order = ["build", "scan", "push", "helm"]
    done = [s.name for s in steps.done if s.name in order]
    return order[min(order.index(done[-1]) + 1, 3)] if done else "build"


def _build_window(steps, delivered: float, late: float, *, failed: bool):
    """When this cycle's build ran, stretched by how late its events may arrive (a failed
    build ran too: it may have written its sources first); None when no build ran."""
    build = next((s for s in steps.done if s.name == "build"), None)
    if build is None and failed and _failing_step(steps) == "build":
        return (delivered, time.monotonic() + late)
    if build is None or not build.ran:
        return None
    return (delivered, delivered + build.seconds + late)


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

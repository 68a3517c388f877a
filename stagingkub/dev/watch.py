"""The file watcher: watchfiles (Rust notify) in a thread, its change sets queued with the
time they arrived. Native events when a probe file's event arrives within PROBE_SECONDS in
every watched folder, else polling for all of them (WSL's /mnt, network mounts, some bind
mounts never send events)."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from pathlib import Path

from stagingkub.dev.batch import PROBE_PREFIX, Rules
from stagingkub.waiting import poll

PROBE_SECONDS = 2.0
STEP_MS = 50  # watchfiles hands over a change set after 50 ms without a new event
STOP_CHECK_MS = 1000  # how often an idle watcher looks at its stop flag


class Watcher:
    """Watches roots; `changes` holds (monotonic time, change set) for the paths Rules let
    trigger. Stopped by stop(); never raises into the loop."""

    def __init__(self, rules: Rules, *, polling: bool, poll_interval: float) -> None:
        self.rules = rules
        self.polling = polling
        self.poll_interval = poll_interval
        self.changes: queue.Queue = queue.Queue()
        self.failure: BaseException | None = None
        self._probe_heard = threading.Event()
        self._probes_heard: set[str] = set()  # the folders whose probe event arrived
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="dev-watcher", daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_CHECK_MS / 1000 + 2)

    @property
    def backend(self) -> str:
        return f"polling every {self.poll_interval:g} s" if self.polling else "native events"

    def _accept(self, change, path: str) -> bool:
        if os.path.basename(path).startswith(PROBE_PREFIX):
            self._probes_heard.add(os.path.dirname(os.path.abspath(path)))
            self._probe_heard.set()
            return False
        # A folder is no input; a folder added is expanded into its files (_files_of).
        return self.rules.may_trigger(path)

    def _watch(self) -> None:
        from watchfiles import watch

        try:
            for changes in watch(
                *self.rules.roots,
                watch_filter=self._accept,
                step=STEP_MS,
                debounce=STEP_MS * 4,  # batching is the loop's (Batch); this hands over fast
                stop_event=self._stop,
                rust_timeout=STOP_CHECK_MS,
                raise_interrupt=False,
                force_polling=self.polling,
                poll_delay_ms=int(self.poll_interval * 1000),
            ):
                files = self._files_of(changes)
                if files:
                    self.changes.put((time.monotonic(), files))
        except Exception as error:  # the loop reports it; a watcher thread must not die quietly
            self.failure = error

    def _files_of(self, changes: set[tuple[object, str]]) -> set[tuple[object, str]]:
        """The changes with each added folder replaced by the files in it: a folder moved in,
        or created with its files faster than inotify can watch it (a `git checkout`, an
        unpacked archive), brings files that send no event of their own."""
        from watchfiles import Change

        files = set()
        for change, path in changes:
            if os.path.islink(path) or not os.path.isdir(path):  # a link is a file: its target
                files.add((change, path))
            elif change == Change.added:
                files.update((change, inside) for inside in self._inside(path))
        return files

    def _inside(self, folder: str) -> list[str]:
        """The files in a folder added, links to folders as files: never walked into (`ln -s
        ~ x` would mean walking a home folder)."""
        found = []
        for top, folders, names in os.walk(folder):  # followlinks=False
            links = [name for name in folders if os.path.islink(os.path.join(top, name))]
            folders[:] = [name for name in folders if name not in links
                          and self.rules.may_trigger(os.path.join(top, name))]  # fmt: skip
            found += [os.path.join(top, name) for name in names + links]
        return [path for path in found if self.rules.may_trigger(path)]

    def hears_probe(self, directory: Path, seconds: float = PROBE_SECONDS) -> bool | None:
        """Write a probe file in directory until its event arrives (True) or seconds pass
        (False); None when the directory cannot be written. The probe is removed after."""
        probe = directory / f"{PROBE_PREFIX}{os.getpid()}"
        where = os.path.abspath(directory)

        def heard() -> bool:
            with open(probe, "a", encoding="utf-8") as handle:  # again and again: the watcher
                handle.write(".")  # may have started after the first write
            self._probe_heard.wait(0.2)
            self._probe_heard.clear()
            return where in self._probes_heard

        try:
            poll(heard, seconds=seconds, every=0)
        except OSError:
            return None
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        return where in self._probes_heard


def start(rules: Rules, *, poll: bool, poll_interval: float) -> tuple[Watcher, str]:
    """A running watcher: polling when asked (--poll), else native events if every watched
    folder's probe event arrives, else polling for all of them. Returns it and a note on how
    the backend was chosen."""
    if poll:
        return Watcher(rules, polling=True, poll_interval=poll_interval).start(), "--poll"
    native = Watcher(rules, polling=False, poll_interval=poll_interval).start()
    silent, unwritable = probe_roots(native, rules.roots)
    if not silent:
        if unwritable:
            return native, (f"{_names(unwritable)} cannot be written, so not probed; --poll "
                            "forces polling")  # fmt: skip
        return native, ""
    native.stop()
    polling = Watcher(rules, polling=True, poll_interval=poll_interval).start()
    return polling, f"no native file event arrived from {_names(silent)} within {PROBE_SECONDS:g} s"


def probe_roots(watcher: Watcher, roots: tuple[Path, ...]) -> tuple[list[Path], list[Path]]:
    """Each root probed in turn: (those whose event did not arrive, those not writable)."""
    silent, unwritable = [], []
    for root in roots:
        heard = watcher.hears_probe(root)
        if heard is None:
            unwritable.append(root)
        elif not heard:
            silent.append(root)
    return silent, unwritable


def _names(roots: list[Path]) -> str:
    return ", ".join(os.path.relpath(root) if not os.path.relpath(root).startswith("..")
                     else root.as_posix() for root in roots)  # fmt: skip

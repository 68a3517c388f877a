"""One Docker engine, several pytest-xdist workers: every integration test holds the engine
shared; a test that restarts dockerd holds it alone. A readers-writer lock on a file
(flock), with a 'pending' file so the writer is not starved by readers that keep coming:
new readers wait while it exists. Every wait is bounded."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from pathlib import Path

READER_WAIT = 600.0  # seconds a test waits for the lone one to finish
WRITER_WAIT = 900.0  # seconds the lone one waits for the running tests to end


def paths(run: str) -> tuple[Path, Path]:
    base = Path(tempfile.gettempdir()) / f"stagingkub-tests-{run}-engine"
    return base.with_suffix(".lock"), base.with_suffix(".pending")


@contextlib.contextmanager
def shared(run: str):
    lock, pending = paths(run)
    deadline = time.monotonic() + READER_WAIT
    while pending.exists():
        assert time.monotonic() < deadline, f"{pending} stayed for {READER_WAIT:g} s"
        time.sleep(0.2)
    with _held(lock, fcntl.LOCK_SH, deadline):
        yield


@contextlib.contextmanager
def alone(run: str):
    lock, pending = paths(run)
    pending.touch()
    try:
        with _held(lock, fcntl.LOCK_EX, time.monotonic() + WRITER_WAIT):
            yield
    finally:
        pending.unlink(missing_ok=True)


@contextlib.contextmanager
def _held(lock: Path, mode: int, deadline: float):
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, f"{lock} not granted in time"
                time.sleep(0.1)
        yield
    finally:
        os.close(descriptor)  # releases the lock

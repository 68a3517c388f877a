"""One way to wait: a bounded poll in Python, and its twin for `--dry` scripts, a bounded
shell loop that fails the script with a message when time runs out."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(check: Callable[[], T], *, seconds: float, every: float) -> T:
    """check() until it returns something true or `seconds` have passed; its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(every)


def shell_wait(test: str, seconds: int, failure: str) -> str:
    """A script line: run `test` each second until it succeeds, at most `seconds` times;
    then print failure on stderr and exit 1."""
    return (
        f"for i in $(seq 1 {seconds}); do {test} && break; "
        f'[ "$i" -lt {seconds} ] || {{ echo {shlex.quote(failure)} >&2; exit 1; }}; sleep 1; done'
    )

"""The invoke glue: a task decorator that loads settings and turns errors into messages.

This is the only module of the library that imports invoke.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke import Exit
from invoke import task as invoke_task

from stagingkub.errors import StagingkubError

ROOT = Path(__file__).resolve().parent.parent  # the repository (settings.ROOT, unloaded)

PROFILE_HELP = (
    "Settings profile: config/<NAME>.yaml or a .yaml path (default: $STAGINGKUB_PROFILE)."
)


def task(*args: Any, help: dict[str, str] | None = None, **kwargs: Any) -> Callable:
    """invoke's @task, plus: every error a user can cause ends as a message, never a traceback."""

    if len(args) == 1 and callable(args[0]) and not kwargs and help is None:
        return task()(args[0])  # used bare: @task

    def decorate(body: Callable) -> Any:
        @functools.wraps(body)
        def wrapper(c: Any, *a: Any, **kw: Any) -> Any:
            # Paths in settings are relative to the repository root, and so are the commands
            # (a printed script runs in any checkout): work from there, wherever invoke ran.
            os.chdir(ROOT)
            try:
                return body(c, *a, **kw)
            except StagingkubError as error:
                raise Exit(f"stagingkub: {error}", code=error.exit_code) from None

        return invoke_task(wrapper, *args, help={"profile": PROFILE_HELP, **(help or {})}, **kwargs)

    return decorate


def load_settings(profile: str | None, **flags: tuple[Any, str]) -> Any:
    """Settings for a task: flags maps dotted keys to (value, '--flag')."""
    from stagingkub.settings import load

    return load(profile=profile, flags=flags)


def command_runner(c: Any, settings: Any) -> Any:
    """The command runner for a task, with the settings' progress interval."""
    from stagingkub.runner import Runner

    return Runner(c, progress_every=settings.output.progress_every)


def print_status(rows: list[tuple[str, str]], healthy: bool) -> None:
    """A label/value block on stdout; exit 1 unless healthy (so Jenkins can branch on it)."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
    if not healthy:
        raise Exit(code=1)

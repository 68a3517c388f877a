"""The command layer: every mutation is an argv list run through invoke.

Commands are echoed as `+ cmd` (the way `set -x` shows them in a Jenkins log);
with `invoke --dry` they are printed bare, so stdout is a script that can be
pasted into an `sh` step. Everything else the tool says goes to stderr.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from typing import Any

from stagingkub.errors import CommandFailed, StagingkubError

INSTALL_HINTS = {
    "docker": "install Docker (https://docs.docker.com/engine/install/) or Docker Desktop",
}


class ToolMissing(StagingkubError):
    """An external program the task needs is not on PATH."""


class Runner:
    """Runs argv lists through an invoke Context, echoing each one."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.dry = bool(context.config.run.get("dry", False))

    def run(self, argv: list[str], *, warn: bool = False, hide: Any = None) -> Any:
        """Run argv; a non-zero exit raises CommandFailed unless warn=True."""
        command = shlex.join(argv)
        if not self.dry:
            require_tool(argv[0])
        echo_format = "{command}" if self.dry else "+ {command}"
        result = self.context.run(
            command, echo=True, echo_format=echo_format, warn=True, hide=hide, in_stream=False
        )
        if result.exited != 0 and not warn:
            raise CommandFailed(command, result.exited, result.stderr)
        return result

    def note(self, text: str) -> None:
        """A step that is not a command (a wait, a check): a comment in --dry output."""
        if self.dry:
            print(f"# {text}", flush=True)
        else:
            say(text)


def say(text: str) -> None:
    """Tell the user something; stderr keeps stdout a clean script under --dry."""
    print(text, file=sys.stderr, flush=True)


def require_tool(name: str) -> None:
    if shutil.which(name) is None:
        hint = INSTALL_HINTS.get(name, f"install {name}")
        raise ToolMissing(f"'{name}' is not on PATH, and this task runs it: {hint}, then re-run.")

"""One way to ask an external program something (kubectl, helm, kind, git, pgrep, java…):
every read has a timeout, and a hang, a missing program or output that is not the JSON
asked for ends as one `stagingkub:` paragraph naming the command and what to check."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

from stagingkub.answers import decode
from stagingkub.errors import StateError

READ_TIMEOUT = 30.0  # seconds for a read-only call


def read(
    argv: list[str], timeout: float = READ_TIMEOUT, check: str = "", stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run argv (stdin fed to it), capturing text output; its exit code is the caller's to
    judge."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=stdin)
    except subprocess.TimeoutExpired:
        raise StateError(
            f"`{shlex.join(argv)}` did not answer within {timeout:g} s. "
            + (check or f"Check that `{argv[0]}` and what it talks to respond, and re-run.")
        ) from None
    except OSError as error:
        raise StateError(
            f"`{shlex.join(argv)}` could not run ({error.strerror or error}): is {argv[0]} "
            "installed and on PATH? `invoke diag.tools` lists what is missing."
        ) from None


def parse_json(argv: list[str], text: str, check: str = "") -> Any:
    """The JSON a command printed, or a clear error naming the command."""
    return decode(text, f"`{shlex.join(argv)}`",
                  check or f"Check the {argv[0]} on PATH (`{argv[0]} version`).", {})  # fmt: skip


def read_json(argv: list[str], timeout: float = READ_TIMEOUT, check: str = "") -> Any:
    """The decoded output of a command that succeeded, else None (its stderr is then in
    the error the caller raises, when it cares)."""
    result = read(argv, timeout, check)
    return parse_json(argv, result.stdout, check) if result.returncode == 0 else None

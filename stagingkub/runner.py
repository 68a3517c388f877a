"""The command layer: every mutation is an argv list run through invoke.

Commands are echoed as `+ cmd` (the way `set -x` shows them in a Jenkins log);
with `invoke --dry` they are printed bare, so stdout is a script that can be
pasted into an `sh` step. Everything else the tool says goes to stderr (console.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from stagingkub.console import INSTALL_HINTS, progress, quiet, say
from stagingkub.errors import CommandFailed, StagingkubError
from stagingkub.waiting import poll

# The first lines of an `invoke --dry` script, printed before its first command: its paths
# are relative to the repository root, so it runs from there, in any checkout.
SCRIPT_HEADER = (
    "# stagingkub (invoke --dry): paths are relative to the root of the stagingkub checkout.\n"
    '[ -f tasks.py ] || cd "$(git rev-parse --show-toplevel 2>/dev/null || echo .)"\n'
    "[ -f tasks.py ] && [ -d stagingkub ] || "
    "{ echo 'run this script from the root of the stagingkub checkout' >&2; exit 1; }"
)
_header_printed = False


class Interrupted(StagingkubError):
    """SIGINT/SIGTERM arrived while a command ran; the command got it too."""

    exit_code = 130


class ToolMissing(StagingkubError):
    """An external program the task needs is not on PATH."""


class Runner:
    """Runs argv lists through an invoke Context, echoing each one."""

    def __init__(self, context: Any, progress_every: float = 10.0) -> None:
        self.context = context
        self.dry = bool(context.config.run.get("dry", False))
        self.progress_every = progress_every  # output.progress_every
        self.commands = 0  # commands run (or printed, under --dry): a step that ran none skipped

    def script(self, line: str) -> None:
        """A line of the --dry script that is not a plain command (a pipe, a loop)."""
        _script_header()
        self.commands += 1
        print(line, flush=True)

    def run(
        self,
        argv: list[str],
        *,
        warn: bool = False,
        hide: Any = None,
        cwd: Path | None = None,
        stdin: str | None = None,
        waits: str = "",
        env: dict[str, str] | None = None,
    ) -> Any:
        """Run argv; a non-zero exit raises CommandFailed unless warn=True.

        cwd becomes a `cd DIR && ` prefix, so the echoed line still stands alone;
        stdin (a secret, typically) is fed to the command and never echoed; so is env, added
        to the command's environment.
        """
        command = shlex.join(argv)
        if cwd is not None:
            command = f"cd {shlex.quote(str(cwd))} && {command}"
        if not self.dry and cwd is None:
            require_tool(argv[0])
        if self.dry:
            _script_header()
        self.commands += 1
        beat = progress(waits, self.progress_every) if waits and not self.dry else quiet()
        with beat, forward_signals() as received:
            result = self._context_run(command, hide, stdin, env)
        if received:
            raise _interrupted(received[0], command, result.exited)
        if result.exited != 0 and not warn:
            raise CommandFailed(command, result.exited, result.stderr)
        return result

    def _context_run(self, command: str, hide: Any, stdin: str | None, env: dict | None) -> Any:
        return self.context.run(
            command,
            echo=True,
            echo_format="{command}" if self.dry else "+ {command}",
            warn=True,
            hide=hide,
            in_stream=io.StringIO(stdin) if stdin is not None else False,
            **({"env": env} if env else {}),
        )

    def write_file(
        self, path: Path, text: str, *, private: bool = False, shell_text: str = ""
    ) -> None:
        """Write a generated file; under --dry print the shell that writes it instead.

        A private file (it holds a credential) gets mode 0600, and --dry prints shell_text
        in an expanding heredoc, which reads the secret from the environment at run time.
        """
        if self.dry:
            self.script(f"mkdir -p {shlex.quote(str(path.parent))}")
            target = shlex.quote(str(path))
            if private:
                self.script(f"(umask 077 && cat > {target} <<STAGINGKUB_EOF\n{shell_text.rstrip()}")
                self.script("STAGINGKUB_EOF\n)")
            elif shell_text:  # expands $VARIABLES computed earlier in the script
                self.script(f"cat > {target} <<STAGINGKUB_EOF\n{shell_text.rstrip()}")
                self.script("STAGINGKUB_EOF")
            else:
                self.script(f"cat > {target} <<'STAGINGKUB_EOF'\n{text.rstrip()}")
                self.script("STAGINGKUB_EOF")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if private:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            path.write_text(text, encoding="utf-8")
        say(f"wrote {path}")

    def note(self, text: str) -> None:
        """A step that is not a command (a wait, a check): a comment in --dry output."""
        if self.dry:
            _script_header()
            print(f"# {text}", flush=True)
        else:
            say(text)


def _interrupted(signum: int, command: str, exited: int) -> Interrupted:
    """The stop after a signal was passed on to the command: exit code 128 + signal."""
    stop = Interrupted(
        f"Stopped by {signal.Signals(signum).name}: it was passed on to `{command}`, which "
        f"exited with {exited}. Re-run the task when ready; it resumes from the state it finds."
    )
    stop.exit_code = 128 + signum
    return stop


def _script_header() -> None:
    global _header_printed
    if not _header_printed:
        _header_printed = True
        print(SCRIPT_HEADER, flush=True)


def _children(pid: int) -> list[int]:
    """Direct child processes of pid that still run (Linux /proc; `pgrep -P` elsewhere)."""
    found = []
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                state, parent = stat.rsplit(")", 1)[1].split()[:2]
                if int(parent) == pid and state != "Z":  # a zombie has ended already
                    found.append(int(entry.name))
        return found

    try:
        output = subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []  # forwarding a signal never waits on pgrep
    return [int(line) for line in output.split() if line.isdigit()]


def descendants(pid: int) -> list[int]:
    """Every process below pid (children first): the command and what it started."""
    found, pending = [], _children(pid)
    while pending:
        child = pending.pop(0)
        found.append(child)
        pending.extend(_children(child))
    return found


def _signal_tree(signum: int) -> None:
    for process in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(process, signum)


def reap_descendants(grace: float = 5.0) -> list[int]:
    """At exit: SIGTERM to what is still running below this process, SIGKILL after grace
    seconds; returns the processes that had to be stopped."""
    left = descendants(os.getpid())
    if not left:
        return []
    _signal_tree(signal.SIGTERM)
    poll(lambda: not descendants(os.getpid()), seconds=grace, every=0.05)
    _signal_tree(signal.SIGKILL)
    return left


@contextlib.contextmanager
def forward_signals():
    """Pass SIGINT and SIGTERM on to the running command and every process it started (as
    a terminal's Ctrl-C reaches its whole process group; helm can mark its release failed),
    let it finish, then stop: the caller sees what arrived in the yielded list."""

    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum, frame) -> None:
        received.append(signum)
        _signal_tree(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def require_tool(name: str) -> None:
    require_tools([name])


def require_tools(names: list[str]) -> None:
    """Stop before any change when a tool is missing, naming every missing one at once."""
    missing = [name for name in dict.fromkeys(names) if shutil.which(name) is None]
    if len(missing) == 1:
        hint = INSTALL_HINTS.get(missing[0], f"install {missing[0]}")
        raise ToolMissing(
            f"'{missing[0]}' is not on PATH, and this task runs it. Install it ({hint}), "
            "then re-run."
        )
    if missing:
        hints = "; ".join(f"{n}: {INSTALL_HINTS.get(n, 'install it')}" for n in missing)
        raise ToolMissing(f"These tools are not on PATH, and this task runs them: {hints}.")

"""The command layer: every mutation is an argv list run through invoke.

Commands are echoed as `+ cmd` (the way `set -x` shows them in a Jenkins log);
with `invoke --dry` they are printed bare, so stdout is a script that can be
pasted into an `sh` step. Everything else the tool says goes to stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from stagingkub.errors import CommandFailed, StagingkubError

INSTALL_HINTS = {
    "docker": (
        "Linux: https://docs.docker.com/engine/install/ (or `apt-get install docker.io`), then "
        "`sudo systemctl start docker`; macOS: Docker Desktop, Colima or OrbStack"
    ),
    "kind": (
        "Linux: the kind v0.20+ release binary, https://kind.sigs.k8s.io/docs/user/quick-start/"
        "#installation; macOS: `brew install kind`"
    ),
    "kubectl": "Linux: https://kubernetes.io/docs/tasks/tools/; macOS: `brew install kubectl`",
    "helm": "Linux: https://helm.sh/docs/intro/install/; macOS: `brew install helm`",
    "java": (
        "Linux: `apt-get install openjdk-17-jdk-headless`; macOS: `brew install openjdk@17`; "
        "or set JAVA_HOME"
    ),
}


PROGRESS_EVERY = 10.0  # seconds between "still waiting" lines; output.progress_every

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

    def __init__(self, context: Any) -> None:
        self.context = context
        self.dry = bool(context.config.run.get("dry", False))
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
    ) -> Any:
        """Run argv; a non-zero exit raises CommandFailed unless warn=True.

        cwd becomes a `cd DIR && ` prefix, so the echoed line still stands alone;
        stdin (a secret, typically) is fed to the command and never echoed.
        """
        command = shlex.join(argv)
        if cwd is not None:
            command = f"cd {shlex.quote(str(cwd))} && {command}"
        if not self.dry and cwd is None:
            require_tool(argv[0])
        if self.dry:
            _script_header()
        self.commands += 1
        echo_format = "{command}" if self.dry else "+ {command}"
        in_stream = io.StringIO(stdin) if stdin is not None else False
        beat = progress(waits) if waits and not self.dry else _quiet()
        with beat, forward_signals() as received:
            result = self.context.run(
                command,
                echo=True,
                echo_format=echo_format,
                warn=True,
                hide=hide,
                in_stream=in_stream,
            )
        if received:
            name = signal.Signals(received[0]).name
            stop = Interrupted(
                f"Stopped by {name}: it was passed on to `{command}`, which exited with "
                f"{result.exited}. Re-run the task when ready; it resumes from the state it finds."
            )
            stop.exit_code = 128 + received[0]
            raise stop
        if result.exited != 0 and not warn:
            raise CommandFailed(command, result.exited, result.stderr)
        return result

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


def _script_header() -> None:
    global _header_printed
    if not _header_printed:
        _header_printed = True
        print(SCRIPT_HEADER, flush=True)


@contextlib.contextmanager
def progress(what: str, every: float | None = None):
    """While something long runs: on a terminal, a line on stderr updated in place; elsewhere
    (Jenkins), a timestamped line every `every` seconds, so a log shows it is alive."""
    import threading
    import time

    every = every or PROGRESS_EVERY
    done = threading.Event()
    started = time.monotonic()
    terminal = sys.stderr.isatty()

    def beat() -> None:
        while not done.wait(1.0 if terminal else every):
            elapsed = int(time.monotonic() - started)
            if terminal:
                sys.stderr.write(f"\r... {what} ({elapsed} s)")
                sys.stderr.flush()
            else:
                say(f"[{time.strftime('%H:%M:%S')}] still waiting: {what} ({elapsed} s)")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(2)
        if terminal:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _children(pid: int) -> list[int]:
    """Direct child processes of pid (Linux /proc; `pgrep -P` elsewhere)."""
    found = []
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
        return found
    import subprocess

    output = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in output.split()]


@contextlib.contextmanager
def forward_signals():
    """Pass SIGINT and SIGTERM on to the running command (so helm can mark its release
    failed), let it finish, then stop: the caller sees what arrived in the yielded list."""
    import threading

    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum, frame) -> None:
        received.append(signum)
        for child in _children(os.getpid()):
            with contextlib.suppress(OSError):
                os.kill(child, signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _quiet():
    yield


def shell_b64(expression: str) -> str:
    """$(EXPRESSION | base64) on one line: for --dry scripts that compute secrets at run time."""
    return f"$({expression} | base64 | tr -d '\\n')"


def shell_credentials(username: str) -> str:
    """base64 of user:$STAGINGKUB_REGISTRY_PASSWORD, computed by the shell (printf is a builtin:
    the password is never an argument of a program)."""
    return shell_b64(f"printf '%s:%s' '{username}' \"$STAGINGKUB_REGISTRY_PASSWORD\"")


def say(text: str) -> None:
    """Tell the user something; stderr keeps stdout a clean script under --dry."""
    print(text, file=sys.stderr, flush=True)


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


def confirm(question: str, refusal: str) -> None:
    """Ask on a terminal for a typed 'yes'; refuse (StateError) when stdin is not one."""
    from stagingkub.errors import StateError

    if not sys.stdin or not sys.stdin.isatty():
        raise StateError(refusal)
    answer = input(f"{question} Type 'yes' to confirm: ").strip().lower()
    if answer != "yes":
        raise StateError("Cancelled; nothing was deleted.")


def unconfirmed(what: str) -> None:
    """Without --yes: nothing happens; off a terminal that is an error (exit 1)."""
    from stagingkub.errors import StateError

    message = f"Nothing was deleted: {what}. Re-run with --yes to do it."
    if not sys.stdin or not sys.stdin.isatty():
        raise StateError(
            message + " stdin is not a terminal, so this ends with exit code 1: a Jenkins "
            "step without --yes must not pass as if it had deleted anything."
        )
    say(message)


def print_table(rows: list[tuple[str, ...]], err: bool = False) -> None:
    """Columns padded to their widest cell on stdout (stderr with err); the last column is
    not padded."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, str(row[-1])]).rstrip(), file=sys.stderr if err else sys.stdout)

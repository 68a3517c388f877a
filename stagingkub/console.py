"""What the tool says: messages on stderr (stdout stays a clean script under --dry),
questions, tables, progress during long waits, and how to install a missing tool."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

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


def say(text: str) -> None:
    """Tell the user something; stderr keeps stdout a clean script under --dry."""
    print(text, file=sys.stderr, flush=True)


def human_size(size: int) -> str:
    """1.5 MiB (1572864 B): sizes as a person reads them, exact bytes beside."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit} ({size} B)"
        value /= 1024
    return f"{size} B"


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


@contextlib.contextmanager
def progress(what: str, every: float = 10.0):
    """While something long runs: on a terminal, a line on stderr updated in place; elsewhere
    (Jenkins), a timestamped line every `every` seconds, so a log shows it is alive."""

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


@contextlib.contextmanager
def quiet():
    """progress() for a step that shows none."""
    yield

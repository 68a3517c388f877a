"""Live update's moves on this machine and in the pod: compile, copy the changed class and
resource files in (`kubectl exec … tar`, as Tilt and Skaffold do), delete the deleted ones,
restart the app inside its container and wait for its readiness path to answer.

The image's entrypoint (examples/spring-app/run.sh) runs the app from the live folder the
chart mounts under dev (STAGINGKUB_LIVE_DIR): it copies the image's classes there once per
pod, writes the JVM's pid to app.pid, and on SIGHUP stops the JVM and starts it again."""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from stagingkub.dev.live_rules import class_outputs

CLASSES = Path("target/classes")
EXEC_TIMEOUT = 45  # the script waits at most 35 s for the restart
# Each poll is a kubectl and an API server request: CPU the JVM needs to start. The first
# polls come fast (the script above usually returns as the app is ready), then slower.
POLLS = (0.05, 0.1, 0.2, 0.3)
# In the container: delete, unpack, then SIGHUP the entrypoint (PID 1) and wait until the
# JVM that served the old classes has gone (app.pid names a new one).
SYNC_SCRIPT = r"""
d=${STAGINGKUB_LIVE_DIR:-}
say() { echo "$*" >&2; }
[ -n "$d" ] || { say "no STAGINGKUB_LIVE_DIR: the chart's live folder is not mounted"; exit 40; }
[ -d "$d/classes" ] || {
  say "no $d/classes: the image's entrypoint does not run the app from the live folder"; exit 41; }
command -v tar >/dev/null 2>&1 || { echo "the image has no tar" >&2; exit 42; }
cd "$d/classes" || exit 41
for f in "$@"; do rm -f -- "$f" || exit 43; done
tar -xmf - || exit 43
old=$(cat "$d/app.pid" 2>/dev/null)
kill -HUP 1 || { echo "the entrypoint (PID 1) cannot be signalled" >&2; exit 44; }
i=0
while [ "$(cat "$d/app.pid" 2>/dev/null)" = "$old" ]; do
  i=$((i + 1)); [ "$i" -le 300 ] || { echo "the app was not restarted within 15 s" >&2; exit 45; }
  sleep 0.05
done
# An entrypoint that marks the end of each start (app.started: run.sh on Spring Boot's
# "Started ... in N seconds", or "<token> failed") is waited for here, at most 20 s more:
# one readiness request then usually finds the app ready. Without it, or later, dev's
# readiness polls decide.
[ -f "$d/app.started" ] || exit 0
while [ "$i" -le 700 ]; do
  case $(cat "$d/app.started" 2>/dev/null) in
    "$(cat "$d/app.pid") failed")
      echo "the app failed to start after the restart (its log says why)" >&2
      exit 46 ;;
    "$(cat "$d/app.pid")") exit 0 ;;
  esac
  i=$((i + 1)); sleep 0.05
done
"""


class LiveFailed(Exception):
    """A live update that cannot work: why, in one line (dev then runs the full cycle)."""


@dataclass(frozen=True)
class Synced:
    """The files of target/classes a live update sent (path -> content) and deleted."""

    files: dict[str, bytes]
    deleted: tuple[str, ...]


def snapshot(app_dir: Path) -> dict[str, str]:
    """target/classes now: relative path -> content digest (a compile that writes the same
    bytes again, as Maven's resources step does, changes nothing to send)."""
    root, found = app_dir / CLASSES, {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                found[path.relative_to(root).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
            except OSError:
                continue
    return found


def run(argv: list[str], app_dir: Path, timeout: float = 300) -> None:
    """A compile command in the app; CompileFailed with its error lines when it fails."""
    try:
        done = subprocess.run(argv, cwd=app_dir, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LiveFailed(f"{argv[0]} did not run: {error}") from None
    if done.returncode != 0:
        raise CompileFailed(compile_errors(done.stdout + done.stderr))


def compile_errors(said: str) -> str:
    """A compiler's error lines (javac's, Maven's), or its last lines."""
    text = said.strip().splitlines()
    errors = [line for line in text if "ERROR" in line or "error:" in line][:8]
    return "\n".join(errors or text[-8:])


class CompileFailed(Exception):
    """The app does not compile: the compiler's words (a full cycle would fail the same)."""


def removed_outputs(app_dir: Path, deleted_sources: tuple[str, ...]) -> tuple[str, ...]:
    """What deleted sources leave in target/classes (a class, its nested classes, a copied
    resource): deleted here too, and named for deletion in the pod."""
    root, gone = app_dir / CLASSES, []
    for source in deleted_sources:
        exact, nested = class_outputs(source)
        candidates = [exact]
        if nested:
            folder = (root / nested).parent
            names = os.listdir(folder) if folder.is_dir() else []
            candidates += [
                (Path(nested).parent / n).as_posix()
                for n in names
                if fnmatch.fnmatch(n, Path(nested).name)
            ]
        for relative in candidates:
            (root / relative).unlink(missing_ok=True)
            gone.append(relative)
    return tuple(sorted(set(gone)))


def changed_outputs(app_dir: Path, before: dict, after: dict) -> dict[str, bytes]:
    root = app_dir / CLASSES
    return {
        p: (root / p).read_bytes() for p, mark in sorted(after.items()) if before.get(p) != mark
    }


def tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sync_argv(kubectl: list[str], pod: str, container: str, deleted: tuple[str, ...]) -> list[str]:
    return [*kubectl, "exec", "-i", pod, "-c", container, "--",
            "sh", "-c", SYNC_SCRIPT, "sh", *deleted]  # fmt: skip


def sync(kubectl: list[str], pod: str, container: str, synced: Synced) -> None:
    """Copy, delete and restart in one exec; LiveFailed says why it could not."""
    run_sync(sync_argv(kubectl, pod, container, synced.deleted), pod, synced)


def run_sync(argv: list[str], pod: str, synced: Synced) -> None:
    """SYNC_SCRIPT through an exec argv (kubectl's, or docker's in the tests)."""
    try:
        done = subprocess.run(argv, input=tar_of(synced.files), capture_output=True,
                              timeout=EXEC_TIMEOUT)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LiveFailed(f"kubectl exec into {pod} did not finish: {error}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        said = said or [f"{argv[0]} exec ended with exit code {done.returncode}"]
        raise LiveFailed(f"{pod}: {_why(said)}")


def _why(lines: list[str]) -> str:
    """The container's or kubectl's last words, with the common causes named."""
    text = " ".join(lines[-3:]) or "kubectl exec failed"
    if "Read-only file system" in text:
        return f"the live folder is read-only ({text})"
    if "Permission denied" in text:
        return f"the app's user cannot write the live folder ({text})"
    if "NotFound" in text or "not found" in text:
        return f"the pod is gone ({text})"
    return text


def wait_ready(kubectl: list[str], namespace: str, pod: str, probe, timeout: float) -> float:
    """Seconds until the pod's readiness path answers through the API server's proxy (the
    kubelet's own probe runs every few seconds: too slow to say when a restart is done)."""
    path, port = probe
    raw = f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}"
    started, polls = time.monotonic(), list(POLLS)
    while time.monotonic() - started < timeout:
        try:
            done = subprocess.run([*kubectl, "get", "--raw", raw], capture_output=True,
                                  timeout=5, stdin=subprocess.DEVNULL)  # fmt: skip
        except subprocess.TimeoutExpired:
            continue
        if done.returncode == 0:
            return time.monotonic() - started
        time.sleep(polls.pop(0) if len(polls) > 1 else polls[0])
    raise LiveFailed(
        f"{pod} did not answer its readiness path {path} within {timeout:.0f} s of the "
        "restart (the app may fail to start: see its logs)"
    )

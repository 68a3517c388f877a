"""bench scenarios for `invoke dev` on the stand-in stack (the mvnw STAND-IN app):

- cycle overhead: from writing a source file to `helm upgrade` starting, minus the
  debounce and minus every external command that ran in between (the build, the push,
  helm's and kubectl's reads), each timed by the harness's wrappers;
- idle CPU: the dev process's own CPU time over a quiet period on a tree of many files,
  with native events and with polling.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEBOUNCE = 0.2  # dev.debounce's default, which the runs below keep


class Dev:
    """`invoke dev` in the background; its stderr lines collected."""

    def __init__(self, env: dict, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "invoke", "dev", "--version", "1.0.0", *args],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def ran(self, count: int, timeout: float = 300) -> None:
        """Until `count` cycles have ended with the release running, at most timeout."""
        deadline = time.monotonic() + timeout
        while sum(line.startswith("running ") for line in self.lines) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: invoke dev did not deploy:\n" + "\n".join(self.lines))
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 2)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)


def timings(log: Path) -> list[tuple[str, str, int, int]]:
    """(name, verb, start ns, end ns) of each external command the wrappers logged."""
    found = []
    for line in log.read_text().splitlines():
        words = line.split()
        if len(words) >= 5 and words[-1].isdigit():
            start = int(words[-1])
            found.append((words[0], words[2], start, start + int(words[1])))
    return found


def cycle_overhead(env: dict, log: Path, app: Path, reps: int) -> tuple[list[float], list]:
    """Per edit: seconds from the write to `helm upgrade` starting, beyond debounce and
    the external commands in between; and the commands that ran."""
    (app / "src").mkdir(exist_ok=True)
    dev, overheads, ran = Dev(env), [], []
    try:
        dev.ran(1)
        for rep in range(reps + 1):
            log.write_text("")
            written = time.time_ns()
            (app / "src" / "App.java").write_text(f"class App {{ int dev = {rep}; }}\n")
            dev.ran(rep + 2)
            commands = timings(log)
            upgrade = next(c for c in commands if c[0] == "helm" and c[1] == "upgrade")
            before = [c for c in commands if written <= c[2] and c[3] <= upgrade[2]]
            spent = sum(c[3] - c[2] for c in before) / 1e9
            if rep:  # the first edit warms up
                overheads.append((upgrade[2] - written) / 1e9 - DEBOUNCE - spent)
                ran.append(sorted({f"{c[0]} {c[1]}" for c in before}))
    finally:
        dev.stop()
    return overheads, ran


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(env: dict, app: Path, files: int, quiet: float, poll: bool) -> float:
    """Percent of one core the dev process uses while nothing changes."""
    tree = app / "src" / "tree"
    if not tree.exists():
        for number in range(files):
            folder = tree / f"d{number // 100:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{number:05d}.txt").write_text(f"{number}\n")
    dev = Dev(env, *(["--poll"] if poll else []))
    try:
        dev.ran(1, timeout=600)
        time.sleep(2)  # the first deploy's after-work settles
        before = cpu_seconds(dev.process.pid)
        time.sleep(quiet)
        used = cpu_seconds(dev.process.pid) - before
    finally:
        dev.stop()
    return 100 * used / quiet


def dev_rows(stack, reps: int, files: int, quiet: float, row, timed_env) -> list:
    env, log = timed_env(stack)
    overheads, ran = cycle_overhead(env, log, stack.app_dir, reps)
    ours = statistics.median(overheads)
    every = all("mvnw" in " ".join(r) and "docker push" in " ".join(r) for r in ran)
    rows = [row("dev cycle overhead (first event to helm upgrade, minus debounce and "
                "external commands)", ours, None, None, "< 0.5 s", ours < 0.5 and every,
                f"max {max(overheads):.3f} s; ran {', '.join(ran[-1])}")]  # fmt: skip
    for poll, budget in ((False, 2.0), (True, 10.0)):
        percent = idle_cpu(env, stack.app_dir, files, quiet, poll)
        how = "polling every 1 s" if poll else "native events"
        rows.append(row(f"dev idle CPU, {how} ({files} files, {quiet:g} s): CPU seconds used",
                        percent / 100 * quiet,
                        None, None, f"< {budget:g} % of a core", percent < budget,
                        f"{percent:.2f} % of one core"))  # fmt: skip
    return rows

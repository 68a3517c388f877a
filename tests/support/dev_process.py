"""`invoke dev` as a real subprocess in its own session: its output read as it comes, its
process group checked after it ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

from stagingkub.settings import ROOT


class DevProcess:
    """One `invoke dev` run: lines of stdout (commands) and stderr (what it says)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "invoke", "dev", *args], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        self.group = self.process.pid  # its own session: the process group is its pid
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.err)

    def wait_for(self, pattern: str, timeout: float = 90, since: int = 0) -> str:
        """The first stderr line from index `since` matching pattern; fails after timeout."""
        found = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.err[since:]:
                if found.search(line):
                    return line
            if self.process.poll() is not None:
                time.sleep(0.2)  # the last lines
                matches = [line for line in self.err[since:] if found.search(line)]
                if matches:
                    return matches[0]
                raise AssertionError(f"invoke dev exited {self.process.returncode} before "
                                     f"{pattern!r}:\n{self.text()}")  # fmt: skip
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.text()}")

    def commands(self, since: int = 0) -> list[str]:
        return [line[2:] for line in self.out[since:] if line.startswith("+ ")]

    def stop(self, signum: int = signal.SIGINT, timeout: float = 60) -> int:
        """Send signum to invoke dev alone (not its group) and wait for it to end."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for reader in self._readers:
            reader.join(5)
        return code

    def kill(self) -> None:
        """Clean-up after a failed test: the whole group, at once."""
        if self.process.poll() is None:
            os.killpg(self.group, signal.SIGKILL)
            self.process.wait(10)
        for pid in group_members(self.group):
            os.kill(pid, signal.SIGKILL)


def group_members(group: int) -> list[int]:
    """Processes (not zombies) alive in a process group, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry))
    return members

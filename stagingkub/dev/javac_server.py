"""A warm javac for live update: one JVM per dev run (LiveJavac.java, beside this file) that
keeps the JDK's compiler loaded and JIT-compiled, and Maven's jars open, across saves.
Measured on examples/spring-app (bench/README.md): about 50 ms a compile once warm, against
0.8 to 1.7 s for a new javac. Anything wrong with it (no JDK, the JVM gone, an answer late)
is ServerGone, and live_compile runs a plain javac instead: never a different result."""

from __future__ import annotations

import contextlib
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

SOURCE = Path(__file__).with_name("LiveJavac.java")
SOURCES_MARK, EXIT_MARK = "\0sources", "\0exit "
# Serial GC: a small heap that gives memory back; the JIT as usual (large modules compile
# faster with C2). `java File.java` compiles the server itself in memory: about 1 s, once.
JVM_OPTIONS = ["-XX:+UseSerialGC", "-Xss4m"]


class ServerGone(Exception):
    """The warm javac cannot answer; a plain javac does the compile."""


def java_of_javac() -> str | None:
    """The `java` beside the `javac` on PATH (the same JDK), if both are there."""
    javac = shutil.which("javac")
    if javac is None:
        return None
    java = Path(javac).resolve().with_name("java")
    return str(java) if java.is_file() else None


class JavacServer:
    """The warm javac of one app: compile() takes javac's options and sources."""

    def __init__(self, app_dir: Path, java: str):
        self.app_dir, self.java = app_dir, java
        self._process: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()  # a new one per process
        self._lock = threading.Lock()

    def start(self) -> None:
        argv = [self.java, *JVM_OPTIONS, str(SOURCE)]
        lines: queue.Queue[str | None] = queue.Queue()
        with self._lock:
            try:
                process = subprocess.Popen(
                    argv, cwd=self.app_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace",
                )  # fmt: skip
            except OSError as error:
                raise ServerGone(f"{self.java} did not start: {error}") from None
            threading.Thread(target=_read, args=(process, lines), daemon=True).start()
            self._process, self._lines = process, lines

    def compile(self, options: list[str], sources: list[str], timeout: float) -> tuple[int, str]:
        """(javac's exit code, its messages); ServerGone when the server cannot answer."""
        if any("\n" in arg or "\r" in arg or not arg for arg in (*options, *sources)):
            raise ServerGone("an argument the line protocol cannot carry")
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                raise ServerGone("the warm javac is not running")
            request = "\n".join([*options, SOURCES_MARK, *sources]) + "\n\n"
            try:
                process.stdin.write(request)
                process.stdin.flush()
            except (OSError, ValueError) as error:
                self.close()
                raise ServerGone(f"the warm javac cannot be written to: {error}") from None
            return self._answer(time.monotonic() + timeout)

    def _answer(self, deadline: float) -> tuple[int, str]:
        said: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()  # an answer late is a server in a bad state: a new one later
                raise ServerGone("the warm javac did not answer in time") from None
            if line is None:
                self.close()
                raise ServerGone("the warm javac ended")
            if line.startswith(EXIT_MARK):
                code, _, why = line[len(EXIT_MARK) :].strip().partition(" ")
                if code != "0" and why:  # the server's own trouble, not the app's
                    self.close()
                    raise ServerGone(why)
                return int(code), "".join(said)
            said.append(line)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _read(process: subprocess.Popen, lines: queue.Queue) -> None:
    for line in process.stdout:
        lines.put(line)
    lines.put(None)

"""--logs: between dev cycles, the app's newest Ready pod's logs on stderr, each line
prefixed with the pod's short name; paused while a cycle runs, then following the new pod."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

from stagingkub.errors import StagingkubError
from stagingkub.release.pods import newest_ready, release_pods

READ_TIMEOUT = 20


def newest_ready_pod(kubectl: list[str], release: str) -> str | None:
    """The release's newest pod whose Ready condition is True (the one a rollout left)."""
    try:
        pod = newest_ready(release_pods(kubectl, release, READ_TIMEOUT))
    except StagingkubError:  # a log stream is a convenience: never why a loop stops
        return None
    return pod.name if pod is not None else None


class LogStream:
    """`kubectl logs -f` of one pod, its lines copied to stderr with a prefix."""

    def __init__(self, kubectl: list[str], release: str) -> None:
        self.kubectl = kubectl
        self.release = release
        self.pod: str | None = None
        self.paused_at: str | None = None  # RFC 3339: the same pod resumes from here
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def follow(self) -> None:
        """Start (or resume) streaming the newest Ready pod's logs."""
        pod = newest_ready_pod(self.kubectl, self.release)
        if pod is None:
            return
        since = ["--since-time", self.paused_at] if pod == self.pod and self.paused_at else []
        argv = [*self.kubectl, "logs", "-f", pod, "--all-containers", *since]
        if pod != self.pod:
            argv += ["--tail", "20"]
            print(f"[logs] following {pod}", file=sys.stderr, flush=True)
        self.pod = pod
        try:
            self._process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                text=True, errors="replace",
            )  # fmt: skip
        except OSError:
            return
        prefix = f"[{pod.rsplit('-', 1)[-1]}] "
        self._thread = threading.Thread(target=self._copy, args=(self._process, prefix),
                                        name="dev-logs", daemon=True)  # fmt: skip
        self._thread.start()

    @staticmethod
    def _copy(process: subprocess.Popen, prefix: str) -> None:
        for line in process.stdout or ():
            print(prefix + line.rstrip("\n"), file=sys.stderr, flush=True)

    def pause(self) -> None:
        """Stop the stream (a cycle starts, or dev ends); bounded."""
        process, self._process = self._process, None
        if process is None:
            return
        self.paused_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        process.terminate()
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(2)
        if self._thread is not None:
            self._thread.join(2)

"""invoke dev --forward [LOCAL:]PORT: localhost:LOCAL kept on the app's current pod.

`kubectl port-forward` holds one pod and ends when that pod goes; this watches the release's
pods every half second and starts it again on the newest Ready pod whenever the pod changed
or the forward ended (a rollout, a pod deleted by hand, a container restart). A live restart
keeps the pod, so the forward stays; connections made while the app restarts fail."""

from __future__ import annotations

import contextlib
import subprocess
import threading

from stagingkub.errors import InputError, StagingkubError
from stagingkub.release.pods import newest_ready, release_pods

TICK = 0.5


def parse(value: str) -> tuple[int, int]:
    """'8080' -> (8080, 8080); '9090:8080' -> (9090, 8080) (validated by the settings)."""
    local, _, remote = value.partition(":")
    return int(local), int(remote or local)


def check_free(port: int) -> None:
    """The local port is free on 127.0.0.1, or an InputError naming what holds it."""
    from stagingkub import ports

    if not ports.port_in_use("127.0.0.1", port):
        return
    holder = ports.process_holding(port) or f"another process ({ports.holder_hint(port)})"
    raise InputError(
        f"--forward: localhost:{port} is already taken by {holder}. Choose another local "
        f"port (--forward OTHER:{port}, or dev.forward), or stop what holds it."
    )


class Forward:
    def __init__(self, kubectl: list[str], release: str, local: int, remote: int) -> None:
        self.kubectl, self.release = kubectl, release
        self.local, self.remote = local, remote
        self.pod: str | None = None
        self._process: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dev-forward", daemon=True)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.local}"

    def start(self) -> str:
        """Start following; returns a note when PORT is not the port the app's readiness
        probe answers on (a local port given alone is also the pod's: 9090 means 9090)."""
        self._thread.start()
        try:
            pod = newest_ready(release_pods(self.kubectl, self.release, 10))
        except StagingkubError:
            return ""
        serving = pod.readiness[1] if pod is not None and pod.readiness else None
        if serving is None or serving == self.remote:
            return ""
        return (
            f" Note: the app answers on port {serving} (its readiness probe); for "
            f"localhost:{self.local} to reach it, give --forward {self.local}:{serving}."
        )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._end()

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            try:
                pod = newest_ready(release_pods(self.kubectl, self.release, 10))
            except StagingkubError:
                continue  # the API server busy or restarting: the next tick asks again
            name = pod.name if pod is not None else None
            alive = self._process is not None and self._process.poll() is None
            if name is not None and (name != self.pod or not alive):
                self._switch(name)

    def _switch(self, pod: str) -> None:
        self._end()
        argv = [*self.kubectl, "port-forward", f"pod/{pod}", f"{self.local}:{self.remote}",
                "--address", "127.0.0.1"]  # fmt: skip
        try:
            quiet = subprocess.DEVNULL
            self._process = subprocess.Popen(argv, stdout=quiet, stderr=quiet, stdin=quiet)
        except OSError:
            return
        self.pod = pod

    def _end(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(3)
        if process.poll() is None:
            process.kill()

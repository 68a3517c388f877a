"""invoke dev's live update (dev.live: auto): a batch that changes only classes and resources
is compiled here, copied into the running pods and served after an in-container restart:
no image build, no push, no rollout. What the pods run beyond their image is kept here, so
a pod that is replaced gets it again, and a pod carries it in its annotation."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from stagingkub.dev import live_sync
from stagingkub.dev.javac_server import JavacServer, ServerGone, java_of_javac
from stagingkub.dev.live_compile import compile_changes, warm_up
from stagingkub.dev.live_rules import ANNOTATION, Changes, annotation_value, full_cycle_reason
from stagingkub.dev.live_sync import CompileFailed, LiveFailed, Synced
from stagingkub.errors import StagingkubError
from stagingkub.release.pods import Pod, release_pods

CONTAINER = "rhdemo-api"  # the chart's container name
READY_TIMEOUT = 90.0
# A live update copies into the pods read this recently (between saves dev reads them every
# second) instead of reading them again: a pod gone since fails the copy (the full cycle
# runs, as it would with no Ready pod), and a pod new since gets the changes a second later.
FRESH = 2.0


@dataclass
class Timing:
    compile: float = 0.0
    compiler: str = ""
    copy: float = 0.0  # copy and restart (one exec per pod)
    ready: float = 0.0
    files: int = 0

    def line(self) -> str:
        return (f"compile {self.compile:.1f} s ({self.compiler}), copy and restart "
                f"{self.copy:.1f} s, ready {self.ready:.1f} s")  # fmt: skip


@dataclass(frozen=True)
class Compiled:
    """What a compile changed in target/classes (path -> content) and deleted there."""

    files: dict[str, bytes]
    gone: tuple[str, ...]
    compiler: str
    seconds: float


@dataclass
class Live:
    """The live state of one dev run: on or not, and what the pods run beyond the image."""

    app_dir: Path
    kubectl: list[str]
    namespace: str
    release: str
    mode: str = "auto"
    cache_dir: Path = Path(".stagingkub/live")  # Maven's classpath, per pom.xml
    sent: dict[str, bytes] = field(default_factory=dict)  # target/classes path -> content
    deleted: set[str] = field(default_factory=set)
    pods: set[str] = field(default_factory=set)  # UIDs of the pods that hold all of it
    inputs: str = ""  # the input digest of what was synced last
    runs_live: dict[str, bool] = field(default_factory=dict)  # pod UID -> runs from /live
    javac: JavacServer | None = None  # the warm javac, once warm() started it
    known: tuple[float, list[Pod]] = (0.0, [])  # when the pods were last read, and them
    _warming: bool = False
    _warm_failed: bool = False

    @property
    def maven_app(self) -> bool:
        return (self.app_dir / "pom.xml").is_file() and (self.app_dir / "mvnw").is_file()

    @property
    def enabled(self) -> bool:
        """The chart's live folder is mounted (dev.live auto, on a Maven app)."""
        return self.mode != "off" and self.maven_app

    @property
    def count(self) -> int:
        return len(self.sent) + len(self.deleted)

    def reason(self, changes: Changes) -> str:
        return full_cycle_reason(changes, mode=self.mode, maven_app=self.maven_app)

    def unsupported(self) -> str:
        """'' when every Ready pod runs the app from the live folder (its entrypoint wrote
        app.pid there: asked once per pod, before any compile); else why not."""
        return self._why_not(self._ready_pods())

    def _ready_pods(self) -> list[Pod]:
        """The Ready pods, as read within FRESH seconds (else read now)."""
        read_at, pods = self.known
        if time.monotonic() - read_at > FRESH:
            pods = self.read_pods()
        return [pod for pod in pods if pod.ready]

    def _why_not(self, pods: list[Pod]) -> str:
        if not pods:
            return "no Ready pod of the release to copy into"
        for pod in pods:
            if pod.uid not in self.runs_live:
                argv = [*self.kubectl, "exec", pod.name, "-c", CONTAINER, "--", "sh", "-c",
                        'test -s "${STAGINGKUB_LIVE_DIR:-/nonexistent}/app.pid"']  # fmt: skip
                done = subprocess.run(argv, capture_output=True, timeout=20,
                                      stdin=subprocess.DEVNULL)  # fmt: skip
                self.runs_live[pod.uid] = done.returncode == 0
        if all(self.runs_live[pod.uid] for pod in pods):
            return ""
        return ("the app's image does not run from the live folder (its entrypoint writes "
                "no app.pid there: see examples/spring-app/run.sh)")  # fmt: skip

    def compile(self, changes: Changes) -> Compiled:
        """target/classes brought up to date; what changed in it (dev runs this while it
        reads the pods: a batch the pods cannot take runs the full cycle, which builds
        target/ anew)."""
        started, before = time.monotonic(), live_sync.snapshot(self.app_dir)
        # what deleted sources compiled to goes first: javac must not find it on its classpath
        gone = live_sync.removed_outputs(self.app_dir, changes.deleted)
        compiler = compile_changes(self.app_dir, changes, self.cache_dir, self.javac)
        files = live_sync.changed_outputs(self.app_dir, before, live_sync.snapshot(self.app_dir))
        return Compiled(files, gone, compiler, time.monotonic() - started)

    def update(self, changes: Changes, inputs: str, image: str,
               compiled: Compiled | None = None) -> Timing:  # fmt: skip
        """Compile (unless done), copy into every Ready pod, restart, wait for readiness,
        annotate."""
        done = compiled or self.compile(changes)
        files, gone = done.files, done.gone
        timing = Timing(done.seconds, done.compiler, files=len(files) + len(gone))
        self.sent.update(files)
        for path in gone:
            self.sent.pop(path, None)
        self.deleted |= set(gone)
        self.inputs = inputs
        if files or gone:  # the same bytes again (a blank in a line): the pods serve them
            self.pods = set()
            self._send(Synced(files, gone), image, timing)
        return timing

    def _send(self, synced: Synced, image: str, timing: Timing) -> None:
        pods = self._ready_pods()
        if not pods:
            raise LiveFailed("no Ready pod of the release to copy into")
        started = time.monotonic()
        for pod in pods:
            live_sync.sync(self.kubectl, pod.name, CONTAINER, synced)
        timing.copy, started = time.monotonic() - started, time.monotonic()
        for pod in pods:
            self._wait_ready(pod)
        timing.ready = time.monotonic() - started
        for pod in pods:
            self._annotate(pod.name, image)
            self.pods.add(pod.uid)

    def resync(self, image: str) -> list[str]:
        """Ready pods that lack the live changes (replaced, or scaled up) get them all again;
        returns their names. LiveFailed when one cannot take them."""
        if not self.count:
            return []
        fresh = [pod for pod in self.read_pods() if pod.ready and pod.uid not in self.pods]
        if not fresh:
            return []
        everything = Synced(dict(self.sent), tuple(sorted(self.deleted)))
        for pod in fresh:
            live_sync.sync(self.kubectl, pod.name, CONTAINER, everything)
        for pod in fresh:
            self._wait_ready(pod)
            self._annotate(pod.name, image)
            self.pods.add(pod.uid)
        return [pod.name for pod in fresh]

    def _wait_ready(self, pod: Pod) -> None:
        if pod.readiness is None:
            raise LiveFailed(f"{pod.name} has no HTTP readiness probe to wait for")
        live_sync.wait_ready(self.kubectl, self.namespace, pod.name, pod.readiness,
                             READY_TIMEOUT)  # fmt: skip

    def warm(self) -> None:
        """In the background, between cycles: once the pods run the app from the live
        folder, Maven's classpath is read and the warm javac started and JIT-compiled, so
        that the first save compiles fast too. Without a JDK (or when it fails) each
        compile runs a new javac, as before."""
        if not self.enabled or self._warming or self._warm_failed:
            return
        if self.javac is not None and self.javac.running:
            return
        java = java_of_javac()
        if java is not None:
            self._warming = True
            threading.Thread(target=self._warm, args=(java,), daemon=True).start()

    def _warm(self, java: str) -> None:
        server = JavacServer(self.app_dir, java)
        try:
            if self._why_not(self._ready_pods()):
                return  # no live update can run: no JVM kept for nothing
            warm_up(server, self.app_dir, self.cache_dir)
            self.javac = server
        except (ServerGone, CompileFailed, LiveFailed, OSError, subprocess.SubprocessError):
            server.close()  # no classpath from Maven, or no JVM: a new javac per save
            self._warm_failed = True  # not tried again in this dev (a server that dies is)
        finally:
            self._warming = False

    def close(self) -> None:
        if self.javac is not None:
            self.javac.close()

    def baked(self) -> None:
        """A full cycle rolled new pods from an image that holds everything: nothing is live."""
        self.sent, self.deleted, self.pods, self.inputs = {}, set(), set(), ""

    def read_pods(self) -> list[Pod]:
        try:
            pods = release_pods(self.kubectl, self.release, 20)
        except StagingkubError as error:
            raise LiveFailed(f"the release's pods could not be read: {error}") from None
        self.known = (time.monotonic(), pods)
        return pods

    def _annotate(self, pod: str, image: str) -> None:
        value = annotation_value(image, self.inputs, self.count)
        argv = [*self.kubectl, "annotate", "pod", pod, "--overwrite", f"{ANNOTATION}={value}"]
        try:
            subprocess.run(argv, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as error:
            raise LiveFailed(f"{pod} could not be annotated: {error}") from None


def live_pods(pods: list[Pod]) -> list[Pod]:
    """The pods that run live changes (their annotation says so)."""
    return [pod for pod in pods if ANNOTATION in pod.annotations]

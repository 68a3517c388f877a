"""Helpers for integration tests: unique names, a run label, the real entry point."""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from stagingkub.settings import ROOT
from tests.support import SHARED_ENV, images

RUN_ID = uuid.uuid4().hex[:8]  # this process's (each pytest-xdist worker has its own)
TEST_LABEL = "io.stagingkub.test"
CASE_LABEL = "io.stagingkub.test.case"  # one test's own objects, removed when it ends
LABELS = {TEST_LABEL: RUN_ID}
_counter = itertools.count(1)


def docker(
    *args: str,
    check: bool = True,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, input=stdin,
        env={**os.environ, **env} if env else None,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr}")
    return result


def port_range() -> tuple[int, int]:
    """Ports below the kernel's ephemeral range (32768 up on Linux): a port the kernel
    handed out could be taken as the local port of an outgoing connection before the test
    binds it. Each pytest-xdist worker (gw0, gw1, ...) has a slice of its own, so two
    workers never pick the same port in the moment before one of them binds it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1), 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    width = 12000 // count
    start = 20000 + width * (index % count)
    return start, start + width - 1


def free_port() -> int:
    """A port nothing listens on, from this process's slice of the range above."""
    low, high = port_range()
    for _ in range(500):
        port = random.randint(low, high)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port between {low} and {high} on 127.0.0.1")


@dataclass
class Stack:
    """One test's registry settings (a profile file) and helpers to drive and inspect it."""

    tmp: Path
    image: str
    port: int = field(default_factory=free_port)
    prefix: str = field(default_factory=lambda: f"skt-{RUN_ID}-{next(_counter)}")

    extra_env: dict[str, str] = field(default_factory=dict)
    base: dict[str, dict[str, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = f"{self.prefix}-registry"
        self.volume = f"{self.prefix}-data"
        self.network = f"{self.prefix}-kind"
        self.cluster = f"{self.prefix}-c"
        self.files_dir = self.tmp / "generated"
        self.profile = self.tmp / "test-profile.yaml"
        self.write_profile()

    def write_profile(self, cluster: dict[str, object] | None = None, **registry: object) -> None:
        """The test's profile: its own registry, network and cluster names (never the user's).

        Sections in self.base (set by fixtures) are written too; `cluster` and `registry`
        override for this call only.
        """
        values = {
            "name": self.name,
            "image": self.image,
            "port": self.port,
            "volume": self.volume,
            "network": self.network,
            "health_timeout": 20,
            **registry,
        }
        lines = ["registry:"] + [f"  {key}: {value}" for key, value in values.items()]
        lines += [
            "  labels:",
            f"    {TEST_LABEL}: '{RUN_ID}'",
            f"    {CASE_LABEL}: '{self.prefix}'",
        ]
        sections = {name: dict(values) for name, values in self.base.items()}
        sections.setdefault("cluster", {}).update(
            {"name": self.cluster, "files_dir": str(self.files_dir), **(cluster or {})}
        )
        for section, section_values in sections.items():
            lines += [f"{section}:"] + [f"  {k}: {v}" for k, v in section_values.items()]
        self.profile.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STAGINGKUB_")}
        env.update(
            STAGINGKUB_PROFILE=str(self.profile),
            STAGINGKUB_ENV_FILE=str(self.tmp / "absent.env"),
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def invoke(
        self, *args: str, stdin=subprocess.DEVNULL, timeout: float = 120, **extra: str
    ) -> subprocess.CompletedProcess:
        """The real entry point, as Jenkins runs it: stdin is not a terminal unless given."""
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=ROOT,
            env=self.env(**extra),
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def labels(self) -> str:
        """The labels every object of this test carries, as k=v,k=v."""
        return f"{TEST_LABEL}={RUN_ID},{CASE_LABEL}={self.prefix}"

    def make_network(self) -> None:
        docker("network", "create", *self.label_args(), self.network)

    def label_args(self) -> list[str]:
        return [arg for pair in self.labels.split(",") for arg in ("--label", pair)]

    def cleanup(self) -> None:
        """Remove what this test created, found by its case label (networks are scarce)."""
        found = f"label={CASE_LABEL}={self.prefix}"
        for kind in ("container", "volume", "network"):
            names = docker(kind, "ls", "-q", *(["-a"] if kind == "container" else []),
                           "--filter", found).stdout.split()  # fmt: skip
            if names and kind == "container":
                docker("rm", "-f", "-v", *names, check=False)
            elif names:
                docker(kind, "rm", *names, check=False)

    def inspect(self, fmt: str) -> str:
        return docker("inspect", "-f", fmt, self.name).stdout.strip()

    def exists(self) -> bool:
        return docker("inspect", self.name, check=False).returncode == 0

    def volume_exists(self) -> bool:
        return docker("volume", "inspect", self.volume, check=False).returncode == 0

    def push(self, tag: str, repository: str = "rhdemo-api") -> str:
        reference = f"localhost:{self.port}/{repository}:{tag}"
        images.build_app_image(reference, LABELS, content=f"{repository} {tag} {RUN_ID}")
        docker("push", reference, timeout=120)
        return reference

    def tags(self, repository: str = "rhdemo-api") -> list[str]:
        response = httpx.get(f"{self.url}/v2/{repository}/tags/list", timeout=5)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])

    def catalog(self) -> list[str]:
        response = httpx.get(f"{self.url}/v2/_catalog", timeout=5)
        response.raise_for_status()
        return response.json()["repositories"]

    def healthy(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/v2/", timeout=5)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and "Docker-Distribution-Api-Version" in response.headers

    def wait_healthy(self, seconds: float = 30) -> None:
        """Until /v2/ answers (a started registry takes a moment), at most `seconds`."""
        import time

        deadline = time.monotonic() + seconds
        while not self.healthy():
            assert time.monotonic() < deadline, f"registry {self.name} not healthy in {seconds} s"
            time.sleep(0.2)


def script_lines(output: str) -> list[str]:
    """An `invoke --dry` script's lines after its header (the lines that move to the
    repository root or stop)."""
    from stagingkub.runner import SCRIPT_HEADER

    header = SCRIPT_HEADER.splitlines()
    lines = output.splitlines()
    assert lines[: len(header)] == header, "a --dry script starts with its header"
    return lines[len(header) :]


def echoed(output: str) -> list[str]:
    """The commands a run echoed (`+ cmd` lines), without the prefix."""
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def node_exec(node: str, *command: str) -> subprocess.CompletedProcess:
    return docker("exec", node, *command, check=False)


def fetch(node: str, reference: str) -> subprocess.CompletedProcess:
    """The guide's pull path with only kubelet missing: containerd in the node pulls by name."""
    return node_exec(
        node, "ctr", "content", "fetch", "--hosts-dir", "/etc/containerd/certs.d", reference
    )


STANDINS = Path(__file__).resolve().parent / "standins"


def install_standins(stack: Stack, node_image: str, real_helm: str) -> Stack:
    """Put the kind, kubectl and helm STAND-INS first on the stack's PATH."""
    bin_dir = stack.tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("kind", "kubectl", "helm"):
        wrapper = bin_dir / tool
        wrapper.write_text(
            f'#!/bin/sh\nexec {sys.executable} {STANDINS / f"{tool}_standin.py"} "$@"\n'
        )
        wrapper.chmod(0o755)
    stack.standin_log = stack.tmp / "standin-calls.jsonl"
    stack.extra_env.update(
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        STANDIN_NODE_IMAGE=node_image,
        STANDIN_LABELS=stack.labels,
        STANDIN_LOG=str(stack.standin_log),
        STANDIN_STATE=str(stack.tmp / "kubectl-state"),
        STANDIN_REAL_HELM=real_helm,
    )
    return stack


def add_app(stack: Stack) -> Stack:
    """An app directory whose ./mvnw is the Maven wrapper STAND-IN, in the stack's profile."""
    import shutil

    app = stack.tmp / "app"
    app.mkdir(exist_ok=True)
    shutil.copy2(STANDINS / "mvnw", app / "mvnw")
    (app / "pom.xml").write_text("<project><!-- stand-in app --></project>\n")
    stack.app_dir = app
    stack.base["image"] = {"app_dir": str(app), "name": f"{stack.prefix}-app"}
    stack.base["deploy"] = {"timeout": "2m"}
    stack.write_profile()
    return stack


def shared_run() -> str:
    """The id of the whole pytest run, shared by its pytest-xdist workers (set by
    tests/conftest.py; read when asked, since a conftest may import this module first).
    Images every worker may use under a fixed name (busybox:1.36 when built here) carry it
    and go when the run ends."""
    return os.environ.get(SHARED_ENV) or RUN_ID


def runs_file(shared: str) -> Path:
    """Where the workers of one pytest run note their RUN_IDs, for the images' removal."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"stagingkub-tests-{shared}.runs"


def app_images(prefix: str) -> list[str]:
    """The app's images, local and as pushed (localhost:<port>/<prefix>-…): by name, since
    an image ID may also carry a name that is not ours (the e2e tags busybox:1.36 as ours);
    an image left without a name (a rebuilt tag's older image) by ID, when no other
    repository names it."""
    listed = docker("images", "--format", "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}",
                    check=False)  # fmt: skip
    ours, theirs, dangling = [], set(), set()
    for line in listed.stdout.splitlines():
        repository, tag, digest, image_id = [*line.split("\t"), "", "", ""][:4]  # Digest may be ""
        if not repository.rsplit("/", 1)[-1].startswith(f"{prefix}-"):  # -3 is not -37
            theirs.add(image_id)
        elif tag != "<none>":
            ours.append(f"{repository}:{tag}")
        elif digest.startswith("sha256:"):
            ours.append(f"{repository}@{digest}")
        else:
            dangling.add(image_id)
    return ours + sorted(dangling - theirs)


def remove_app_images(prefix: str) -> None:
    """What a test built under its prefix from an image it did not label (busybox:1.36 made by
    an earlier run carries that run's label, so the app image built on it does too)."""
    found = app_images(prefix)
    if found:
        docker("rmi", *found, check=False)


def cleanup_run(client, run_id: str = RUN_ID, images: bool = True) -> None:
    """Remove exactly what this run created, found by its label (client: a docker SDK client).
    images=False keeps its images: a worker of a pytest-xdist run leaves them to the end of
    the whole run, since another worker's build may use one of their steps as its cache.

    Images go by ID, untagged ones too: a tag rebuilt or pushed again leaves the older
    image dangling (`<none>`) with the run's label, and removing by tag would keep it."""
    label = f"{TEST_LABEL}={run_id}"
    for container in client.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)  # v: its anonymous volumes too
    for volume in client.volumes.list(filters={"label": label}):
        volume.remove(force=True)
    for network in client.networks.list(filters={"label": label}):
        network.remove()
    if images:
        _remove_images(client, client.images.list(all=True, filters={"label": label}))


def _remove_images(client, found) -> None:
    """Newest first, so a build's labelled steps go after the images built on them; what is
    still a parent of an image of another run stays (the engine refuses with 409)."""
    from docker.errors import APIError, NotFound

    pending = [i.id for i in sorted(found, key=lambda i: i.attrs.get("Created", ""), reverse=True)]
    while pending:
        refused = []
        for image_id in pending:
            try:
                client.images.remove(image_id, force=True)  # its untagged parents go with it
            except NotFound:  # gone already, as another image's parent
                pass
            except APIError as error:
                if error.status_code != 409:
                    raise
                refused.append(image_id)
        if refused == pending:
            return
        pending = refused


def use_stack_settings(stack: Stack, monkeypatch) -> Stack:
    """For task functions called in-process: the stack's STAGINGKUB_ settings, and none of
    the developer's own."""
    for key in [k for k in os.environ if k.startswith("STAGINGKUB_")]:
        monkeypatch.delenv(key)
    for key, value in stack.env().items():
        if key.startswith("STAGINGKUB_") or key.startswith("STANDIN_") or key == "PATH":
            monkeypatch.setenv(key, value)
    return stack

"""The Spring Boot inner loop of issue 33 on a REAL kind cluster with the REAL example app
(examples/spring-app: Spring Boot built by its own ./mvnw, the JRE base image built here by
`uv run nox -s spring_base`): deploy, then `invoke dev` serving saves by live update (no
image build, no push, the same ReplicaSet), a deleted resource, a pod deleted by hand, the
Ctrl-C line, `invoke deploy` baking the live changes, a pom.xml change that runs the full
cycle, and `--forward` answering across a rollout. The tests run in file order."""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest

from stagingkub.settings import ROOT
from tests.e2e import real
from tests.e2e.conftest import demo_stack, remove
from tests.support.dev_process import DevProcess
from tests.support.stack import RUN_ID, free_port

pytestmark = pytest.mark.e2e

VERSION = "0.1.0"
HELLO = "Hello from stagingkub"
CONTROLLER = "src/main/java/io/stagingkub/example/HelloController.java"
BASE_IMAGE = "stagingkub/jre:17"


@pytest.fixture(scope="module")
def spring(tmp_path_factory, registry_image, busybox_image, real_tools):
    """A registry, a real cluster and a copy of the Spring example app (its target/ left
    out, so the first build is the real ./mvnw's)."""
    tmp = tmp_path_factory.mktemp(f"spring-{RUN_ID}")
    stack = demo_stack(tmp, registry_image, real_tools)
    app = tmp / "spring-app"
    shutil.copytree(ROOT / "examples" / "spring-app", app,
                    ignore=shutil.ignore_patterns("target"))  # fmt: skip
    stack.app_dir = app
    stack.base["image"] = {
        "strategy": "dockerfile", "app_dir": str(app), "name": stack.demo_image,
        "dockerfile": "Dockerfile", "context": ".", "build_args": {"BASE": BASE_IMAGE},
        "prebuild": ["./mvnw", "-B", "-q", "clean", "package", "-DskipTests"],
    }  # fmt: skip
    stack.base["deploy"] = {"values_file": str(app / "values.yaml"),
                            "timeout": "5m"}  # fmt: skip
    stack.write_profile()
    yield stack
    remove(stack)


def get(url: str, seconds: float = 60, want=None) -> httpx.Response:
    """GET url until it answers (and `want(response)` holds), bounded."""
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=3)
            if want is None or want(last):
                return last
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered as wanted within {seconds} s: {last!r}")


def wait_warm_javac(app_dir, seconds: float = 180) -> int:
    """The pid of dev's warm javac for this app (stagingkub/dev/LiveJavac.java)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if any(a.endswith(b"LiveJavac.java") for a in argv) and cwd == str(app_dir.resolve()):
                return int(proc.name)
        time.sleep(0.5)
    raise AssertionError(f"no warm javac started for {app_dir} within {seconds:.0f} s")


def running(pid: int) -> bool:
    try:  # a zombie has ended
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_restarted(stack, pod: dict, seconds: float = 120) -> dict:
    """The same pod once its container has restarted and it is Ready again."""

    def restarts(found: dict) -> int:
        return sum(c.get("restartCount", 0) for c in found["status"].get("containerStatuses")
                   or [])  # fmt: skip

    deadline, before = time.monotonic() + seconds, restarts(pod)
    while True:
        found = real.wait_ready_pod(stack, seconds=seconds)
        if restarts(found) > before:
            return found
        assert time.monotonic() < deadline, f"{pod['metadata']['name']} never restarted"
        time.sleep(0.25)


def say(app, text: str) -> None:
    controller = app / CONTROLLER
    source = controller.read_text()
    changed = re.sub(r'"Hello[^"]*"', f'"{text}"', source)
    assert changed != source, "the controller's answer is one string literal"
    controller.write_text(changed)


def builds_and_pushes(dev: DevProcess, since: int) -> list[str]:
    return [line for line in dev.out[since:] if line.startswith(("+ docker build",
                                                                 "+ docker push"))]  # fmt: skip


def test_1_deploy_builds_with_the_real_mvnw_and_serves_the_endpoint(spring):
    result = spring.invoke("deploy", "--version", VERSION, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "./mvnw -B -q clean package -DskipTests" in result.stdout
    assert (spring.app_dir / "target" / "app.jar").is_file()
    real.wait_ready_pod(spring)
    assert real.page(spring, "/api/hello").strip() == HELLO


def test_2_dev_serves_saves_live_and_a_replaced_pod_gets_them_again(spring):
    local = free_port()
    dev = DevProcess(spring.env(), "--version", VERSION, "--logs=off", "--forward", f"{local}:8080")
    try:
        dev.wait_for(r"^running .*; ready .* after dev started", timeout=900)
        dev.wait_for(rf"^forwarding http://localhost:{local} ", timeout=10)
        url = f"http://127.0.0.1:{local}"
        assert get(f"{url}/api/hello").text.strip() == HELLO
        sets, revisions = real.replica_sets(spring), real.helm_revisions(spring)
        javac = wait_warm_javac(spring.app_dir)  # started once the pod runs from /live

        since = len(dev.err), len(dev.out)
        say(spring.app_dir, "Hello, live")
        dev.wait_for(r"^running .* plus live changes to \d+ files?; served", timeout=120,
                     since=since[0])  # fmt: skip
        assert get(f"{url}/api/hello").text.strip() == "Hello, live"
        assert builds_and_pushes(dev, since[1]) == []
        assert real.replica_sets(spring) == sets and real.helm_revisions(spring) == revisions
        pod = real.wait_ready_pod(spring)
        assert "stagingkub.io/live" in pod["metadata"].get("annotations", {})

        assert get(f"{url}/hello.txt").text.strip() == "static hello"
        since = len(dev.err)
        (spring.app_dir / "src/main/resources/static/hello.txt").unlink()
        dev.wait_for(r"^running .* plus live changes", timeout=120, since=since)
        assert get(f"{url}/hello.txt").status_code == 404

        # the app's container restarts in the same pod (run.sh ends on SIGTERM): the
        # emptyDir keeps the live classes and the new container runs from them
        real.kubectl(spring, "exec", pod["metadata"]["name"], "-c", "rhdemo-api", "--",
                     "sh", "-c", "kill -TERM 1")  # fmt: skip
        restarted = wait_restarted(spring, pod)
        assert restarted["metadata"]["uid"] == pod["metadata"]["uid"]
        assert get(f"{url}/api/hello").text.strip() == "Hello, live"

        since = len(dev.err)
        real.kubectl(spring, "delete", "pod", pod["metadata"]["name"], "--wait=false")
        dev.wait_for(r"replaced a pod: it got the live changes", timeout=300, since=since)
        answer = get(f"{url}/api/hello", want=lambda r: r.text.strip() == "Hello, live")
        assert answer.text.strip() == "Hello, live"
        assert real.wait_ready_pod(spring)["metadata"]["name"] != pod["metadata"]["name"]

        found = spring.invoke("diag.k8s", timeout=120)
        assert "run invoke dev's live changes, which no image holds" in found.stdout, found.stdout

        assert dev.stop(signal.SIGINT) == 130
        assert re.search(r"plus live changes to \d+ files; `invoke deploy` bakes them",
                         dev.text())  # fmt: skip
        assert not running(javac)  # the warm javac ended with dev
    finally:
        dev.kill()


def test_3_deploy_bakes_the_live_changes_into_an_image(spring):
    result = spring.invoke("deploy", "--version", VERSION, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "+ docker build" in result.stdout
    digest = real.registry_digest(spring, spring.demo_image, VERSION)
    pod = real.wait_ready_pod(spring, digest=digest)
    assert "stagingkub.io/live" not in (pod["metadata"].get("annotations") or {})
    assert real.page(spring, "/api/hello").strip() == "Hello, live"


def test_3b_pods_left_with_live_changes_no_image_holds_are_restarted_by_the_next_dev(spring):
    # a live change, dev stopped, the source changed back to what the image holds: the next
    # dev builds nothing and helm changes nothing, so the pods would keep the live change
    local = free_port()
    url = f"http://127.0.0.1:{local}/api/hello"
    args = ("--version", VERSION, "--logs=off", "--forward", f"{local}:8080")
    dev = DevProcess(spring.env(), *args)
    try:
        dev.wait_for(r"^running .*; ready .* after dev started", timeout=900)
        since = len(dev.err)
        say(spring.app_dir, "Hello, again")
        dev.wait_for(r"^running .* plus live changes", timeout=120, since=since)
        assert get(url, want=lambda r: r.text.strip() == "Hello, again")
        assert dev.stop(signal.SIGINT) == 130
    finally:
        dev.kill()
    say(spring.app_dir, "Hello, live")  # what the image holds (test 3 baked it)
    dev = DevProcess(spring.env(), *args)
    try:
        dev.wait_for(r"^running .*; ready .* after dev started", timeout=900)
        dev.wait_for(r"ran live changes that no image holds: restarting", timeout=30)
        assert not any(line.startswith("+ docker build") for line in dev.out)
        deadline = time.monotonic() + 180  # the restart's new pod, once the old one goes
        while "stagingkub.io/live" in (real.wait_ready_pod(spring)["metadata"]
                                       .get("annotations") or {}):  # fmt: skip
            assert time.monotonic() < deadline, "the pod still runs the live change"
            time.sleep(0.5)
        assert get(url, want=lambda r: r.text.strip() == "Hello, live")
        assert dev.stop(signal.SIGINT) == 130
    finally:
        dev.kill()


def test_4_a_pom_change_runs_the_full_cycle_and_the_forward_follows_a_rollout(spring):
    local = free_port()
    dev = DevProcess(spring.env(), "--version", VERSION, "--logs=off", "--forward", f"{local}:8080")
    try:
        dev.wait_for(r"^running .*; ready .* after dev started", timeout=900)
        url = f"http://127.0.0.1:{local}"
        get(f"{url}/api/hello")
        # pom.xml: the full cycle (its build ran; the same image may come out of it)
        since = len(dev.err), len(dev.out)
        pom = spring.app_dir / "pom.xml"
        pom.write_text(pom.read_text().replace("<description>", "<description>changed ", 1))
        dev.wait_for(r"full cycle: pom.xml", timeout=60, since=since[0])
        dev.wait_for(r"^running ", timeout=900, since=since[0])
        assert any(line.startswith("+ docker build") for line in dev.out[since[1] :])
        # the Dockerfile: a new image, a rollout; the forward moves to the new pod
        before = real.wait_ready_pod(spring)["metadata"]["name"]
        since = len(dev.err)
        dockerfile = spring.app_dir / "Dockerfile"
        dockerfile.write_text(dockerfile.read_text() + 'LABEL io.stagingkub.example="2"\n')
        dev.wait_for(r"^running .*\(new\)", timeout=900, since=since)
        after = real.wait_ready_pod(spring)["metadata"]["name"]
        assert after != before
        assert get(f"{url}/api/hello", seconds=10).text.strip() == "Hello, live"
        assert dev.stop(signal.SIGINT) == 130
    finally:
        dev.kill()

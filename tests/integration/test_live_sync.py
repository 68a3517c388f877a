"""Live update's exec script (stagingkub/dev/live_sync.py) against a real container running
the Spring example's real entrypoint (examples/spring-app/run.sh) with a stand-in `java`
(a shell loop: the JVM itself is proven by tests/e2e/test_spring_live.py): the copy, the
deletes, the restart by SIGHUP, and each way it cannot work, named in one line."""

from __future__ import annotations

import time

import pytest

from stagingkub.dev.live_sync import SYNC_SCRIPT, LiveFailed, Synced, run_sync
from stagingkub.settings import ROOT
from tests.support.stack import RUN_ID, docker

pytestmark = pytest.mark.integration
JRE_BASE = "stagingkub/jre:17"  # uv run nox -s spring_base (.ci/run builds it)

# Spring Boot's first and last lines of a start, a second apart (run.sh marks both); its
# failed start's last line while /live/fail exists
FAKE_JAVA = """#!/bin/sh
trap 'exit 143' TERM
echo "Starting Application using Java 17.0.15 with PID $$"
sleep 1
if [ -f /live/fail ]; then
  echo "ERROR 7 --- [main] o.s.boot.SpringApplication : Application run failed"
else
  echo "Started Application in 1.0 seconds (process running for 1.1)"
fi
while :; do sleep 1; done
"""


@pytest.fixture
def app(busybox_image, tmp_path):
    """A container whose PID 1 is run.sh in live mode, as user 1000 (the example's)."""
    (tmp_path / "java").write_text(FAKE_JAVA)
    (tmp_path / "java").chmod(0o755)
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "old.txt").write_text("old")
    (tmp_path / "classes" / "keep.txt").write_text("keep")
    name = f"skt-{RUN_ID}-live-{time.monotonic_ns() % 10**8}"
    docker("run", "-d", "--name", name, "--label", f"io.stagingkub.test={RUN_ID}",
           "--user", "1000", "--read-only", "--tmpfs", "/live:uid=1000,gid=1000",
           "-e", "STAGINGKUB_LIVE_DIR=/live", "-e", "PATH=/fake:/bin:/usr/bin",
           "-v", f"{tmp_path / 'java'}:/fake/java:ro",
           "-v", f"{ROOT / 'examples/spring-app/run.sh'}:/app/run.sh:ro",
           "-v", f"{tmp_path / 'classes'}:/app/classes:ro",
           "--entrypoint", "/app/run.sh", busybox_image)  # fmt: skip
    wait_for_pid(name, "app.started")  # the first start has ended
    yield name
    docker("rm", "-f", name, check=False)


def wait_for_pid(name: str, mark: str = "app.pid") -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = docker("exec", name, "cat", f"/live/{mark}", check=False)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
        time.sleep(0.1)
    raise AssertionError(f"{name}: run.sh wrote no /live/app.pid: {docker('logs', name).stderr}")


def sync(name: str, synced: Synced, *env: str) -> None:
    argv = ["docker", "exec", "-i", *env, name, "sh", "-c", SYNC_SCRIPT, "sh", *synced.deleted]
    run_sync(argv, name, synced)


def test_the_script_copies_deletes_and_restarts_the_app_in_its_container(app):
    before = wait_for_pid(app)
    sync(app, Synced({"keep.txt": b"new", "pkg/B.class": b"\xca\xfe"}, ("old.txt",)))
    listed = docker("exec", app, "find", "/live/classes", "-type", "f").stdout.split()
    assert sorted(listed) == ["/live/classes/keep.txt", "/live/classes/pkg/B.class"]
    assert docker("exec", app, "cat", "/live/classes/keep.txt").stdout == "new"
    after = wait_for_pid(app)
    assert after != before  # the old JVM has gone: the script waited for the new one
    # ... and for the new one's "Started" line (a second after its first): one readiness
    # request then finds the app ready
    assert docker("exec", app, "cat", "/live/app.started").stdout.strip() == after
    pids = [line.split()[0] for line in docker("exec", app, "ps", "-o", "pid,args").stdout
            .splitlines() if "/fake/java" in line]  # fmt: skip
    assert pids == [after.split(".")[0]]  # app.pid: <pid>.<time>; one java, the new one
    docker("stop", "-t", "10", app)  # SIGTERM reaches java through run.sh: ends at once
    assert docker("inspect", "-f", "{{.State.ExitCode}}", app).stdout.strip() == "143"


def test_an_app_that_fails_to_start_after_the_restart_is_named(app):
    docker("exec", app, "touch", "/live/fail")  # (without the mark: a wait, then no error)
    with pytest.raises(LiveFailed, match=r"failed to start after the restart \(its log says why\)"):
        sync(app, Synced({"keep.txt": b"new"}, ()))


def test_a_live_folder_that_cannot_be_written_is_named(app):
    docker("exec", "-u", "0", app, "chmod", "a-w", "/live/classes")
    with pytest.raises(LiveFailed, match="cannot write the live folder"):
        sync(app, Synced({"keep.txt": b"new"}, ()))


def test_a_live_folder_on_a_read_only_root_filesystem_is_named(app):
    # /app/classes is on the container's read-only root filesystem
    with pytest.raises(LiveFailed, match="the live folder is read-only"):
        sync(app, Synced({"a": b"1"}, ()), "-e", "STAGINGKUB_LIVE_DIR=/app")


def test_an_image_without_tar_is_named():
    """The Spring example's Debian base (busybox's sh finds its own tar on any PATH): the
    script's shell, dash, finds no tar on the PATH it is given."""
    if docker("image", "inspect", JRE_BASE, check=False).returncode != 0:
        pytest.skip(f"{JRE_BASE} is not built (uv run nox -s spring_base)")
    name = f"skt-{RUN_ID}-notar-{time.monotonic_ns() % 10**8}"
    docker("run", "-d", "--name", name, "--label", f"io.stagingkub.test={RUN_ID}",
           "--read-only", "--tmpfs", "/live", "-e", "STAGINGKUB_LIVE_DIR=/live",
           "--entrypoint", "sleep", JRE_BASE, "600")  # fmt: skip
    try:
        docker("exec", name, "mkdir", "/live/classes")
        argv = ["docker", "exec", "-i", "-e", "PATH=/nowhere", name, "/bin/sh", "-c",
                SYNC_SCRIPT, "sh"]  # fmt: skip
        with pytest.raises(LiveFailed, match="the image has no tar"):
            run_sync(argv, name, Synced({"a": b"1"}, ()))
    finally:
        docker("rm", "-f", name, check=False)


def test_no_live_folder_and_an_image_that_does_not_run_from_it_are_named(app):
    with pytest.raises(LiveFailed, match="chart's live folder is not mounted"):
        sync(app, Synced({"a": b"1"}, ()), "-e", "STAGINGKUB_LIVE_DIR=")
    with pytest.raises(LiveFailed, match="does not run the app from the live folder"):
        sync(app, Synced({"a": b"1"}, ()), "-e", "STAGINGKUB_LIVE_DIR=/tmp-none")


def test_a_container_that_is_gone_is_named(app):
    docker("rm", "-f", app)
    with pytest.raises(LiveFailed, match=app):
        sync(app, Synced({"a": b"1"}, ()))

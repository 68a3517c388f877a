"""A registry.gc interrupted between stop and start (a Jenkins abort, an agent restart) is
finished by the next run: the real engine and registry; the interruption is real too, a
`docker` wrapper that kills the task's process (SIGKILL, nothing can clean up) when the
collection itself starts, after the registry was stopped."""

import os
import shutil

import pytest

from tests.support.stack import echoed

pytestmark = pytest.mark.integration

KILLER = """#!/bin/sh
# As the real collection starts, kill the task's process (python -m invoke registry.gc).
case "$*" in
  *garbage-collect*--dry-run*) ;;
  *garbage-collect*)
    pid=$PPID
    while [ "$pid" -gt 1 ]; do
      case "$(tr '\\0' ' ' < /proc/$pid/cmdline)" in
        *"-m invoke registry.gc"*) kill -9 "$pid"; exit 137 ;;
      esac
      pid=$(sed -n 's/.*) [A-Za-z] \\([0-9]*\\).*/\\1/p' /proc/$pid/stat)
    done
    exit 1 ;;
esac
exec {docker} "$@"
"""


def test_the_next_runs_start_the_registry_and_check_every_tag(stack, tmp_path):
    s = stack
    assert s.invoke("registry.create").returncode == 0
    s.push("1.0.0")
    s.push("2.0.0")
    assert s.invoke("registry.prune", "--keep", "1", "--yes").returncode == 0
    wrapper = tmp_path / "killer-bin"
    wrapper.mkdir()
    (wrapper / "docker").write_text(KILLER.format(docker=shutil.which("docker")))
    (wrapper / "docker").chmod(0o755)
    killed = s.invoke("registry.gc", "--yes", PATH=f"{wrapper}{os.pathsep}{os.environ['PATH']}")
    assert killed.returncode == -9  # SIGKILL: no finally ran
    assert s.inspect("{{.State.Running}}") == "false"  # stopped, never started again

    created = s.invoke("registry.create")
    assert created.returncode == 0, created.stderr
    assert f"docker start {s.name}" in echoed(created.stdout)
    assert "The last registry.gc" in created.stderr and "did not finish" in created.stderr
    assert s.healthy() and s.tags() == ["2.0.0"]

    again = s.invoke("registry.gc", "--yes")
    assert again.returncode == 0, again.stderr
    assert "did not finish: checking every tag first" in again.stderr
    assert "the interrupted collection lost nothing" in again.stderr
    finished = s.invoke("registry.create")
    assert "did not finish" not in finished.stderr  # the collection finished this time

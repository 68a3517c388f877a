"""Management, purge and persistence on a real engine: what the guide does by hand."""

import os
import pty

import pytest

from tests.support.stack import docker, echoed, script_lines

pytestmark = pytest.mark.integration


@pytest.fixture
def running(stack):
    stack.make_network()
    result = stack.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    return stack


def test_stop_start_restart(running):
    stopped = running.invoke("registry.stop")
    assert echoed(stopped.stdout) == [f"docker stop {running.name}"]
    assert running.inspect("{{.State.Status}}") == "exited"
    assert "already stopped" in running.invoke("registry.stop").stderr

    started = running.invoke("registry.start")
    assert started.returncode == 0, started.stderr
    assert echoed(started.stdout) == [f"docker start {running.name}"]
    assert running.healthy()

    before = running.inspect("{{.State.StartedAt}}")
    restarted = running.invoke("registry.restart")
    assert echoed(restarted.stdout) == [f"docker restart {running.name}"]
    assert running.inspect("{{.State.StartedAt}}") != before
    assert running.healthy()


def test_management_tasks_explain_a_missing_registry(stack):
    for task in ("registry.start", "registry.stop", "registry.restart", "registry.logs"):
        result = stack.invoke(task)
        assert result.returncode == 1, task
        assert f"no registry container named '{stack.name}'" in result.stderr
        assert "invoke registry.create" in result.stderr


def test_logs_show_the_registry_output(running):
    result = running.invoke("registry.logs", "--tail", "50")
    assert result.returncode == 0
    assert echoed(result.stdout) == [f"docker logs --tail 50 {running.name}"]
    assert "listening on" in result.stdout + result.stderr


def test_status_reports_state_health_port_networks_volume(running):
    running.push("1.0.0")
    result = running.invoke("registry.status")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if line.strip())
    assert lines["state"].startswith("running")
    assert lines["health"].startswith("healthy: GET http://127.0.0.1:")
    assert lines["port"] == f"127.0.0.1:{running.port} -> 5000/tcp"
    assert running.network in lines["networks"]
    assert lines["volume"] == running.volume
    assert lines["disk"].startswith("use") and "B" in lines["disk"]
    assert not lines["disk"].endswith("unknown")

    docker("stop", running.name)
    stopped = running.invoke("registry.status")
    assert stopped.returncode == 1
    assert "exited" in stopped.stdout


def test_status_of_an_absent_registry_exits_non_zero(stack):
    result = stack.invoke("registry.status")
    assert result.returncode == 1
    assert "absent" in result.stdout


def test_a_pushed_image_survives_stop_start_and_container_removal(running):
    running.push("1.0.0")
    running.push("1.1.0")
    assert running.invoke("registry.stop").returncode == 0
    assert running.invoke("registry.start").returncode == 0
    assert running.tags() == ["1.0.0", "1.1.0"]
    docker("rm", "-f", running.name)
    recreated = running.invoke("registry.create")
    assert recreated.returncode == 0, recreated.stderr
    assert running.tags() == ["1.0.0", "1.1.0"]


def test_purge_without_yes_from_a_pipe_is_refused_and_deletes_nothing(running):
    running.push("1.0.0")
    container_id = running.inspect("{{.Id}}")
    result = running.invoke("registry.purge")
    assert result.returncode == 1
    assert "stdin is not a terminal" in result.stderr and "--yes" in result.stderr
    assert "1 repositories, 1 tags" in result.stderr  # it said what would be lost
    assert echoed(result.stdout) == []
    assert running.inspect("{{.Id}}") == container_id
    assert running.tags() == ["1.0.0"]


def test_purge_with_yes_deletes_the_data_and_brings_the_registry_back_on_kind(running):
    running.push("1.0.0")
    result = running.invoke("registry.purge", "--yes")
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout)[:3] == [
        f"docker stop {running.name}",
        f"docker rm {running.name}",
        f"docker volume rm {running.volume}",
    ]
    assert running.healthy()
    assert running.catalog() == []
    assert running.network in running.inspect("{{json .NetworkSettings.Networks}}")
    assert running.volume_exists()


def test_purge_dry_run_prints_the_whole_script_and_deletes_nothing(running):
    running.push("1.0.0")
    result = running.invoke("--dry", "registry.purge")
    assert result.returncode == 0, result.stderr
    lines = script_lines(result.stdout)
    assert lines[:3] == [
        f"docker stop {running.name}",
        f"docker rm {running.name}",
        f"docker volume rm {running.volume}",
    ]
    assert any(line.startswith("docker run -d --name") for line in lines)
    assert running.tags() == ["1.0.0"]


@pytest.mark.parametrize(("answer", "deleted"), [("no", False), ("yes", True)])
def test_purge_on_a_terminal_asks_and_only_yes_deletes(running, answer, deleted):
    running.push("1.0.0")
    terminal, stdin = pty.openpty()
    try:
        os.write(terminal, f"{answer}\n".encode())
        result = running.invoke("registry.purge", stdin=stdin)
    finally:
        os.close(terminal)
        os.close(stdin)
    assert "Type 'yes' to confirm" in result.stdout
    assert result.returncode == (0 if deleted else 1), result.stderr
    assert running.tags() == ([] if deleted else ["1.0.0"])
    if not deleted:
        assert "nothing was deleted" in result.stderr


def test_a_long_wait_prints_timestamped_lines_off_a_terminal(running):
    """Jenkins sees the tool is alive: the registry's process is frozen, start waits on it."""
    import re
    import signal

    pid = int(running.inspect("{{.State.Pid}}"))
    os.kill(pid, signal.SIGSTOP)
    try:
        result = running.invoke(
            "registry.start",
            STAGINGKUB_OUTPUT_PROGRESS_EVERY="1",
            STAGINGKUB_REGISTRY_HEALTH_TIMEOUT="3",
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    assert result.returncode == 1
    waits = re.findall(
        r"^\[\d\d:\d\d:\d\d\] still waiting: the registry at (\S+) \((\d+) s\)$",
        result.stderr,
        re.M,
    )
    assert len(waits) >= 2 and waits[0][0] == f"{running.url}/v2/"
    assert "did not answer" in result.stderr and "within 3 s" in result.stderr


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_reaches_the_running_command_and_nothing_is_left_running(running, tmp_path, sig):
    """Jenkins aborts a job with SIGTERM: the command the task runs gets it too (helm can
    then mark its release failed), and no process of the tool outlives it."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    from stagingkub.settings import ROOT

    log = tmp_path / "docker.log"
    bin_dir = tmp_path / "recording-bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        f"trap 'echo got-$1-signal >> {log}; exit 143' TERM\n"
        f"trap 'echo got-$1-signal >> {log}; exit 130' INT\n"
        f'echo "started $$" >> {log}\n'
        "while true; do sleep 0.1; done\n"
    )
    (bin_dir / "docker").chmod(0o755)
    env = running.env(PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert shutil.which("docker", path=env["PATH"]) == str(bin_dir / "docker")
    task = subprocess.Popen(
        [sys.executable, "-m", "invoke", "registry.logs", "--follow"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (log.exists() and "started" in log.read_text()):
        assert time.monotonic() < deadline and task.poll() is None, task.stderr.read()
        time.sleep(0.1)
    child = int(log.read_text().split()[1])
    task.send_signal(getattr(signal, sig))
    _, stderr = task.communicate(timeout=30)
    assert "got-" in log.read_text()  # the command received the signal
    assert task.returncode == 128 + getattr(signal, sig)
    assert f"Stopped by {sig}" in stderr and "Traceback" not in stderr
    assert not os.path.exists(f"/proc/{child}")  # nothing left running

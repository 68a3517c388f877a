"""registry.create on a real engine with a real registry: idempotent, safe, explained."""

import os
import socket

import pytest

from stagingkub.registry.ops import wait_script
from tests.support.stack import LABELS, RUN_ID, docker, echoed, free_port, script_lines

pytestmark = pytest.mark.integration


def run_line(stack) -> str:
    return (
        f"docker run -d --name {stack.name} --restart=always -p 127.0.0.1:{stack.port}:5000 "
        f"-v {stack.volume}:/var/lib/registry -e REGISTRY_STORAGE_DELETE_ENABLED=true "
        "--label io.stagingkub.managed=true --label io.stagingkub.role=registry "
        f"{' '.join(stack.label_args())} {stack.image}"
    )


def volume_line(stack) -> str:
    return (
        "docker volume create --label io.stagingkub.managed=true --label "
        f"io.stagingkub.role=registry {' '.join(stack.label_args())} {stack.volume}"
    )


def test_create_on_a_clean_host_runs_the_guides_commands_and_is_healthy(stack):
    stack.make_network()
    result = stack.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout) == [
        volume_line(stack),
        run_line(stack),
        f"docker network connect {stack.network} {stack.name}",
    ]
    assert stack.healthy()
    assert stack.network in stack.inspect("{{json .NetworkSettings.Networks}}")
    assert stack.inspect("{{.HostConfig.RestartPolicy.Name}}") == "always"
    assert f"Healthy at {stack.url}" in result.stderr


def test_second_create_changes_nothing(stack):
    stack.make_network()
    assert stack.invoke("registry.create").returncode == 0
    before = stack.inspect("{{.Id}} {{.State.StartedAt}}")
    again = stack.invoke("registry.create")
    assert again.returncode == 0, again.stderr
    assert echoed(again.stdout) == []
    assert "up to date" in again.stderr
    assert stack.inspect("{{.Id}} {{.State.StartedAt}}") == before


def test_without_the_kind_network_the_registry_still_runs_and_says_so(stack):
    result = stack.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    assert not any("network connect" in line for line in echoed(result.stdout))
    again = stack.invoke("registry.create")
    assert f"no {stack.network} network yet" in again.stderr


def test_a_registry_detached_from_kind_is_reconnected(stack):
    stack.make_network()
    assert stack.invoke("registry.create").returncode == 0
    docker("network", "disconnect", stack.network, stack.name)
    result = stack.invoke("registry.create")
    assert echoed(result.stdout) == [f"docker network connect {stack.network} {stack.name}"]
    assert stack.network in stack.inspect("{{json .NetworkSettings.Networks}}")


def test_a_stopped_registry_is_started_not_recreated(stack):
    assert stack.invoke("registry.create").returncode == 0
    container_id = stack.inspect("{{.Id}}")
    docker("stop", stack.name)
    result = stack.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout) == [f"docker start {stack.name}"]
    assert stack.inspect("{{.Id}}") == container_id
    assert stack.healthy()


def test_drift_is_explained_and_only_recreate_replaces_keeping_the_data(stack):
    assert stack.invoke("registry.create").returncode == 0
    stack.push("1.0.0")
    old_port, container_id = stack.port, stack.inspect("{{.Id}}")
    stack.port = new_port = old_port + 1 if old_port < 65535 else old_port - 1
    refused = stack.invoke("registry.create", "--port", str(new_port))
    assert refused.returncode == 1
    assert f"published on 127.0.0.1:{old_port}, settings want 127.0.0.1:{new_port}" in (
        refused.stderr
    )
    assert "--recreate" in refused.stderr and "Traceback" not in refused.stderr
    assert echoed(refused.stdout) == []
    assert stack.inspect("{{.Id}}") == container_id

    replaced = stack.invoke("registry.create", "--port", str(new_port), "--recreate")
    assert replaced.returncode == 0, replaced.stderr
    assert echoed(replaced.stdout)[0] == f"docker rm -f {stack.name}"
    assert stack.inspect("{{.Id}}") != container_id
    assert stack.tags() == ["1.0.0"]  # the volume, and so the image, survived


def test_a_port_held_by_a_process_fails_before_docker_run(stack):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", stack.port))
        listener.listen()
        result = stack.invoke("registry.create")
    assert result.returncode == 1
    assert f"Port {stack.port} on 127.0.0.1 is already in use by pid {os.getpid()}" in (
        result.stderr
    )
    assert "registry.port" in result.stderr and "Nothing was changed" in result.stderr
    assert echoed(result.stdout) == []
    assert not stack.exists() and not stack.volume_exists()


AIRPLAY_LISTENER = """
import socket, sys, time
open("/proc/self/comm", "w").write("ControlCenter")  # the name macOS's AirPlay runs under
listener = socket.socket()
listener.bind(("127.0.0.1", int(sys.argv[1])))
listener.listen()
print("listening", flush=True)
time.sleep(60)
"""


def test_a_port_held_by_airplay_suggests_port_5001(stack):
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", AIRPLAY_LISTENER, str(stack.port)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "listening"
        result = stack.invoke("registry.create")
    finally:
        holder.kill()
        holder.wait(10)
    assert result.returncode == 1
    assert f"in use by pid {holder.pid} (ControlCenter)" in result.stderr
    assert "AirPlay Receiver" in result.stderr and "registry.port: 5001" in result.stderr
    assert not stack.exists()


def test_a_port_held_by_another_container_names_it(stack):
    squatter = f"skt-{RUN_ID}-squatter-{stack.port}"
    labels = [a for k, v in LABELS.items() for a in ("--label", f"{k}={v}")]
    docker(
        "run", "-d", "--name", squatter, *labels, "-p", f"127.0.0.1:{stack.port}:5000", stack.image
    )
    result = stack.invoke("registry.create")
    assert result.returncode == 1
    assert f"container '{squatter}'" in result.stderr
    assert not stack.exists()


def test_dry_run_prints_a_script_and_changes_nothing(stack):
    stack.make_network()
    result = stack.invoke("--dry", "registry.create")
    assert result.returncode == 0, result.stderr
    lines = script_lines(result.stdout)
    assert lines[:3] == [
        volume_line(stack),
        run_line(stack),
        f"docker network connect {stack.network} {stack.name}",
    ]
    assert lines[3] == wait_script(stack.url, 20) and len(lines) == 4
    assert not stack.exists() and not stack.volume_exists()


def test_a_failing_docker_command_ends_with_its_exit_code(stack):
    # An image on a loopback port nothing listens on: docker run's pull fails at once, and
    # the test reaches no registry on the internet.
    absent = f"127.0.0.1:{free_port()}/stagingkub-test/absent:{RUN_ID}"
    result = stack.invoke("registry.create", "--image", absent)
    assert result.returncode == 125
    assert "Command failed with exit code 125: docker run" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "70000"], "a port is a whole number from 1 to 65535"),
        (["--name", "x;touch /tmp/pwned"], "not a valid Docker name"),
        (["--bind", "localhost"], "not an IP address"),
        (["--image", "Registry:2"], "must be lowercase"),
        (["--volume", "-rf"], "not a valid Docker name"),
    ],
)
def test_bad_input_is_rejected_before_any_command(stack, args, words):
    result = stack.invoke("registry.create", *args)
    assert result.returncode == 1
    assert words in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not stack.exists()


def test_four_concurrent_creates_make_one_registry_and_all_succeed(stack):
    """Parallel Jenkins jobs: each may lose a race (docker run, network connect) and still
    succeed, because what the step was for holds."""
    import subprocess
    import sys

    from stagingkub.settings import ROOT

    stack.make_network()
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "invoke", "registry.create"],
            cwd=ROOT,
            env=stack.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    named = docker("ps", "-a", "--filter", f"name=^{stack.name}$", "--format", "{{.ID}}")
    assert len(named.stdout.split()) == 1
    assert stack.healthy()
    assert stack.network in stack.inspect("{{json .NetworkSettings.Networks}}")

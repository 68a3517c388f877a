"""Task tests: the task functions called with the expect_commands helper.

State is read from the real engine; each expected command, once matched, really
runs (execute=True), so the exact sequence and its effect are both checked.
"""

import pytest
from invoke import Exit

from tasks import registry as registry_tasks
from tests.integration.test_registry_create import run_line, volume_line
from tests.support.commands import expect_commands
from tests.support.stack import use_stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def env(stack, monkeypatch):
    return use_stack_settings(stack, monkeypatch)


def test_create_on_a_clean_host_then_nothing(env):
    env.make_network()
    connect = f"docker network connect {env.network} {env.name}"
    with expect_commands(volume_line(env), run_line(env), connect, execute=True) as c:
        registry_tasks.create(c)
    assert env.healthy()
    with expect_commands(execute=True) as c:
        registry_tasks.create(c)
    assert c.calls == []


def test_stopped_registry_gets_exactly_docker_start(env):
    with expect_commands(volume_line(env), run_line(env), execute=True) as c:
        registry_tasks.create(c)
    with expect_commands(f"docker stop {env.name}", execute=True) as c:
        registry_tasks.stop(c)
    with expect_commands(f"docker start {env.name}", execute=True) as c:
        registry_tasks.create(c)
    assert env.healthy()


def test_purge_yes_sequence(env):
    env.make_network()
    with expect_commands(
        volume_line(env),
        run_line(env),
        f"docker network connect {env.network} {env.name}",
        execute=True,
    ) as c:
        registry_tasks.create(c)
    env.push("2.0.0")
    with expect_commands(
        f"docker stop {env.name}",
        f"docker rm {env.name}",
        f"docker volume rm {env.volume}",
        volume_line(env),
        run_line(env),
        f"docker network connect {env.network} {env.name}",
        execute=True,
    ) as c:
        registry_tasks.purge(c, yes=True)
    assert env.catalog() == []


def test_bad_flag_raises_exit_and_runs_nothing(env):
    with expect_commands() as c, pytest.raises(Exit) as caught:
        registry_tasks.create(c, port="0")
    assert caught.value.code == 1
    assert "a port is a whole number" in str(caught.value.message)

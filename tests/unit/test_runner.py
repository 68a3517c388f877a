"""The command layer, through the expect_commands helper around invoke's MockContext."""

import pytest
from invoke.exceptions import UnexpectedExit

from stagingkub.errors import CommandFailed
from stagingkub.runner import Runner, ToolMissing
from tests.support.commands import expect_commands, fails


def test_commands_are_shell_quoted():
    with expect_commands("docker run -d --name 'a b' 'x;y'") as c:
        Runner(c).run(["docker", "run", "-d", "--name", "a b", "x;y"])
    assert c.calls == ["docker run -d --name 'a b' 'x;y'"]


def test_dry_run_echo_format_is_bare():
    seen = {}

    with expect_commands("docker stop r", dry=True) as c:
        original = c.run

        def spy(command, **kwargs):
            seen.update(kwargs)
            return original(command, **kwargs)

        c.run = spy
        Runner(c).run(["docker", "stop", "r"])
    assert seen["echo_format"] == "{command}" and seen["echo"] is True


def test_real_run_echo_format_starts_with_plus():
    seen = {}
    with expect_commands("docker stop r") as c:
        original = c.run
        c.run = lambda command, **kw: seen.update(kw) or original(command, **kw)
        Runner(c).run(["docker", "stop", "r"])
    assert seen["echo_format"] == "+ {command}"


def test_a_failing_command_keeps_its_exit_code_and_names_the_command():
    failing = fails("docker start r", 125, "Error: No such container: r")
    with expect_commands(failing) as c, pytest.raises(CommandFailed) as caught:
        Runner(c).run(["docker", "start", "r"])
    assert caught.value.exit_code == 125
    assert "docker start r" in str(caught.value)
    assert "No such container" in str(caught.value)


def test_warn_returns_the_failed_result():
    with expect_commands(fails("docker run x", 125)) as c:
        assert Runner(c).run(["docker", "run", "x"], warn=True).exited == 125


def test_helper_raises_like_invoke_on_failure_without_warn():
    with expect_commands(fails("false", 1)) as c, pytest.raises(UnexpectedExit):
        c.run("false")


def test_helper_rejects_commands_out_of_order():
    with (
        pytest.raises(AssertionError, match="want: docker stop r"),
        expect_commands("docker stop r") as c,
    ):
        c.run("docker rm r", warn=True)


def test_helper_fails_when_an_expected_command_never_ran():
    with pytest.raises(AssertionError, match="never run"), expect_commands("docker stop r"):
        pass


def test_missing_tool_is_reported_before_running(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with expect_commands() as c, pytest.raises(ToolMissing, match="'docker' is not on PATH"):
        Runner(c).run(["docker", "ps"])

"""expect_commands: declare the commands a task must run, in order (fabric.testing's shape).

invoke's MockContext ignores `warn` and never raises on a non-zero Result; this
helper does what a real Context does: a failing Result raises UnexpectedExit
unless warn=True. With execute=True each matched command really runs (hidden),
so a task test checks the exact sequence and its real effect on the engine.
"""

from __future__ import annotations

from contextlib import contextmanager

from invoke import Config, Context, MockContext, Result
from invoke.exceptions import UnexpectedExit


class ScriptedContext(MockContext):
    def __init__(self, expected: list[tuple[str, Result]], dry: bool, execute: bool) -> None:
        super().__init__(config=Config(overrides={"run": {"dry": dry}}))
        self._expected = list(expected)
        self._execute = execute
        self.calls: list[str] = []

    def run(self, command: str, **kwargs: object) -> Result:  # type: ignore[override]
        index = len(self.calls)
        self.calls.append(command)
        if index >= len(self._expected):
            raise AssertionError(f"unexpected command #{index + 1}: {command}\nran: {self.calls}")
        wanted, result = self._expected[index]
        assert command == wanted, f"command #{index + 1}:\n  got:  {command}\n  want: {wanted}"
        if self._execute and not self.config.run.dry:
            result = Context().run(command, hide=True, warn=True, in_stream=False)
        if result.exited != 0 and not kwargs.get("warn"):
            raise UnexpectedExit(result)
        return result

    def assert_all_ran(self) -> None:
        missing = [cmd for cmd, _ in self._expected[len(self.calls) :]]
        assert not missing, f"commands never run: {missing}"


def ok(command: str, stdout: str = "") -> tuple[str, Result]:
    return command, Result(command=command, stdout=stdout, exited=0)


def fails(command: str, exited: int, stderr: str = "") -> tuple[str, Result]:
    return command, Result(command=command, stderr=stderr, exited=exited)


@contextmanager
def expect_commands(*expected: tuple[str, Result] | str, dry: bool = False, execute: bool = False):
    """Yield a context that must run exactly `expected` (strings mean success), in order."""
    pairs = [ok(item) if isinstance(item, str) else item for item in expected]
    context = ScriptedContext(pairs, dry=dry, execute=execute)
    yield context
    context.assert_all_ran()

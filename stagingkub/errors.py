"""One exception hierarchy: every error a user can cause carries a message that says the fix."""

from __future__ import annotations


class StagingkubError(Exception):
    """A problem the user can fix; str(error) is the one-paragraph explanation."""

    exit_code = 1


class ConfigError(StagingkubError):
    """A settings file, .env entry, environment variable or flag is wrong."""


class InputError(StagingkubError):
    """A value that would reach a command is not acceptable."""


class StateError(StagingkubError):
    """The machine is not in a state where the task can proceed (port taken, drift...)."""


class DockerUnavailable(StagingkubError):
    """The Docker CLI or engine cannot be reached."""


class CommandFailed(StagingkubError):
    """An external command exited non-zero; the task ends with the same exit code."""

    def __init__(self, command: str, exit_code: int, stderr: str = "") -> None:
        self.command = command
        self.exit_code = exit_code or 1
        self.stderr = stderr
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        message = f"Command failed with exit code {exit_code}: {command}"
        if detail:
            message += f"\n  {detail}"
        super().__init__(message)

"""The real entry point in-process: `invoke ...` exactly as `python -m invoke` runs it
(invoke's own Program, the same argv parsing, tasks.py loaded from the repository), so a
matrix of bad inputs costs milliseconds per case instead of a Python start-up."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout

from stagingkub.settings import ROOT


def environment(env: dict | None = None, path: str | None = None) -> dict[str, str]:
    """The developer's environment without their STAGINGKUB_ settings or .env."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STAGINGKUB_")}
    environ["STAGINGKUB_ENV_FILE"] = "/nonexistent/.env"
    if path is not None:
        environ["PATH"] = path
    environ.update(env or {})
    return environ


def run_in_process(*args: str, env: dict | None = None, path: str | None = None):
    """(exit code, stdout, stderr) of `invoke ARGS`, run by invoke's Program in this process
    with the given environment; an escaping exception is reported as a traceback, as the
    real entry point would print it."""
    from invoke import Program, __version__

    program = Program(name="Invoke", binary="inv[oke]", binary_names=["invoke", "inv"],
                      version=__version__)  # fmt: skip
    saved, cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    os.environ.clear()
    os.environ.update(environment(env, path))
    code = 0
    try:
        os.chdir(ROOT)
        with redirect_stdout(out), redirect_stderr(err):
            program.run(["invoke", *args], exit=True)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        err.write(traceback.format_exc())
        code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(cwd)
    return subprocess.CompletedProcess(["invoke", *args], code, out.getvalue(), err.getvalue())


def run_subprocess(*args: str, env: dict | None = None, path: str | None = None):
    """`python -m invoke ARGS` as a separate process (stdin not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, env=environment(env, path),
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip

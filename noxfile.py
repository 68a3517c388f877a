"""nox sessions for stagingkub: `uv run nox -l` lists them, `uv run nox -s unit` runs one.

Each session gets its own virtualenv made by uv from uv.lock (the same pins as
`uv run`); helm, kind, kubectl and Docker come from the machine.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "unit", "chart"]
ROOT = Path(__file__).resolve().parent
CHART = ROOT / "helm" / "rhdemo"


def install(session: nox.Session) -> None:
    """The locked dependencies (main and dev groups) into the session's virtualenv."""
    session.run_install(
        "uv", "sync", "--frozen", env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    )


@nox.session
def tests(session: nox.Session) -> None:
    """README's test command: unit, then integration tests against the real engine."""
    install(session)
    session.run("pytest", *session.posargs)


@nox.session
def unit(session: nox.Session) -> None:
    """The unit tier: no Docker needed, under 30 s."""
    install(session)
    session.run("pytest", "tests/unit", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def chart(session: nox.Session) -> None:
    """helm lint --strict with every ci/*-values.yaml scenario, and helm template of each."""
    scenarios = sorted((CHART / "ci").glob("*-values.yaml"))
    session.run("helm", "lint", str(CHART), "--strict", external=True)
    for values in scenarios:
        session.run("helm", "lint", str(CHART), "--strict", "-f", str(values), external=True)
        session.run("helm", "template", "rhdemo", str(CHART), "-f", str(values),
                    external=True, silent=True)  # fmt: skip


@nox.session
def e2e(session: nox.Session) -> None:
    """tests/e2e against real kind, kubectl and helm (internet needed); fails, never
    skips, when one of them is missing (STAGINGKUB_E2E=1)."""
    install(session)
    # one process: each test makes a real kind cluster (the suite's -n 3 is for the stand-ins)
    session.run("pytest", "tests/e2e", "-m", "e2e", "-v", "-n", "0", *session.posargs,
                env={"STAGINGKUB_E2E": "1"})  # fmt: skip


@nox.session(venv_backend="none")
def kind_node(session: nox.Session) -> None:
    """Builds offline the real kind CLI and a kind node image (tests/e2e/node/build.sh,
    outside the repo under /var/cache/stagingkub); a second run reuses everything.
    Its last two lines are KIND=<path> and NODE_IMAGE=<image>."""
    session.run("bash", str(ROOT / "tests" / "e2e" / "node" / "build.sh"), *session.posargs,
                external=True)  # fmt: skip


@nox.session(venv_backend="none")
def spring_base(session: nox.Session) -> None:
    """Builds offline the Java 17 JRE base image of examples/spring-app from Debian's
    packages (examples/spring-app/base/build.sh; root, debootstrap); a second run
    reuses it. Its last line is BASE_IMAGE=<image> (stagingkub/jre:17)."""
    session.run("sh", str(ROOT / "examples" / "spring-app" / "base" / "build.sh"),
                *session.posargs, external=True)  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """The performance harness at full size (writes bench/results.json; ~10 min)."""
    install(session)
    session.run("python", "bench/run.py", *session.posargs)

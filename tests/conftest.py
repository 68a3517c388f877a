"""Test-wide rules: in CI (CI=true or --require-integration) an integration skip is a failure;
with STAGINGKUB_E2E=1 (the e2e workflow) an e2e skip is one too. A test marked
`deliberate_skip` skips for a reason of its own (for example: restarting dockerd where an
init system owns it) and stays a skip everywhere; the marker says why."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.support import SHARED_ENV

OWNER = pytest.StashKey[str]()  # on the config of the run that set SHARED_ENV

pytest_plugins = ["pytester"]  # tests/unit/test_ci_rules.py runs these rules in a pytest of its own


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-integration",
        action="store_true",
        help="Fail, instead of skipping, integration tests whose engine or tools are missing "
        "(on by default when CI=true).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """The run's id shared by its pytest-xdist workers (they inherit the environment):
    images built under a fixed name for all of them carry it, and go when the run ends."""
    # The outermost run only: a pytest that tests/unit runs inside this one (pytester)
    # must neither change the id nor clean up this run's images.
    if not hasattr(config, "workerinput") and SHARED_ENV not in os.environ:
        os.environ[SHARED_ENV] = config.stash[OWNER] = uuid.uuid4().hex[:8]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every worker ended: remove the run's engine lock files, and the images of every
    worker and the shared ones (none when no integration test ran; no engine then either).
    Not before: a worker's build may use another's image steps as its cache."""
    if OWNER not in session.config.stash:
        return
    from tests.support import engine_lock

    for path in engine_lock.paths(os.environ[SHARED_ENV]):
        path.unlink(missing_ok=True)
    try:
        import docker as docker_sdk

        client = docker_sdk.from_env(timeout=10)
        client.ping()
    except Exception:  # no engine, no shared images
        return
    from tests.support.stack import cleanup_run, runs_file

    shared = os.environ[SHARED_ENV]
    noted = runs_file(shared)
    runs = noted.read_text().split() if noted.exists() else []
    for run in [*runs, shared]:
        cleanup_run(client, run)
    noted.unlink(missing_ok=True)
    client.close()


def strict(config: pytest.Config) -> bool:
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return ci or bool(config.getoption("--require-integration"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or item.get_closest_marker("deliberate_skip"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    if item.get_closest_marker("integration") and strict(item.config):
        report.outcome = "failed"
        report.longrepr = f"integration test skipped where it must run (CI): {reason}"
    elif item.get_closest_marker("e2e") and os.environ.get("STAGINGKUB_E2E") == "1":
        report.outcome = "failed"
        report.longrepr = f"e2e test skipped where STAGINGKUB_E2E=1 asks for it: {reason}"

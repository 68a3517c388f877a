"""The rules of tests/conftest.py, run in a pytest of their own (pytester): in CI an
integration skip fails, a deliberate skip stays a skip, STAGINGKUB_E2E=1 fails e2e skips."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).parents[1] / "conftest.py"
TESTS = """
import os
import pytest

@pytest.mark.integration
def test_tool_missing():
    pytest.skip("kind is not installed")

@pytest.mark.integration
@pytest.mark.deliberate_skip("an init system owns dockerd")
@pytest.mark.skipif(os.environ.get("MAY") != "1", reason="would restart dockerd")
def test_restart():
    pass

@pytest.mark.e2e
def test_real_kind():
    pytest.skip("kind is missing")
"""
INI = """[pytest]
addopts = -ra --strict-markers -p no:cacheprovider
markers =
    integration: x
    e2e: x
    deliberate_skip(reason): x
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    text = CONFTEST.read_text().replace('pytest_plugins = ["pytester"]', "")
    pytester.makeconftest(text)
    pytester.makeini(INI)
    pytester.makepyfile(test_rules=TESTS)
    for name in ("CI", "STAGINGKUB_E2E", "MAY"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def test_on_a_laptop_every_skip_is_a_skip(suite):
    suite.runpytest_inprocess().assert_outcomes(skipped=3)


def test_in_ci_a_missing_tool_fails_and_a_deliberate_skip_does_not(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_inprocess()
    result.assert_outcomes(failed=1, skipped=2)
    result.stdout.fnmatch_lines(["*test_tool_missing*skipped where it must run (CI)*"])
    assert "test_restart" not in "".join(line for line in result.outlines if "FAILED" in line)


def test_e2e_skips_fail_when_the_e2e_job_asks_for_them(suite, monkeypatch):
    monkeypatch.setenv("STAGINGKUB_E2E", "1")
    result = suite.runpytest_inprocess("-k", "real_kind")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*STAGINGKUB_E2E=1 asks for it: *kind is missing*"])


def test_the_deliberate_test_runs_where_it_may(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("MAY", "1")
    suite.runpytest_inprocess("-k", "restart").assert_outcomes(passed=1)

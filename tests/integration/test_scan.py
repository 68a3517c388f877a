"""The optional trivy scan before the push (a trivy STAND-IN: its database needs the internet)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support.stack import STANDINS, Stack, echoed

pytestmark = pytest.mark.integration


def without_trivy(s: Stack) -> None:
    """The stack's PATH minus any directory holding a real trivy."""
    parts = s.extra_env["PATH"].split(os.pathsep)
    s.extra_env["PATH"] = os.pathsep.join(p for p in parts if not os.path.exists(f"{p}/trivy"))


def with_trivy_standin(s: Stack) -> None:
    without_trivy(s)
    bin_dir = s.tmp / "bin"
    shutil.copy2(STANDINS / "trivy", bin_dir / "trivy")


def test_without_trivy_the_scan_is_skipped_with_a_note(app_stack):
    s = app_stack
    without_trivy(s)
    result = s.invoke("deploy", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    assert "image scan skipped: trivy is not installed" in result.stderr


def test_scan_always_without_trivy_stops_before_the_push(app_stack):
    s = app_stack
    without_trivy(s)
    s.base["image"]["scan"] = "always"
    s.write_profile()
    result = s.invoke("deploy", "--version", "1.0.0")
    assert result.returncode == 1
    assert "image.scan is 'always' but trivy is not installed" in result.stderr
    assert not [c for c in echoed(result.stdout) if c.startswith("docker push")]


def test_a_clean_scan_runs_before_the_push(app_stack):
    s = app_stack
    with_trivy_standin(s)
    result = s.invoke("deploy", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    commands = echoed(result.stdout)
    app = s.base["image"]["name"]
    scan = f"trivy image --exit-code 1 --severity HIGH,CRITICAL --no-progress {app}:1.0.0"
    push = next(i for i, c in enumerate(commands) if c.startswith("docker push"))
    assert commands.index(scan) < push


def test_findings_stop_the_pipeline_before_anything_is_pushed(app_stack):
    s = app_stack
    with_trivy_standin(s)
    s.base["image"]["scan_severity"] = "CRITICAL"
    s.write_profile()
    result = s.invoke("deploy", "--version", "1.0.0", STANDIN_TRIVY_EXIT="1")
    assert result.returncode == 1
    assert "trivy found CRITICAL vulnerabilities" in result.stderr
    assert "CVE-2099-0001" in result.stdout  # trivy's own report is shown
    assert not [c for c in echoed(result.stdout) if c.startswith(("docker push", "helm"))]
    assert s.tags(s.base["image"]["name"]) == []
    alone = s.invoke("image.scan", "--version", "1.0.0", STANDIN_TRIVY_EXIT="1")
    assert alone.returncode == 1 and "Nothing was pushed" in alone.stderr

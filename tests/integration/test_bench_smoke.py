"""The benchmark harness runs at a tiny size, so it cannot rot (its budgets are not asserted
here: speed is measured by bench/, never by timed assertions in tests)."""

import json
import subprocess
import sys

import pytest

from stagingkub.settings import ROOT

pytestmark = pytest.mark.integration

SCENARIOS = (
    "start-up: invoke --list vs import invoke",
    "start-up: heavy imports in invoke --list",
    "converged registry.create",
    "converged cluster.create",
    "diag.all healthy",
    "diag.all with a hung registry",
    "unchanged re-push",
    "unchanged re-deploy",
    "changed re-deploy overhead",
    "registry.ls vs sequential curl",
    "cache: cold vs warm pull",
    "dev cycle overhead",
    "dev idle CPU, native events",
    "dev idle CPU, polling",
    "image.promote of a",
    "image.promote peak RSS",
    "repeated image.promote",
)


def test_bench_harness_runs_at_tiny_size(engine, real_helm, tmp_path):
    report = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--size", "tiny", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(report.read_text())
    assert set(data["machine"]) >= {"cores", "python", "docker"}
    names = [row["scenario"] for row in data["results"]]
    for scenario in SCENARIOS:
        assert any(name.startswith(scenario) for name in names), scenario
    for row in data["results"]:
        assert row["ours"] >= 0 and isinstance(row["passed"], bool)
    assert "| scenario | ours (s) |" in result.stdout
    heavy = next(r for r in data["results"] if r["scenario"].startswith("start-up: heavy"))
    assert heavy["passed"], heavy["note"]  # invoke --list imports no docker, httpx, ruamel

"""Every external read is bounded and ends in one clear paragraph: helm, kubectl, kind and
git driven through STAND-INS on PATH that hang or print garbage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stagingkub import external
from stagingkub.errors import StateError

TOOLS = ("helm", "kubectl", "kind", "git")


@pytest.fixture
def standins(tmp_path, monkeypatch):
    """helm/kubectl/kind/git that hang (STANDIN_MODE=hang) or print garbage."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        script = folder / tool
        script.write_text(
            '#!/bin/sh\n[ "$STANDIN_MODE" = hang ] && exec sleep 30\n'
            "echo '<html>502 Bad Gateway</html>'\n"
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return monkeypatch


def release_spec():
    from stagingkub.release.helm import ReleaseSpec

    return ReleaseSpec(release="rhdemo", chart=Path("helm/rhdemo"), namespace="rhdemo-staging",
                       context="kind-rhdemo", timeout="5m", wait=True, values_files=(),
                       repository="localhost:5000/rhdemo-api", tag="1.0.0")  # fmt: skip


def _calls():
    from stagingkub.cluster import ops
    from stagingkub.release import helm_ops, version

    return {
        "helm status": lambda: helm_ops.release_state(None, release_spec()),
        "helm history": lambda: helm_ops._history(release_spec()),
        "kubectl get pods": lambda: helm_ops.failing_pods(["kubectl"], "rhdemo"),
        "kind version": ops.kind_version,
        "git": lambda: version.git_describe(Path(".")),
    }


@pytest.mark.parametrize("name", ["helm status", "helm history", "kubectl get pods",
                                  "kind version", "git"])  # fmt: skip
def test_a_hanging_tool_ends_in_a_timeout_paragraph(standins, name):
    from stagingkub.cluster import ops
    from stagingkub.release import helm_ops, version

    standins.setenv("STANDIN_MODE", "hang")
    for module, name_ in ((helm_ops, "READ_TIMEOUT"), (ops, "READ_TIMEOUT"),
                          (version, "GIT_TIMEOUT")):  # fmt: skip
        standins.setattr(module, name_, 0.5)
    with pytest.raises(StateError) as error:
        _calls()[name]()
    message = str(error.value)
    assert f"`{name.split()[0]}" in message and "did not answer within 0.5 s" in message


@pytest.mark.parametrize("name", ["helm status", "helm history", "kubectl get pods"])
def test_garbage_instead_of_json_names_the_command(standins, name):
    with pytest.raises(StateError) as error:
        _calls()[name]()
    message = str(error.value)
    assert f"`{name}" in message and "is not JSON" in message and "502 Bad Gateway" in message


def test_a_missing_program_is_named():
    with pytest.raises(StateError, match="is no-such-tool installed"):
        external.read(["no-such-tool", "version"])

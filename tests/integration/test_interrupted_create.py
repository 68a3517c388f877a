"""An interrupted `kind create cluster` (its nodes exist, kind never set the kube context)
is repaired by cluster.create: with the kind and kubectl STAND-INS (they keep the contexts
kind sets, as ~/.kube/config does) and the kind-node STAND-IN."""

import json
import time
from pathlib import Path

import pytest

from tests.support.stack import echoed, fetch

pytestmark = pytest.mark.integration


def drop_context(s) -> None:
    """What an interrupted create leaves (or a lost kubeconfig): no kind-<name> context."""
    path = Path(s.extra_env["STANDIN_STATE"]) / "kubeconfig.json"
    path.write_text(json.dumps([c for c in json.loads(path.read_text())
                                if c != f"kind-{s.cluster}"]))  # fmt: skip


def test_young_nodes_without_a_context_are_re_created(app_stack):
    s = app_stack
    assert s.invoke("cluster.create").returncode == 0
    drop_context(s)
    result = s.invoke("cluster.create")
    assert result.returncode == 0, result.stderr
    commands = echoed(result.stdout)
    assert commands[0] == f"kind delete cluster --name {s.cluster}"
    assert any(c.startswith("env KIND_EXPERIMENTAL_DOCKER_NETWORK=") and "create cluster" in c
               for c in commands)  # fmt: skip
    assert "was interrupted. Re-creating it." in result.stderr
    assert s.invoke("cluster.status").returncode == 0


def test_a_lost_context_of_a_ready_cluster_is_restored(app_stack):
    s = app_stack
    s.write_profile(cluster={"wait": "1s"})
    assert s.invoke("deploy", "--version", "1.0.0").returncode == 0
    time.sleep(1.5)  # older than cluster.wait: the cluster had become ready
    drop_context(s)
    result = s.invoke("cluster.create")
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout) == [f"kind export kubeconfig --name {s.cluster}"]
    assert "restoring it" in result.stderr
    node = f"{s.cluster}-control-plane"
    assert fetch(node, f"localhost:{s.port}/{s.base['image']['name']}:1.0.0").returncode == 0

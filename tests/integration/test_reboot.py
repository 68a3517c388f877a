"""A rebooted host (or `docker stop` of the nodes) comes back with one command: with the
kind, kubectl and helm STAND-INS and the kind-node STAND-IN's real containerd."""

import pytest

from tests.support.stack import docker, echoed, fetch

pytestmark = pytest.mark.integration


def test_stopped_nodes_are_named_and_cluster_create_starts_them(app_stack):
    s = app_stack
    assert s.invoke("deploy", "--version", "1.0.0").returncode == 0
    node = f"{s.cluster}-control-plane"
    docker("stop", "-t", "1", node)
    status = s.invoke("cluster.status")
    assert status.returncode == 1
    assert f"node {node}" in status.stdout and "STOPPED: `invoke cluster.create` starts it" in (
        status.stdout
    )
    k8s = s.invoke("diag.k8s")
    assert k8s.returncode == 1 and f"{node} of {s.cluster} are stopped" in k8s.stdout
    created = s.invoke("cluster.create")
    assert created.returncode == 0, created.stderr
    commands = echoed(created.stdout)
    assert commands[0] == f"docker start {node}"
    assert "starting them" in created.stderr and "its API answers again" in created.stderr
    assert s.invoke("cluster.status").returncode == 0  # the wiring re-checked, and right
    assert fetch(node, f"localhost:{s.port}/{s.base['image']['name']}:1.0.0").returncode == 0

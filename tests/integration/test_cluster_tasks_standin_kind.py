"""Task tests for cluster.create through expect_commands (MockContext), with the kind,
kubectl and kind-node STAND-INS: the exact command sequence, each command really run.
"""

import pytest

from tasks import cluster as cluster_tasks
from tests.integration.test_cluster_standin_kind import apply_line, wiring_lines
from tests.integration.test_registry_create import run_line, volume_line
from tests.support.commands import expect_commands
from tests.support.stack import docker, fetch, node_exec, use_stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def env(kind_stack, monkeypatch):
    return use_stack_settings(kind_stack, monkeypatch)


def create_line(s) -> str:
    config = s.files_dir / s.cluster / "kind-config.yaml"
    return (
        f"env KIND_EXPERIMENTAL_DOCKER_NETWORK={s.network} kind create cluster "
        f"--name {s.cluster} --config {config} --wait 120s"
    )


def wiring(s) -> list[str]:
    return wiring_lines(s, f"{s.cluster}-control-plane")


def connect(s) -> str:
    return f"docker network connect {s.network} {s.name}"


def test_standin_kind_task_sequences_clean_correct_missing_detached(env):
    node = f"{env.cluster}-control-plane"
    # a clean host
    with expect_commands(
        volume_line(env), run_line(env), create_line(env), connect(env), *wiring(env),
        apply_line(env), execute=True,
    ) as c:  # fmt: skip
        cluster_tasks.create(c)
    # an existing cluster with correct wiring: nothing
    with expect_commands(execute=True) as c:
        cluster_tasks.create(c)
    # a node missing its hosts.toml: only that node's files
    node_exec(node, "rm", f"/etc/containerd/certs.d/localhost:{env.port}/hosts.toml")
    with expect_commands(*wiring(env), execute=True) as c:
        cluster_tasks.create(c)
    # a detached registry: reconnected (by the registry step, which runs first)
    docker("network", "disconnect", env.network, env.name)
    with expect_commands(connect(env), execute=True) as c:
        cluster_tasks.create(c)
    assert fetch(node, env.push("9.9.9")).returncode == 0

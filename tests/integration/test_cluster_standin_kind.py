"""cluster.* against the real engine, with the kind and kubectl STAND-INS and the kind-node
STAND-IN (real containerd). The proof is the guide's pull path: containerd in the node
fetches localhost:<port>/rhdemo-api:<tag> through the hosts.toml wiring.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.stack import docker, echoed, fetch, node_exec

pytestmark = pytest.mark.integration


def node(stack, cluster=None) -> str:
    return f"{cluster or stack.cluster}-control-plane"


def wiring_lines(stack, node_name) -> list[str]:
    certs = stack.files_dir / stack.cluster / "certs.d"
    return [
        f"docker exec {node_name} mkdir -p /etc/containerd/certs.d",
        f"docker cp {certs}/. {node_name}:/etc/containerd/certs.d/",
    ]


def apply_line(stack) -> str:
    configmap = stack.files_dir / stack.cluster / "local-registry-hosting.yaml"
    return f"kubectl --context kind-{stack.cluster} apply -f {configmap}"


@pytest.fixture
def cluster(kind_stack):
    result = kind_stack.invoke("cluster.create")
    assert result.returncode == 0, result.stderr
    kind_stack.first_run = result
    return kind_stack


def test_standin_kind_clean_host_gets_registry_cluster_wiring_and_a_working_pull(cluster):
    stack = cluster
    config = stack.files_dir / stack.cluster / "kind-config.yaml"
    commands = echoed(stack.first_run.stdout)
    assert commands[0].startswith("docker volume create")  # the registry first
    assert commands[1].startswith("docker run -d --name " + stack.name)
    assert commands[2:] == [
        f"env KIND_EXPERIMENTAL_DOCKER_NETWORK={stack.network} kind create cluster "
        f"--name {stack.cluster} --config {config} --wait 120s",
        f"docker network connect {stack.network} {stack.name}",
        *wiring_lines(stack, node(stack)),
        apply_line(stack),
    ]
    assert 'config_path = "/etc/containerd/certs.d"' in config.read_text()
    hosts = node_exec(
        node(stack), "cat", f"/etc/containerd/certs.d/localhost:{stack.port}/hosts.toml"
    )
    assert f'[host."http://{stack.name}:5000"]' in hosts.stdout
    by_name = node_exec(node(stack), "cat", f"/etc/containerd/certs.d/{stack.name}:5000/hosts.toml")
    assert by_name.returncode == 0
    reference = stack.push("1.1.0-SNAPSHOT")
    pulled = fetch(node(stack), reference)
    assert pulled.returncode == 0, pulled.stderr


def test_standin_kind_second_run_changes_nothing(cluster):
    again = cluster.invoke("cluster.create")
    assert again.returncode == 0, again.stderr
    assert echoed(again.stdout) == []
    assert "is up to date" in again.stderr
    calls = [json.loads(line) for line in cluster.standin_log.read_text().splitlines()]
    assert sum(1 for call in calls if call[:3] == ["kind", "create", "cluster"]) == 1


def test_standin_kind_a_node_missing_its_hosts_toml_is_repaired_and_the_pull_works_again(cluster):
    reference = cluster.push("1.0.0")
    node_exec(node(cluster), "rm", f"/etc/containerd/certs.d/localhost:{cluster.port}/hosts.toml")
    assert fetch(node(cluster), reference).returncode != 0  # the wiring is what makes it work
    repaired = cluster.invoke("cluster.create")
    assert repaired.returncode == 0, repaired.stderr
    assert echoed(repaired.stdout) == wiring_lines(cluster, node(cluster))
    assert "repaired" in repaired.stderr and f"localhost:{cluster.port}/hosts.toml" in (
        repaired.stderr
    )
    assert fetch(node(cluster), reference).returncode == 0


def test_standin_kind_a_wrong_hosts_toml_is_rewritten(cluster):
    path = f"/etc/containerd/certs.d/localhost:{cluster.port}/hosts.toml"
    node_exec(node(cluster), "sh", "-c", f"echo '[host.\"https://{cluster.name}:5000\"]' > {path}")
    repaired = cluster.invoke("cluster.create")
    assert echoed(repaired.stdout) == wiring_lines(cluster, node(cluster))
    assert "http://" in node_exec(node(cluster), "cat", path).stdout


def test_standin_kind_a_detached_registry_is_reconnected(cluster):
    docker("network", "disconnect", cluster.network, cluster.name)
    repaired = cluster.invoke("cluster.create")
    assert repaired.returncode == 0, repaired.stderr
    # registry.create runs first and reconnects it; the cluster then has nothing to do
    assert echoed(repaired.stdout) == [f"docker network connect {cluster.network} {cluster.name}"]
    assert fetch(node(cluster), cluster.push("1.0.0")).returncode == 0


def test_standin_kind_a_missing_configmap_is_applied_again(cluster):
    store = Path(cluster.extra_env["STANDIN_STATE"]) / f"kind-{cluster.cluster}" / "kube-public"
    (store / "configmap-local-registry-hosting.yaml").unlink()
    repaired = cluster.invoke("cluster.create")
    assert echoed(repaired.stdout) == [apply_line(cluster)]
    assert "applied ConfigMap" in repaired.stderr


def test_standin_kind_after_purge_and_cluster_create_the_pull_works_again(cluster):
    cluster.push("1.0.0")
    purged = cluster.invoke("registry.purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert cluster.catalog() == []
    again = cluster.invoke("cluster.create")
    assert again.returncode == 0, again.stderr
    reference = cluster.push("1.0.1")
    assert fetch(node(cluster), reference).returncode == 0


def test_standin_kind_two_clusters_share_one_registry(cluster):
    other = f"{cluster.cluster}-b"
    second = cluster.invoke("cluster.create", "--name", other)
    assert second.returncode == 0, second.stderr
    assert not any(line.startswith("docker run") for line in echoed(second.stdout))
    reference = cluster.push("2.0.0")
    assert fetch(node(cluster), reference).returncode == 0
    assert fetch(node(cluster, other), reference).returncode == 0


def test_standin_kind_status_reports_wiring_and_fails_when_a_node_is_not_wired(cluster):
    ok = cluster.invoke("cluster.status")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "hosts.toml ok" in ok.stdout and "attached to" in ok.stdout and "present" in ok.stdout
    node_exec(node(cluster), "rm", "-r", f"/etc/containerd/certs.d/localhost:{cluster.port}")
    broken = cluster.invoke("cluster.status")
    assert broken.returncode == 1
    assert "MISSING" in broken.stdout


def test_standin_kind_delete_asks_and_never_touches_the_registry(cluster):
    cluster.push("1.0.0")
    refused = cluster.invoke("cluster.delete")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert docker("inspect", node(cluster), check=False).returncode == 0
    deleted = cluster.invoke("cluster.delete", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert echoed(deleted.stdout) == [f"kind delete cluster --name {cluster.cluster}"]
    assert docker("inspect", node(cluster), check=False).returncode != 0
    assert cluster.healthy() and cluster.tags() == ["1.0.0"]
    assert "nothing to delete" in cluster.invoke("cluster.delete", "--yes").stderr


def test_standin_kind_dry_run_on_a_clean_host_prints_a_script_and_creates_nothing(kind_stack):
    result = kind_stack.invoke("--dry", "cluster.create")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "<<'STAGINGKUB_EOF'" in out and 'config_path = "/etc/containerd/certs.d"' in out
    assert f"kind create cluster --name {kind_stack.cluster}" in out
    assert f"docker exec {node(kind_stack)} mkdir -p /etc/containerd/certs.d" in out
    assert apply_line(kind_stack) in out
    assert not any(line.startswith("+ ") for line in out.splitlines())
    assert not kind_stack.exists()
    assert docker("inspect", node(kind_stack), check=False).returncode != 0
    assert not (kind_stack.files_dir / kind_stack.cluster).exists()


def test_standin_kind_kind_older_than_0_20_with_the_default_wiring_is_refused(kind_stack):
    result = kind_stack.invoke("cluster.create", STANDIN_KIND_VERSION="kind v0.19.0 go1.20")
    assert result.returncode == 1
    assert "older than v0.20" in result.stderr and "cluster.wiring: mirrors" in result.stderr
    assert not any("kind create" in line for line in echoed(result.stdout))


def test_standin_kind_mirrors_wiring_is_refused_with_containerd_2_default_images(kind_stack):
    kind_stack.write_profile(cluster={"wiring": "mirrors"})
    result = kind_stack.invoke("cluster.create")
    assert result.returncode == 1
    assert "containerd 2.x" in result.stderr and "HTTP response to HTTPS client" in result.stderr


def test_standin_kind_mirrors_wiring_only_when_asked_and_never_mixed(kind_stack):
    kind_stack.write_profile(cluster={"wiring": "mirrors"})
    old_kind = {"STANDIN_KIND_VERSION": "kind v0.19.0 go1.20"}
    legacy = kind_stack.invoke("cluster.create", **old_kind)
    assert legacy.returncode == 0, legacy.stderr
    config = node_exec(node(kind_stack), "cat", "/etc/containerd/config.toml").stdout
    assert f'registry.mirrors."localhost:{kind_stack.port}"' in config
    assert "config_path" not in config
    assert not any(line.startswith("docker cp") for line in echoed(legacy.stdout))
    # the same cluster under the default wiring: explained, not patched over
    kind_stack.write_profile()
    refused = kind_stack.invoke("cluster.create")
    assert refused.returncode == 1
    assert "no config_path" in refused.stderr and "cluster.delete" in refused.stderr


@pytest.mark.parametrize(
    ("missing", "hint"), [("kind", "kind.sigs.k8s.io"), ("kubectl", "kubectl")]
)
def test_standin_kind_missing_kind_or_kubectl_is_named_with_how_to_install(
    kind_stack, tmp_path, missing, hint
):
    only = tmp_path / "only-bin"
    only.mkdir()
    standins = Path(kind_stack.extra_env["PATH"].split(os.pathsep)[0])
    (only / "docker").symlink_to(shutil.which("docker"))
    for tool in {"kind", "kubectl"} - {missing}:
        (only / tool).symlink_to(standins / tool)
    result = kind_stack.invoke("cluster.create", PATH=str(only))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{missing}: not found" in result.stderr and hint in result.stderr
    assert "nothing was changed" in result.stderr
    assert echoed(result.stdout) == []  # stopped before any change, the registry included


def test_standin_kind_a_user_kind_config_keeps_its_comments_and_port_mappings(kind_stack, tmp_path):
    user = tmp_path / "my-kind.yaml"
    user.write_text(
        "# team settings\nkind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n"
        "  - role: control-plane  # ingress here\n    extraPortMappings:\n"
        "      - containerPort: 30080\n        hostPort: 18080\n"
    )
    kind_stack.write_profile(cluster={"config_file": str(user)})
    result = kind_stack.invoke("cluster.create")
    assert result.returncode == 0, result.stderr
    written = (kind_stack.files_dir / kind_stack.cluster / "kind-config.yaml").read_text()
    assert "# team settings" in written and "# ingress here" in written
    assert "hostPort: 18080" in written and "config_path" in written
    assert fetch(node(kind_stack), kind_stack.push("3.0.0")).returncode == 0

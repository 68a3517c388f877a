"""The scenarios of issue 32 against a REAL kind cluster: the real kind CLI, a node image with
the real kubelet, API server and containerd 2.x (built here by `uv run nox -s kind_node`),
real helm and kubectl. One cluster serves the module; the tests run in file order.

What a stand-in imitates elsewhere (tests/integration) is proven here once on the real
thing: the kubelet's pull through hosts.toml, its events, helm's release states, rollouts."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.e2e import real
from tests.e2e.real import kubectl
from tests.support.dev_process import DevProcess
from tests.support.stack import docker

pytestmark = pytest.mark.e2e

VERSION = "0.1.0"


def deploy(stack, *args: str, version: str = VERSION):
    result = stack.invoke("deploy", "--version", version, *args, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def change_page(stack, text: str) -> None:
    index = stack.app_dir / "www" / "index.html"
    index.write_text(index.read_text().replace("</body>", f"<p>{text}</p></body>", 1))


def node(stack) -> str:
    return f"{stack.cluster}-control-plane"


def reference(stack, version: str = VERSION) -> str:
    return f"localhost:{stack.port}/{stack.demo_image}:{version}"


def test_1_deploy_from_nothing_runs_the_digest_the_registry_holds(shared):
    deploy(shared)
    digest = real.registry_digest(shared, shared.demo_image, VERSION)
    pod = real.wait_ready_pod(shared, digest=digest)
    assert real.image_id(pod).endswith(f"@{digest}")
    assert "stagingkub demo app" in real.page(shared)


def test_2_a_change_rolls_a_new_pod_and_an_unchanged_deploy_changes_nothing(shared):
    deploy(shared)
    before = real.wait_ready_pod(shared)
    change_page(shared, "change two")
    deploy(shared)
    digest = real.registry_digest(shared, shared.demo_image, VERSION)
    after = real.wait_ready_pod(shared, digest=digest)
    assert after["metadata"]["name"] != before["metadata"]["name"]
    assert "change two" in real.page(shared)

    sets, revisions = real.replica_sets(shared), real.helm_revisions(shared)
    unchanged = deploy(shared)
    assert not [line for line in unchanged.stdout.splitlines() if line.startswith("+ ")]
    assert real.replica_sets(shared) == sets
    assert real.helm_revisions(shared) == revisions
    assert real.wait_ready_pod(shared)["metadata"]["name"] == after["metadata"]["name"]


def test_3_dev_serves_a_save_ignores_a_touch_and_leaves_the_release_deployed(shared):
    deploy(shared)
    dev = DevProcess(shared.env(), "--version", VERSION, "--logs=off")
    try:
        dev.wait_for(r"^running .*; ready .* after dev started", timeout=600)
        sets = real.replica_sets(shared)
        since = len(dev.err)
        change_page(shared, "saved under dev")
        dev.wait_for(r"^running .*\(new\)", timeout=600, since=since)
        digest = real.registry_digest(shared, shared.demo_image, VERSION)
        real.wait_ready_pod(shared, digest=digest)
        assert "saved under dev" in real.page(shared)

        sets, revisions = real.replica_sets(shared), real.helm_revisions(shared)
        since = len(dev.err)
        (shared.app_dir / "www" / "index.html").touch()
        dev.wait_for(r"^no input changed", timeout=60, since=since)
        assert real.replica_sets(shared) == sets and real.helm_revisions(shared) == revisions
        assert dev.stop(signal.SIGINT) == 130
    finally:
        dev.kill()
    assert real.helm_revisions(shared)[-1]["status"] == "deployed"


def _broken_pull(stack, break_it, repair: list[str], words: str) -> None:
    """Break the pull path, make the pod pull again, check the diagnostics name the cause
    from the real kubelet's events, repair with the tool, and check the pod comes back."""
    deploy(stack)
    break_it()
    real.forget_image(stack, node(stack), reference(stack))
    real.restart_pods(stack)
    real.wait_pull_failure(stack)
    for check in (("diag.k8s",), ("diag.pull", "--version", VERSION)):
        found = stack.invoke(*check, timeout=300)
        assert found.returncode != 0 and words in found.stdout + found.stderr, (
            check, found.stdout[-2000:], found.stderr[-2000:])  # fmt: skip
    fixed = stack.invoke(*repair, timeout=600)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    deploy(stack)
    real.restart_pods(stack)  # not waiting for the kubelet's back-off
    real.wait_ready_pod(stack)


def test_4a_a_tag_deleted_from_the_registry(shared):
    def delete_tag():
        digest = real.registry_digest(shared, shared.demo_image, VERSION)
        httpx.delete(f"{shared.url}/v2/{shared.demo_image}/manifests/{digest}",
                     timeout=10).raise_for_status()  # fmt: skip

    _broken_pull(shared, delete_tag, ["image.push", "--version", VERSION], "not found")


def test_4b_the_registry_detached_from_the_kind_network(shared):
    def detach():
        docker("network", "disconnect", shared.network, shared.name)

    _broken_pull(shared, detach, ["registry.create"], "the registry is not on the kind network")


def test_4c_the_nodes_hosts_toml_removed(shared):
    def remove_hosts_toml():
        docker("exec", node(shared), "rm", "-f",
               f"/etc/containerd/certs.d/localhost:{shared.port}/hosts.toml")  # fmt: skip

    _broken_pull(shared, remove_hosts_toml, ["cluster.create"], "cluster.create")


def test_5_after_prune_and_gc_a_rollback_to_the_first_revision_pulls_and_is_ready(shared):
    shared.base["deploy"]["release"] = "rollback"
    shared.write_profile()
    try:
        digests = []
        for number in range(3):
            change_page(shared, f"rollback {number}")
            deploy(shared, version=f"1.0.{number}")
            digests.append(real.registry_digest(shared, shared.demo_image, f"1.0.{number}"))
        assert shared.invoke("registry.prune", "--keep", "1", "--yes").returncode == 0
        assert shared.invoke("registry.gc", "--yes", timeout=300).returncode == 0
        real.forget_image(shared, node(shared), reference(shared, "1.0.0"))
        real.run(shared, "helm", "rollback", "rollback", "1", "--wait", "--timeout", "3m",
                 "-n", real.NAMESPACE, "--kube-context", f"kind-{shared.cluster}",
                 timeout=300, check=True)  # fmt: skip
        real.wait_ready_pod(shared, release="rollback", digest=digests[0])
    finally:
        real.run(shared, "helm", "uninstall", "rollback", "-n", real.NAMESPACE,
                 "--kube-context", f"kind-{shared.cluster}", "--wait")  # fmt: skip
        del shared.base["deploy"]["release"]
        shared.write_profile()


def test_6_after_registry_purge_the_cluster_pulls_from_the_new_registry(shared):
    deploy(shared)
    purged = shared.invoke("registry.purge", "--yes", timeout=300)
    assert purged.returncode == 0, purged.stderr
    assert shared.catalog() == []
    deploy(shared)
    digest = real.registry_digest(shared, shared.demo_image, VERSION)
    real.forget_image(shared, node(shared), reference(shared))
    real.restart_pods(shared)
    real.wait_ready_pod(shared, digest=digest)


def test_8_promote_reads_readiness_from_the_real_api_server(shared, tmp_path, registry_image):
    """The target: a TLS + htpasswd registry on 127.0.0.2, as in tests/integration."""
    from tests.integration.test_external_profile import HOST, PASSWORD, external_registry

    deploy(shared)
    target = external_registry(tmp_path / "external", registry_image, HOST)
    try:
        profile = tmp_path / "target.yaml"
        profile.write_text(
            f"registry:\n  mode: external\n  host: '{HOST}'\n  port: {target.port}\n"
            f"  project: team\n  username: ci\n  ca_file: '{target.ca}'\n"
            f"cluster:\n  name: {shared.cluster}\n  files_dir: '{shared.files_dir}'\n"
            f"image:\n  name: {shared.demo_image}\n"
        )
        env = {"STAGINGKUB_PROMOTE_USERNAME": "ci", "STAGINGKUB_PROMOTE_PASSWORD": PASSWORD}
        promoted = shared.invoke("image.promote", "--version", VERSION, "--to", str(profile),
                                 **env)  # fmt: skip
        assert promoted.returncode == 0, promoted.stderr
        assert "staging runs it with 1 pod(s) Ready" in promoted.stderr
        kubectl(shared, "set", "image", "deployment/rhdemo", "rhdemo-api=localhost:1/missing:0")
        real.wait_pull_failure(shared)
        blocked = shared.invoke("image.promote", "--version", VERSION, "--to", str(profile),
                                "--to-tag", "blocked", **env)  # fmt: skip
        assert blocked.returncode == 1 and "not Ready" in blocked.stderr, blocked.stderr
    finally:
        kubectl(shared, "rollout", "undo", "deployment/rhdemo", check=False)
        target.cleanup()


def test_9_diag_all_on_the_healthy_real_cluster_is_all_ok(shared):
    deploy(shared)
    real.wait_ready_pod(shared)
    result = shared.invoke("diag.all", "--version", VERSION, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN" not in result.stdout and "FAIL" not in result.stdout, result.stdout


def test_7_two_nodes_and_a_second_cluster_on_one_registry(shared):
    deploy(shared)
    first, second = shared.cluster, f"{shared.cluster}2"
    shared.cluster = second
    shared.base["cluster"]["nodes"] = "[control-plane, worker]"
    try:
        shared.write_profile()
        created = shared.invoke("cluster.create", timeout=900)
        assert created.returncode == 0, created.stderr[-3000:]
        for name in (f"{second}-control-plane", f"{second}-worker", f"{first}-control-plane"):
            pulled = docker("exec", name, "crictl", "pull", reference(shared), check=False,
                            timeout=180)  # fmt: skip
            assert pulled.returncode == 0, (name, pulled.stderr)
        status = shared.invoke("cluster.status")
        assert status.returncode == 0 and f"{second}-worker" in status.stdout + status.stderr
        assert shared.invoke("diag.all", timeout=300).returncode == 0
        docker("restart", f"{second}-worker", timeout=120)
        again = shared.invoke("cluster.create", timeout=900)
        assert again.returncode == 0, again.stderr[-3000:]
        real.wait_nodes_ready(shared, second, 2)  # the kubelet's own time to say Ready
    finally:
        real.delete_cluster(shared, second)
        shared.cluster = first
        shared.base["cluster"].pop("nodes")
        shared.write_profile()


def test_10_a_cluster_made_by_kinds_own_registry_recipe_is_wired_not_recreated(shared, tmp_path):
    """kind's documented local-registry setup for containerd 2.x: no containerd patch (its
    default config_path reads /etc/containerd/certs.d), hosts.toml written into the node."""
    first, own = shared.cluster, f"{shared.cluster}k"
    kind_config = tmp_path / "kind.yaml"
    kind_config.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n")
    node_image = shared.base["cluster"]["node_image"]
    made = real.run(shared, "env", f"KIND_EXPERIMENTAL_DOCKER_NETWORK={shared.network}", "kind",
                    "create", "cluster", "--name", own, "--image", node_image, "--config",
                    str(kind_config), "--wait", "300s", timeout=900)  # fmt: skip
    try:
        assert made.returncode == 0, made.stderr[-3000:]
        hosts = f"/etc/containerd/certs.d/localhost:{shared.port}"
        docker("exec", f"{own}-control-plane", "mkdir", "-p", hosts)
        docker("exec", "-i", f"{own}-control-plane", "cp", "/dev/stdin", f"{hosts}/hosts.toml",
               stdin=f'[host."http://{shared.name}:5000"]\n')  # fmt: skip
        before = docker("inspect", "-f", "{{.Id}}", f"{own}-control-plane").stdout
        shared.cluster = own
        shared.write_profile()
        wired = shared.invoke("cluster.create", timeout=900)
        assert wired.returncode == 0, wired.stderr[-3000:]
        assert docker("inspect", "-f", "{{.Id}}", f"{own}-control-plane").stdout == before
        assert "kind create cluster" not in wired.stdout
        pulled = docker("exec", f"{own}-control-plane", "crictl", "pull", reference(shared),
                        check=False, timeout=180)  # fmt: skip
        assert pulled.returncode == 0, pulled.stderr
    finally:
        real.delete_cluster(shared, own)
        shared.cluster = first
        shared.write_profile()

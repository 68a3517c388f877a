"""End to end against REAL kind, kubectl and kindest/node (containerd 2.x), for machines with
internet: the integration scenario of tests/integration/test_cluster.py without stand-ins.

Opt-in: STAGINGKUB_E2E=1 (the GitHub Actions workflow .github/workflows/e2e.yml sets it).
It uses its own registry name, port, network and cluster name, and deletes them.
"""

import os
import shutil
import subprocess

import pytest

from tests.support.stack import RUN_ID, Stack, docker

pytestmark = pytest.mark.e2e

REASON = (
    "e2e needs real kind, kubectl and internet access (kindest/node, registry:2); set "
    "STAGINGKUB_E2E=1 on such a machine. These development machines have none of them."
)


@pytest.fixture
def real(tmp_path):
    if os.environ.get("STAGINGKUB_E2E") != "1" or not all(
        shutil.which(tool) for tool in ("kind", "kubectl", "docker")
    ):
        pytest.skip(REASON)
    stack = Stack(tmp=tmp_path, image="registry:2")
    yield stack
    subprocess.run(["kind", "delete", "cluster", "--name", stack.cluster], timeout=300)
    docker("rm", "-f", "-v", stack.name, check=False)
    docker("volume", "rm", stack.volume, check=False)
    docker("network", "rm", stack.network, check=False)


def crictl_pull(node: str, reference: str) -> subprocess.CompletedProcess:
    docker("exec", node, "crictl", "rmi", reference, check=False)
    return docker("exec", node, "crictl", "pull", reference, check=False, timeout=180)


def test_real_kind_pulls_through_the_hosts_toml_wiring(real):
    created = real.invoke("cluster.create")
    assert created.returncode == 0, created.stderr
    node = f"{real.cluster}-control-plane"
    reference = real.push(f"e2e-{RUN_ID}")
    assert crictl_pull(node, reference).returncode == 0

    docker("exec", node, "rm", f"/etc/containerd/certs.d/localhost:{real.port}/hosts.toml")
    assert crictl_pull(node, reference).returncode != 0
    assert real.invoke("cluster.create").returncode == 0
    assert crictl_pull(node, reference).returncode == 0

    assert real.invoke("registry.purge", "--yes").returncode == 0
    assert real.invoke("cluster.create").returncode == 0
    reference = real.push(f"e2e-{RUN_ID}-2")
    assert crictl_pull(node, reference).returncode == 0

    configmap = subprocess.run(
        ["kubectl", "--context", f"kind-{real.cluster}", "-n", "kube-public", "get",
         "configmap", "local-registry-hosting", "-o", "yaml"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert f"localhost:{real.port}" in configmap.stdout


def test_real_kind_pulls_from_the_tls_and_htpasswd_registry(real, tmp_path):
    password = f"e2e-pw-{RUN_ID}"
    real.extra_env.update(STAGINGKUB_REGISTRY_PASSWORD=password,
                          DOCKER_CONFIG=str(tmp_path / "docker-config"))  # fmt: skip
    real.write_profile(tls=True, auth=True, username="ci",
                       docker_certs_dir=str(tmp_path / "certs.d"))  # fmt: skip
    created = real.invoke("cluster.create")
    assert created.returncode == 0, created.stderr
    reference = f"localhost:{real.port}/rhdemo-api:e2e-{RUN_ID}-tls"
    docker("pull", "busybox:1.36", timeout=180)
    docker("tag", "busybox:1.36", reference)
    env = {"DOCKER_CONFIG": real.extra_env["DOCKER_CONFIG"]}
    docker("login", f"localhost:{real.port}", "--username", "ci", "--password-stdin",
           env=env, stdin=password)  # fmt: skip
    docker("push", reference, env=env, timeout=180)
    node = f"{real.cluster}-control-plane"
    # containerd 2.x in kindest/node: https://kind-registry:5000 trusted through `ca`,
    # logged in through the hosts.toml header, no credentials passed by crictl
    assert crictl_pull(node, reference).returncode == 0
    for check in ("diag.network", "diag.containerd", "diag.pull"):
        result = real.invoke(check, *(["--version", f"e2e-{RUN_ID}-tls"] * (check == "diag.pull")))
        assert result.returncode == 0, (check, result.stdout)

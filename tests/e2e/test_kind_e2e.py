"""The registry wiring against a REAL kind cluster of its own (tests/e2e/real.py says what it
needs): the hosts.toml path through cluster.create, its repair and registry.purge, the
KEP-1755 ConfigMap, and a TLS + htpasswd registry that containerd 2.x trusts through `ca`
and logs in to through the hosts.toml header. Nothing is pulled from the internet: the
images are the run's own (busybox:1.36 here or its stand-in, registry:2 or its stand-in).
"""

import subprocess

import pytest

from tests.e2e import real as cluster
from tests.e2e.conftest import demo_stack, remove
from tests.support.stack import RUN_ID, docker

pytestmark = pytest.mark.e2e


@pytest.fixture
def real(tmp_path, registry_image, busybox_image, real_tools):
    stack = demo_stack(tmp_path, registry_image, real_tools)
    yield stack
    remove(stack)


def crictl_pull(node: str, reference: str) -> subprocess.CompletedProcess:
    docker("exec", node, "crictl", "rmi", reference, check=False)
    return docker("exec", node, "crictl", "pull", reference, check=False, timeout=180)


def push_busybox(stack, tag: str, **env: str) -> str:
    reference = f"localhost:{stack.port}/{stack.demo_image}:{tag}"
    docker("tag", "busybox:1.36", reference)
    docker("push", reference, env=env or None, timeout=180)
    return reference


def test_real_kind_pulls_through_the_hosts_toml_wiring(real):
    created = real.invoke("cluster.create", timeout=900)
    assert created.returncode == 0, created.stderr
    node = f"{real.cluster}-control-plane"
    reference = push_busybox(real, f"e2e-{RUN_ID}")
    assert crictl_pull(node, reference).returncode == 0

    docker("exec", node, "rm", f"/etc/containerd/certs.d/localhost:{real.port}/hosts.toml")
    assert crictl_pull(node, reference).returncode != 0
    assert real.invoke("cluster.create", timeout=900).returncode == 0
    assert crictl_pull(node, reference).returncode == 0

    assert real.invoke("registry.purge", "--yes").returncode == 0
    assert real.invoke("cluster.create", timeout=900).returncode == 0
    reference = push_busybox(real, f"e2e-{RUN_ID}-2")
    assert crictl_pull(node, reference).returncode == 0

    configmap = cluster.run(real, "kubectl", "--context", f"kind-{real.cluster}", "-n",
                            "kube-public", "get", "configmap", "local-registry-hosting", "-o",
                            "yaml", check=True)  # fmt: skip
    assert f"localhost:{real.port}" in configmap.stdout


def test_real_kind_pulls_from_the_tls_and_htpasswd_registry(real, tmp_path):
    password = f"e2e-pw-{RUN_ID}"
    real.extra_env.update(STAGINGKUB_REGISTRY_PASSWORD=password,
                          DOCKER_CONFIG=str(tmp_path / "docker-config"))  # fmt: skip
    real.write_profile(tls=True, auth=True, username="ci",
                       docker_certs_dir=str(tmp_path / "certs.d"))  # fmt: skip
    created = real.invoke("cluster.create", timeout=900)
    assert created.returncode == 0, created.stderr
    env = {"DOCKER_CONFIG": real.extra_env["DOCKER_CONFIG"]}
    docker("login", f"localhost:{real.port}", "--username", "ci", "--password-stdin",
           env=env, stdin=password)  # fmt: skip
    reference = push_busybox(real, f"e2e-{RUN_ID}-tls", **env)
    node = f"{real.cluster}-control-plane"
    # containerd 2.x: https://<registry>:5000 trusted through `ca`, logged in through the
    # hosts.toml header, no credentials passed by crictl
    assert crictl_pull(node, reference).returncode == 0
    for check in ("diag.network", "diag.containerd", "diag.pull"):
        result = real.invoke(check, *(["--version", f"e2e-{RUN_ID}-tls"] * (check == "diag.pull")))
        assert result.returncode == 0, (check, result.stdout)

"""End to end against REAL kind, kubectl and kindest/node (containerd 2.x), for machines with
internet: the scenarios of tests/integration/test_cluster_standin_kind.py and
test_daily_loop.py without stand-ins.

Opt-in: STAGINGKUB_E2E=1 (the GitHub Actions workflow .github/workflows/e2e.yml sets it).
It uses its own registry name, port, network and cluster name, and deletes them.
"""

import json
import os
import shutil
import subprocess
import time

import httpx
import pytest

from stagingkub.settings import ROOT
from tests.support.stack import RUN_ID, Stack, docker, free_port

pytestmark = pytest.mark.e2e

REASON = (
    "e2e needs real kind, kubectl and internet access (kindest/node, registry:2); set "
    "STAGINGKUB_E2E=1 on such a machine. These development machines have none of them."
)


@pytest.fixture
def real(tmp_path):
    missing = [t for t in ("kind", "kubectl", "helm", "docker") if shutil.which(t) is None]
    if os.environ.get("STAGINGKUB_E2E") != "1" or missing:
        pytest.skip(f"{REASON} Missing here: {', '.join(missing) or 'none'}.")
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


def app_pods(stack) -> list[dict]:
    result = subprocess.run(
        ["kubectl", "--context", f"kind-{stack.cluster}", "-n", "rhdemo-staging", "get", "pods",
         "-l", "app.kubernetes.io/instance=rhdemo", "-o", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    running = [p for p in json.loads(result.stdout)["items"]
               if not p["metadata"].get("deletionTimestamp")]  # fmt: skip
    return running


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod["status"].get("conditions") or [])  # fmt: skip


def page(stack) -> str:
    """GET / through `kubectl port-forward` (bounded)."""
    port = free_port()
    forward = subprocess.Popen(
        ["kubectl", "--context", f"kind-{stack.cluster}", "-n", "rhdemo-staging",
         "port-forward", "svc/rhdemo", f"{port}:80"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
            except (OSError, httpx.HTTPError):
                assert time.monotonic() < deadline, "port-forward never answered"
                time.sleep(0.5)
    finally:
        forward.terminate()
        forward.wait(10)


def test_real_kind_daily_loop_rolls_a_change_and_keeps_the_pod_when_nothing_changed(real, tmp_path):
    app = tmp_path / "demo-app"
    shutil.copytree(ROOT / "examples" / "demo-app", app)
    name = f"e2e-{RUN_ID}-demo"
    real.base.update(
        image={"strategy": "dockerfile", "app_dir": str(app), "name": name},
        deploy={"values_file": str(ROOT / "examples/demo-app/values.yaml"), "timeout": "3m"},
    )
    real.write_profile()
    version = "1.1.0-SNAPSHOT"
    first = real.invoke("deploy", "--version", version, timeout=600)
    assert first.returncode == 0, first.stderr
    [pod1] = app_pods(real)
    assert ready(pod1)  # a real rollout: kubelet pulled through hosts.toml, probes passed
    before = page(real)

    index = app / "www" / "index.html"
    index.write_text(index.read_text().replace("</body>", f"<p>e2e {RUN_ID}</p></body>"))
    second = real.invoke("deploy", "--version", version, timeout=600)
    assert second.returncode == 0, second.stderr
    digest = httpx.head(
        f"{real.url}/v2/{name}/manifests/{version}", timeout=10,
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                 "application/vnd.oci.image.manifest.v1+json"},
    ).headers["Docker-Content-Digest"]  # fmt: skip
    [pod2] = app_pods(real)
    assert ready(pod2) and pod2["metadata"]["name"] != pod1["metadata"]["name"]
    assert pod2["status"]["containerStatuses"][0]["imageID"].endswith(digest)
    after = page(real)
    assert after != before and f"e2e {RUN_ID}" in after

    third = real.invoke("deploy", "--version", version, timeout=600)
    assert third.returncode == 0, third.stderr
    assert not [line for line in third.stdout.splitlines() if line.startswith("+ ")]
    [pod3] = app_pods(real)
    assert pod3["metadata"]["name"] == pod2["metadata"]["name"]
    assert pod3["status"]["containerStatuses"][0]["restartCount"] == 0
    docker("rmi", f"{name}:{version}", f"localhost:{real.port}/{name}:{version}", check=False)

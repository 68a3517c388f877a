"""registry.tls and registry.auth with a real registry, Docker CLI and containerd.

The registry serves HTTPS with the CA the tool generates and asks for htpasswd
logins (bcrypt) made from the password in the environment. Docker logs in through
stdin; the kind-node STAND-IN's real containerd pulls through hosts.toml (`ca` and
the Authorization header); the kind, kubectl and helm STAND-INS stand for kind and
a Kubernetes API server.
"""

from __future__ import annotations

import json
import os
import ssl
import stat
from pathlib import Path

import httpx
import pytest

from tests.support.stack import Stack, docker, echoed, fetch, node_exec

pytestmark = pytest.mark.integration

PASSWORD = "Tls-auth-pw-4711"


def secure(s: Stack, **more: object) -> Stack:
    s.extra_env.update(
        STAGINGKUB_REGISTRY_PASSWORD=PASSWORD, DOCKER_CONFIG=str(s.tmp / "docker-config")
    )
    s.certs = s.tmp / "docker-certs.d"
    s.write_profile(tls=True, auth=True, username="ci", docker_certs_dir=str(s.certs), **more)
    return s


def files(s: Stack) -> Path:
    return s.files_dir / f"registry-{s.name}"


def https(s: Stack, path: str = "/v2/", auth=None) -> httpx.Response:
    ca = ssl.create_default_context(cafile=str(files(s) / "ca.crt"))
    return httpx.get(f"https://localhost:{s.port}{path}", verify=ca, auth=auth, timeout=10)


def created(s: Stack) -> Stack:
    result = s.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    return s


def test_tls_and_auth_answer_401_without_credentials_and_200_with_them(stack):
    s = created(secure(stack))
    assert https(s).status_code == 401
    assert https(s, auth=("ci", PASSWORD)).status_code == 200
    assert https(s, auth=("ci", "wrong")).status_code == 401
    with pytest.raises(httpx.HTTPError):  # plain HTTP is not served any more
        httpx.get(f"http://127.0.0.1:{s.port}/v2/", timeout=5).raise_for_status()
    for private in ("ca.key", "server.key", "htpasswd"):
        assert stat.S_IMODE(os.stat(files(s) / private).st_mode) == 0o600
    assert PASSWORD not in (files(s) / "htpasswd").read_text()
    trusted = s.certs / f"localhost:{s.port}" / "ca.crt"
    assert trusted.read_text() == (files(s) / "ca.crt").read_text()
    status = s.invoke("registry.status")
    assert status.returncode == 0 and "HTTP 401" in status.stdout
    again = s.invoke("registry.create")
    assert again.returncode == 0 and "Nothing to do" in again.stderr


def test_registry_3_serves_tls_and_htpasswd_and_takes_a_push(tmp_path, registry3_image):
    s = Stack(tmp=tmp_path, image=registry3_image)  # registry.image: registry:3
    try:
        created(secure(s))
        assert https(s).status_code == 401
        assert https(s, auth=("ci", PASSWORD)).status_code == 200
        version = f"3.0.0-{s.prefix}"
        _local_image(s, f"rhdemo-api:{version}")
        result = s.invoke("image.push", "--version", version)
        assert result.returncode == 0, result.stderr
        tags = https(s, "/v2/rhdemo-api/tags/list", auth=("ci", PASSWORD)).json()["tags"]
        assert tags == [version]
    finally:
        s.cleanup()


def test_push_logs_in_through_stdin_and_pulls_need_the_credentials(stack, tmp_path):
    s = created(secure(stack))
    version = f"7.0.0-{s.prefix}"
    local = f"rhdemo-api:{version}"
    _local_image(s, local)
    result = s.invoke("image.push", "--version", version)
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout)[0] == (
        f"docker login localhost:{s.port} --username ci --password-stdin"
    )
    assert PASSWORD not in result.stdout + result.stderr
    remote = f"localhost:{s.port}/{local}"
    docker("rmi", remote)
    with_login = docker("pull", remote, check=False, timeout=120,
                        env={"DOCKER_CONFIG": s.extra_env["DOCKER_CONFIG"]})  # fmt: skip
    assert with_login.returncode == 0, with_login.stderr
    docker("rmi", remote)
    anonymous = docker("pull", remote, check=False, timeout=120,
                       env={"DOCKER_CONFIG": str(tmp_path / "empty")})  # fmt: skip
    assert anonymous.returncode != 0  # docker's words vary: 401, then its HTTP fallback
    assert docker("image", "inspect", remote, check=False).returncode != 0


def test_a_new_password_rewrites_htpasswd_and_restarts_the_registry(stack):
    s = created(secure(stack))
    s.extra_env["STAGINGKUB_REGISTRY_PASSWORD"] = "Second-pw-0815"
    result = s.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    assert f"docker restart {s.name}" in echoed(result.stdout)
    assert https(s, auth=("ci", PASSWORD)).status_code == 401
    assert https(s, auth=("ci", "Second-pw-0815")).status_code == 200


def test_turning_tls_on_needs_recreate_and_keeps_the_images(stack):
    s = stack
    assert s.invoke("registry.create").returncode == 0
    s.push("1.0.0")
    secure(s)
    refused = s.invoke("registry.create")
    assert refused.returncode == 1
    assert "TLS is off, settings want it on" in refused.stderr and "--recreate" in refused.stderr
    switched = s.invoke("registry.create", "--recreate")
    assert switched.returncode == 0, switched.stderr
    tags = https(s, "/v2/rhdemo-api/tags/list", auth=("ci", PASSWORD))
    assert tags.json()["tags"] == ["1.0.0"]


def test_auth_without_a_password_is_explained_before_anything_runs(stack):
    s = secure(stack)
    del s.extra_env["STAGINGKUB_REGISTRY_PASSWORD"]
    result = s.invoke("registry.create")
    assert result.returncode == 1 and "STAGINGKUB_REGISTRY_PASSWORD" in result.stderr
    assert echoed(result.stdout) == [] and not s.exists()


def test_kind_nodes_trust_the_ca_and_log_in_through_hosts_toml(kind_stack):
    s = created(secure(kind_stack))
    reference = _push_secure(s, "1.0.0")
    result = s.invoke("cluster.create")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    node = f"{s.cluster}-control-plane"
    hosts = node_exec(node, "cat", f"/etc/containerd/certs.d/localhost:{s.port}/hosts.toml")
    assert f'[host."https://{s.name}:5000"]' in hosts.stdout
    assert f'ca = "/etc/containerd/certs.d/localhost:{s.port}/ca.crt"' in hosts.stdout
    assert "authorization" in hosts.stdout
    local = s.files_dir / s.cluster / "certs.d" / f"localhost:{s.port}" / "hosts.toml"
    assert stat.S_IMODE(os.stat(local).st_mode) == 0o600
    pulled = fetch(node, reference)
    assert pulled.returncode == 0, pulled.stderr
    converged = s.invoke("cluster.create")
    assert converged.returncode == 0 and "Nothing to do" in converged.stderr
    for check in ("diag.network", "diag.containerd", "diag.registry"):
        healthy = s.invoke(check)
        assert healthy.returncode == 0, (check, healthy.stdout)
    node_exec(node, "rm", f"/etc/containerd/certs.d/localhost:{s.port}/ca.crt")
    broken = s.invoke("diag.containerd")
    assert broken.returncode == 1 and "not the registry's CA" in broken.stdout
    repaired = s.invoke("cluster.create")
    assert repaired.returncode == 0 and "ca.crt" in repaired.stderr
    assert fetch(node, reference).returncode == 0


def test_dry_runs_of_a_secure_setup_print_no_secret(kind_stack):
    s = created(secure(kind_stack))
    result = s.invoke("--dry", "cluster.create")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert '"$STAGINGKUB_REGISTRY_PASSWORD"' in result.stdout
    assert "umask 077" in result.stdout


def test_deploy_with_auth_gives_the_pods_an_image_pull_secret(app_stack):
    s = app_stack
    secure(s)
    result = s.invoke("deploy", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    apply = [c for c in echoed(result.stdout) if c.endswith("apply -f -")]
    assert apply == [f"kubectl --context kind-{s.cluster} apply -f -"]
    stored = s.tmp / "kubectl-state" / f"kind-{s.cluster}" / "rhdemo-staging"
    secret = json.loads((stored / "secret-rhdemo-registry.yaml").read_text())
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    rendered = next((s.tmp / "kubectl-state" / "helm").rglob("rhdemo.yaml")).read_text()
    assert "imagePullSecrets" in rendered and "rhdemo-registry" in rendered


def _local_image(s: Stack, reference: str) -> None:
    from tests.support import images
    from tests.support.stack import LABELS

    images.build_app_image(reference, LABELS, content=reference)


def _push_secure(s: Stack, tag: str) -> str:
    """Log in (stdin) and push a test image to the secure registry with the Docker CLI."""
    reference = f"localhost:{s.port}/rhdemo-api:{tag}"
    _local_image(s, reference)
    env = {"DOCKER_CONFIG": s.extra_env["DOCKER_CONFIG"]}
    login = docker("login", f"localhost:{s.port}", "--username", "ci", "--password-stdin",
                   check=False, env=env, stdin=PASSWORD)  # fmt: skip
    assert login.returncode == 0, login.stderr
    docker("push", reference, timeout=120, env=env)
    return reference

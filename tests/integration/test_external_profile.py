"""Outgrowing one machine: an external registry and an existing cluster.

The "external" registry is a real registry with TLS and htpasswd on 127.0.0.2,
made by stagingkub under its own test profile; the deploying profile only knows
its host, project, CA and credentials. The "existing" cluster is one the kind
STAND-IN made beforehand; deploy must not create or wire anything itself.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys

import httpx
import pytest

from tests.support.stack import STANDINS, Stack, echoed

pytestmark = pytest.mark.integration

PASSWORD = "Ext-registry-pw-90210"
HOST = "127.0.0.2"


def external_registry(folder, image: str, host: str):
    """A registry with TLS and auth bound to 127.0.0.2, its certificate also for host."""
    folder.mkdir()
    ext = Stack(tmp=folder, image=image)
    ext.extra_env["STAGINGKUB_REGISTRY_PASSWORD"] = PASSWORD
    ext.write_profile(tls=True, auth=True, username="ci", host=host, bind_address=HOST,
                      docker_certs_dir=str(ext.tmp / "certs"))  # fmt: skip
    result = ext.invoke("registry.create")
    assert result.returncode == 0, result.stderr
    ext.ca = ext.files_dir / f"registry-{ext.name}" / "ca.crt"
    return ext


@pytest.fixture
def external(tmp_path, registry_image):
    """A registry with TLS and auth on 127.0.0.2 (another address than the tool's default)."""
    ext = external_registry(tmp_path / "external", registry_image, HOST)
    yield ext
    ext.cleanup()


def existing_cluster(s: Stack) -> str:
    """A cluster made outside this tool (by the kind STAND-IN directly)."""
    made = subprocess.run(
        [sys.executable, str(STANDINS / "kind_standin.py"), "create", "cluster",
         "--name", s.cluster],
        env=s.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    s.standin_log.unlink(missing_ok=True)
    return f"kind-{s.cluster}"


def external_profile(s: Stack, ext: Stack, context: str) -> None:
    s.write_profile(mode="external", host=HOST, port=ext.port, project="team",
                    username="ci", ca_file=str(ext.ca),
                    cluster={"mode": "existing", "context": context})  # fmt: skip
    s.extra_env.update(STAGINGKUB_REGISTRY_PASSWORD=PASSWORD, STANDIN_HELM_PULL="0",
                       DOCKER_CONFIG=str(s.tmp / "docker-config"))  # fmt: skip


def test_deploy_skips_registry_and_cluster_creation_logs_in_pushes_and_deploys(app_stack, external):
    s = app_stack
    context = existing_cluster(s)
    external_profile(s, external, context)
    result = s.invoke("deploy", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    app = s.base["image"]["name"]
    remote = f"{HOST}:{external.port}/team/{app}:1.0.0"
    commands = echoed(result.stdout)
    assert not [c for c in commands if c.startswith(("docker run", "docker volume", "kind"))]
    assert f"docker login {HOST}:{external.port} --username ci --password-stdin" in commands
    assert f"docker push {remote}" in commands
    assert f"kubectl --context {context} apply -f -" in commands
    assert any(c.startswith("helm upgrade --install") and context in c for c in commands)
    calls = [json.loads(line) for line in s.standin_log.read_text().splitlines()]
    assert not [call for call in calls if call[0] == "kind"]
    assert not s.exists()  # no local registry container
    tags = httpx.get(f"https://{HOST}:{external.port}/v2/team/{app}/tags/list",
                     auth=("ci", PASSWORD), timeout=10,
                     verify=ssl.create_default_context(cafile=str(external.ca)))  # fmt: skip
    assert tags.json()["tags"] == ["1.0.0"]
    values = next((s.tmp / "kubectl-state" / "helm").rglob("rhdemo.yaml")).read_text()
    digest = httpx.head(
        f"https://{HOST}:{external.port}/v2/team/{app}/manifests/1.0.0", auth=("ci", PASSWORD),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, timeout=10,
        verify=ssl.create_default_context(cafile=str(external.ca)),
    ).headers["Docker-Content-Digest"]  # fmt: skip
    assert f'image: "{HOST}:{external.port}/team/{app}:1.0.0@{digest}"' in values
    again = s.invoke("deploy", "--version", "1.0.0")
    assert again.returncode == 0 and "push skipped" in again.stderr


def test_kind_and_local_registry_tasks_explain_they_do_not_apply(app_stack):
    s = app_stack
    s.write_profile(mode="external", host="registry.invalid", port=443,
                    cluster={"mode": "existing", "context": "staging"})  # fmt: skip
    for task in (["cluster.create"], ["registry.create"]):  # Jenkins' stages pass: no-ops
        result = s.invoke(*task)
        assert result.returncode == 0 and "Nothing to do" in result.stderr
        assert echoed(result.stdout) == []
    for task, words in (
        (["cluster.status"], "cluster.mode is 'existing'"),
        (["cluster.delete", "--yes"], "cluster.mode is 'existing'"),
        (["registry.status"], "registry.mode is 'external'"),
        (["registry.purge", "--yes"], "registry.mode is 'external'"),
        (["registry.prune", "--keep", "1", "--yes"], "registry.mode is 'external'"),
        (["registry.gc", "--yes"], "registry.mode is 'external'"),
    ):
        result = s.invoke(*task)
        assert result.returncode == 1, task
        assert words in result.stderr and "Traceback" not in result.stderr
        assert echoed(result.stdout) == []


def test_diag_skips_what_does_not_apply_to_an_existing_cluster(app_stack, external):
    s = app_stack
    external_profile(s, external, "kind-nowhere")
    result = s.invoke("diag.all", "--format", "json")
    report = {r["check"]: r for r in json.loads(result.stdout)}
    assert report["registry"]["verdict"] == "ok", report["registry"]
    for name in ("network", "containerd", "pull", "images", "disk"):
        assert report[name]["verdict"] == "skip", name
    assert "kind" not in report["tools"]["summary"]


NAMED = "registry.stagingkub.test"  # resolves nowhere: only the proxy knows the way


@pytest.fixture
def named_external(tmp_path, registry_image):
    """The external registry on 127.0.0.2, its certificate for NAMED."""
    ext = external_registry(tmp_path / "named", registry_image, NAMED)
    yield ext
    ext.cleanup()


def _push_check(stack: Stack, monkeypatch):
    """The check image.push makes before pushing: what the registry holds for the tag."""
    from stagingkub import settings
    from stagingkub.release import image_ops
    from stagingkub.release.image import ImageSpec
    from tests.support.stack import use_stack_settings

    use_stack_settings(stack, monkeypatch)
    return image_ops._remote_digests(ImageSpec.from_settings(settings.load(), "1.0.0"))


def test_an_external_registry_is_asked_through_the_proxy_and_the_local_one_directly(
    named_external, stack, monkeypatch
):
    from tests.support.connect_proxy import connect_proxy

    s = stack
    s.write_profile(mode="external", host=NAMED, port=named_external.port, project="team",
                    username="ci", ca_file=str(named_external.ca))  # fmt: skip
    s.extra_env["STAGINGKUB_REGISTRY_PASSWORD"] = PASSWORD
    with connect_proxy({NAMED: HOST}) as (proxy, tunnels):
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.setenv("NO_PROXY", "")
        assert _push_check(s, monkeypatch) is None  # answered (no such tag yet), via CONNECT
        assert tunnels == [f"{NAMED}:{named_external.port}"] * len(tunnels) and tunnels
        monkeypatch.setenv("NO_PROXY", ".stagingkub.test")
        with pytest.raises(Exception, match=NAMED):  # direct: the name resolves nowhere
            _push_check(s, monkeypatch)
        monkeypatch.setenv("NO_PROXY", "")
        seen = len(tunnels)
        s.write_profile()  # the local registry, on loopback
        assert s.invoke("registry.create").returncode == 0
        s.push("1.0.0")
        assert _push_check(s, monkeypatch) is not None  # loopback: never proxied
        assert len(tunnels) == seen

"""A failed pull is named by its cause, produced for real: the kind-node STAND-IN's real
containerd pulls from a real registry after one thing was broken (hosts.toml removed, the
registry stopped, the tag never pushed), and diag.pull and diag.k8s (through the helm
STAND-IN's events, which carry containerd's own error) name it with the fix."""

import pytest

from tests.support.stack import docker

pytestmark = pytest.mark.integration

VERSION = "1.0.0"


def diag(s, check: str, version: str = VERSION) -> str:
    result = s.invoke(f"diag.{check}", *(["--version", version] if check == "pull" else []))
    assert result.returncode == 1, result.stdout
    return result.stdout


def test_a_missing_hosts_toml_is_named(deployed):
    s = deployed
    node = f"{s.cluster}-control-plane"
    docker("exec", node, "rm", f"/etc/containerd/certs.d/localhost:{s.port}/hosts.toml")
    assert "its hosts.toml, which sends it to the registry, is missing" in diag(s, "pull")
    redeploy = s.invoke("deploy.helm", "--version", VERSION, "--force-deploy")
    assert redeploy.returncode == 1
    assert "The pods cannot pull their image: the node pulled" in redeploy.stderr
    report = diag(s, "k8s")
    assert "hosts.toml, which sends it to the registry, is missing" in report
    assert "invoke cluster.create" in report


def test_a_stopped_registry_is_named(deployed):
    s = deployed
    docker("stop", s.name)
    report = diag(s, "pull")
    assert "is stopped" in report and "invoke registry.start" in report


def test_a_tag_the_registry_lacks_is_named(deployed):
    report = diag(deployed, "pull", version="9.9.9")
    assert "the registry has no" in report and ":9.9.9" in report
    assert "invoke image.push --version 9.9.9" in report

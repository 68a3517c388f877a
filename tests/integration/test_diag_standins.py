"""diag.* on the real engine, registry and kind-node STAND-IN (real containerd), with the kind,
kubectl, helm and mvnw STAND-INS: a healthy setup, then each broken state the guide's
troubleshooting section describes, each with its verdict and its fix.
"""

import json
import os
import shutil
import signal
import threading
import xml.etree.ElementTree as ET

import pytest

from tests.support.stack import docker, echoed, node_exec

pytestmark = pytest.mark.integration

VERSION = "1.0.0"


def verdicts(stack, *extra) -> dict[str, dict]:
    result = stack.invoke("diag.all", "--version", VERSION, "--format", "json", *extra)
    return {r["check"]: r for r in json.loads(result.stdout)}, result


def node(stack) -> str:
    return f"{stack.cluster}-control-plane"


def test_standin_healthy_setup_is_all_ok(deployed):
    results, run = verdicts(deployed)
    assert run.returncode == 0, run.stdout + run.stderr
    assert {name: r["verdict"] for name, r in results.items()} == {
        name: "ok"
        for name in (
            "tools", "docker", "registry", "network", "containerd", "images", "pull", "k8s",
            "disk", "insecure",
        )
    } | {"cache": "skip"}  # fmt: skip
    assert "cache.mirrors is empty" in json.dumps(results["cache"])  # not set: nothing to check
    assert f"{node(deployed)} pulled localhost:{deployed.port}/" in results["pull"]["summary"]
    table = deployed.invoke("diag.all", "--version", VERSION)
    assert table.returncode == 0 and "10 ok, 0 warn, 0 fail, 1 skipped" in table.stdout  # cache


def test_standin_registry_stopped(deployed):
    docker("stop", deployed.name)
    single = deployed.invoke("diag.registry")
    assert single.returncode == 1
    assert "is exited" in single.stdout and "fix: `invoke registry.start`" in single.stdout
    results, run = verdicts(deployed)
    assert run.returncode == 1
    assert results["registry"]["verdict"] == "fail"
    for dependent in ("network", "images", "pull"):
        assert results[dependent]["verdict"] == "skip"
        assert "did not pass" in results[dependent]["summary"]


def test_standin_registry_detached_from_kind(deployed):
    docker("network", "disconnect", deployed.network, deployed.name)
    result = deployed.invoke("diag.network")
    assert result.returncode == 1
    assert f"is not on the {deployed.network} network" in result.stdout
    assert f"docker network connect {deployed.network} {deployed.name}" in result.stdout


def test_diag_network_with_the_registry_container_gone_names_registry_create(deployed):
    docker("rm", "-f", deployed.name)
    single = deployed.invoke("diag.network")
    assert single.returncode == 1
    text = single.stdout + single.stderr
    assert f"the registry container {deployed.name} does not exist" in text
    assert "`invoke registry.create`" in text
    assert "KeyError" not in text and "Traceback" not in text


def test_a_slow_pull_is_reported_as_slow_not_as_a_hang(deployed):
    for digest in node_exec(node(deployed), "ctr", "content", "ls", "-q").stdout.split():
        node_exec(node(deployed), "ctr", "content", "rm", digest)  # the pull fetches again
    docker("pause", deployed.name)
    unpause = threading.Timer(20.0, lambda: docker("unpause", deployed.name))  # a 20 s pull
    unpause.start()
    try:
        result = deployed.invoke("diag.pull", "--version", VERSION)
    finally:
        unpause.join()
    text = result.stdout + result.stderr
    assert "no answer within" not in text
    assert "pulled" in text and "but slowly" in text and "diag.timeout is 15 s" in text, text


def test_standin_hosts_toml_missing(deployed):
    node_exec(node(deployed), "rm", f"/etc/containerd/certs.d/localhost:{deployed.port}/hosts.toml")
    result = deployed.invoke("diag.containerd")
    assert result.returncode == 1
    assert f"localhost:{deployed.port}/hosts.toml is missing" in result.stdout
    assert "invoke cluster.create" in result.stdout
    pull = deployed.invoke("diag.pull", "--version", VERSION)
    assert pull.returncode == 1
    assert "cannot pull" in pull.stdout and "connection refused" in pull.stdout


def test_standin_hosts_toml_with_https(deployed):
    path = f"/etc/containerd/certs.d/localhost:{deployed.port}/hosts.toml"
    node_exec(
        node(deployed), "sh", "-c", f"echo '[host.\"https://{deployed.name}:5000\"]' > {path}"
    )
    result = deployed.invoke("diag.containerd")
    assert result.returncode == 1
    assert "server gave HTTP response to HTTPS client" in result.stdout


def test_standin_tag_missing(deployed):
    result = deployed.invoke("diag.images", "--version", "9.9.9")
    assert result.returncode == 1
    assert ":9.9.9 is not in the registry" in result.stdout
    assert "invoke image.push --version 9.9.9" in result.stdout
    present = deployed.invoke("diag.images", "--version", VERSION)
    assert present.returncode == 0 and "manifest sha256:" in present.stdout


def test_standin_failing_pods_are_explained(deployed):
    node = f"{deployed.cluster}-control-plane"
    docker("exec", node, "rm", f"/etc/containerd/certs.d/localhost:{deployed.port}/hosts.toml")
    assert deployed.invoke("deploy.helm", "--version", VERSION, "--force-deploy").returncode == 1
    result = deployed.invoke("diag.k8s")
    assert result.returncode == 1
    assert "ImagePullBackOff" in result.stdout  # the pods' states
    assert "hosts.toml, which sends it to the registry, is missing" in result.stdout  # the cause
    assert "invoke cluster.create" in result.stdout
    assert "Failed to pull image" in result.stdout  # the events


def test_standin_registry_bound_to_every_interface_is_a_warning(stack):
    stack.write_profile(bind_address="0.0.0.0")
    assert stack.invoke("registry.create").returncode == 0
    result = stack.invoke("diag.registry")
    assert result.returncode == 0  # a warning, not a failure
    assert "WARN" in result.stdout and f"0.0.0.0:{stack.port}" in result.stdout
    assert "--bind 127.0.0.1" in result.stdout


def test_standin_unreachable_registry_is_bounded_by_the_timeout(stack):
    """The registry process is frozen: connections open, nothing ever answers."""
    assert stack.invoke("registry.create").returncode == 0
    pid = int(stack.inspect("{{.State.Pid}}"))
    os.kill(pid, signal.SIGSTOP)
    try:
        single = stack.invoke("diag.registry", STAGINGKUB_DIAG_TIMEOUT="2")
        everything = stack.invoke("diag.all", "--format", "json", STAGINGKUB_DIAG_TIMEOUT="2")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert single.returncode == 1
    assert "no answer within 2 s" in single.stdout
    results = {r["check"]: r for r in json.loads(everything.stdout)}
    assert everything.returncode == 1
    assert results["registry"]["summary"] == "no answer within 2 s (diag.timeout)"
    assert results["images"]["verdict"] == "skip"


def test_standin_paused_registry(stack):
    assert stack.invoke("registry.create").returncode == 0
    docker("pause", stack.name)
    try:
        result = stack.invoke("diag.registry")
    finally:
        docker("unpause", stack.name)
    assert result.returncode == 1
    assert "is paused" in result.stdout and f"docker unpause {stack.name}" in result.stdout


def test_standin_junit_report_parses_and_counts_the_failures(deployed, tmp_path):
    docker("network", "disconnect", deployed.network, deployed.name)
    node_exec(node(deployed), "rm", f"/etc/containerd/certs.d/localhost:{deployed.port}/hosts.toml")
    report = tmp_path / "reports" / "diag.xml"
    results, run = verdicts(deployed, "--junit", str(report))
    assert run.returncode == 1
    failed = sorted(name for name, r in results.items() if r["verdict"] == "fail")
    assert failed == ["containerd", "network"]
    suite = ET.parse(report).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == str(len(results))
    assert suite.get("failures") == str(len(failed)) == str(len(suite.findall("testcase/failure")))
    assert suite.get("skipped") == "2"  # pull (network failed), cache (no mirrors set)
    hint = suite.find("testcase[@name='network']/failure").text
    assert "docker network connect" in hint


def test_registry_ls_lists_tags_digests_sizes_and_counts_shared_layers_once(stack):
    assert stack.invoke("registry.create").returncode == 0
    for tag in ("1.0.0", "1.1.0"):
        stack.push(tag)
    stack.push("2.0.0", repository="other-api")
    result = stack.invoke("registry.ls")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "DIGEST", "SIZE"]
    listed = [line.split()[:3] for line in lines[1:4]]
    assert [row[:2] for row in listed] == [
        ["other-api", "2.0.0"], ["rhdemo-api", "1.0.0"], ["rhdemo-api", "1.1.0"]
    ]  # fmt: skip
    assert all(row[2].startswith("sha256:") for row in listed)
    assert lines[4].startswith("2 repositories, 3 tags")
    assert echoed(result.stdout) == []


def test_registry_ls_of_a_stopped_registry_keeps_the_errors_words(stack):
    assert stack.invoke("registry.create").returncode == 0
    docker("stop", stack.name)
    result = stack.invoke("registry.ls")
    assert result.returncode == 1
    assert "does not answer" in result.stderr and "Connection" in result.stderr
    assert "RegistryHTTPError" not in result.stderr


def test_standin_diag_tools_names_every_missing_tool_with_how_to_install(app_stack, tmp_path):
    ok = app_stack.invoke("diag.tools")
    assert ok.returncode == 0, ok.stdout
    for tool in ("docker", "kind", "kubectl", "helm", "java"):
        assert f"{tool}: " in ok.stdout
    only_docker = tmp_path / "only-docker"
    only_docker.mkdir()
    (only_docker / "docker").symlink_to(shutil.which("docker"))
    missing = app_stack.invoke("diag.tools", PATH=str(only_docker))
    assert missing.returncode == 1
    assert "missing or unusable: kind, kubectl, helm, java" in missing.stdout
    assert "brew install kind" in missing.stdout and "brew install helm" in missing.stdout


def test_standin_deploy_stops_before_any_change_naming_all_missing_tools(app_stack, tmp_path):
    only_docker = tmp_path / "only-docker"
    only_docker.mkdir()
    (only_docker / "docker").symlink_to(shutil.which("docker"))
    result = app_stack.invoke("deploy", "--version", "1.0.0", PATH=str(only_docker))
    assert result.returncode == 1
    for tool in ("kind", "kubectl", "helm", "java"):
        assert f"{tool}: not found" in result.stderr
    assert "nothing was changed" in result.stderr
    assert echoed(result.stdout) == [] and not app_stack.exists()

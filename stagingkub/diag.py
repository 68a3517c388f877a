"""The diag checks, in the order the guide's troubleshooting walks them, with prerequisites."""

from __future__ import annotations

from stagingkub.checks import FAIL, Check, Probe, Result, run_all, run_one
from stagingkub.diag_cluster import check_containerd, check_k8s, check_network, check_pull
from stagingkub.diag_host import (
    check_disk,
    check_docker,
    check_images,
    check_insecure,
    check_registry,
    check_tools,
)

CHECKS = [
    Check("tools", check_tools, (), "docker, kind, kubectl, helm (and Java for mvnw) present"),
    Check("docker", check_docker, (), "Docker engine reachable, versions, disk use"),
    Check("registry", check_registry, ("docker",), "registry running, answering, bound safely"),
    Check("network", check_network, ("registry",), "nodes reach the registry by name"),
    Check("containerd", check_containerd, ("docker",), "every node's registry wiring"),
    Check("images", check_images, ("registry",), "catalog, tags, the version's digest and size"),
    Check("pull", check_pull, ("network", "containerd", "images"), "a node pulls the image"),
    Check("k8s", check_k8s, (), "the release's pods, events, logs"),
    Check("disk", check_disk, ("docker",), "registry size, shared layers, free disk"),
    Check("insecure", check_insecure, ("docker",), "Docker trusts a non-local registry"),
]
BY_NAME = {check.name: check for check in CHECKS}


def one(settings, name: str, version: str = "") -> Result:
    return run_one(BY_NAME[name], Probe(settings, version), settings.diag.timeout)


def everything(settings, version: str = "") -> list[Result]:
    return run_all(CHECKS, Probe(settings, version), settings.diag.timeout)


def failed(results: list[Result]) -> bool:
    return any(result.verdict == FAIL for result in results)

"""The diag checks, in the order the guide's troubleshooting walks them, with prerequisites."""

from __future__ import annotations

from stagingkub.diag.cache import check_cache, no_mirrors
from stagingkub.diag.containerd import check_containerd
from stagingkub.diag.engine import FAIL, SKIP, Check, Probe, Result, run_all, run_one
from stagingkub.diag.host import (
    check_disk,
    check_docker,
    check_images,
    check_insecure,
    check_registry,
    check_tools,
)
from stagingkub.diag.network import PULL_TIMEOUT, check_network, check_pull
from stagingkub.diag.pods import check_k8s


def _local_registry(settings) -> str:
    if settings.registry.mode == "external":
        return f"registry.mode is external ({settings.registry.host}): no local registry to read"
    return ""


def _kind_wiring(settings) -> str:
    if settings.cluster.mode == "existing":
        return "cluster.mode is existing: its nodes and their registry setup are not kind's"
    if settings.registry.mode == "external":
        return "registry.mode is external: the nodes pull from it directly, with no wiring"
    return ""


def only_when(check, why_not):
    """The check, or a skip that says why it does not apply to these settings."""

    def guarded(probe: Probe) -> Result:
        reason = why_not(probe.settings)
        return Result("", SKIP, reason) if reason else check(probe)  # run_one names it

    return guarded


CHECKS = [
    Check("tools", check_tools, (), "docker, kind, kubectl, helm (and Java for mvnw) present"),
    Check("docker", check_docker, (), "Docker engine reachable, versions, disk use"),
    Check("registry", check_registry, ("docker",), "registry running, answering, bound safely"),
    Check("network", only_when(check_network, _kind_wiring), ("registry",),
          "nodes reach the registry by name"),
    Check("containerd", only_when(check_containerd, _kind_wiring), ("docker",),
          "every node's registry wiring"),
    Check("images", only_when(check_images, _local_registry), ("registry",),
          "catalog, tags, the version's digest and size"),
    Check("pull", only_when(check_pull, _kind_wiring), ("network", "containerd", "images"),
          "a node pulls the image", bound=PULL_TIMEOUT + 5),
    Check("k8s", check_k8s, (), "the release's pods, events, logs"),
    Check("disk", only_when(check_disk, _local_registry), ("docker",),
          "registry size, shared layers, free disk"),
    Check("insecure", check_insecure, ("docker",), "Docker trusts a non-local registry"),
    Check("cache", only_when(check_cache, no_mirrors), ("docker",),
          "pull-through caches: health, bytes, hits; the host's Docker Hub mirror"),
]  # fmt: skip
BY_NAME = {check.name: check for check in CHECKS}


def one(settings, name: str, version: str = "", dry: bool = False) -> Result:
    return run_one(BY_NAME[name], Probe(settings, version, dry), settings.diag.timeout)


def everything(settings, version: str = "", dry: bool = False) -> list[Result]:
    return run_all(CHECKS, Probe(settings, version, dry), settings.diag.timeout)


def failed(results: list[Result]) -> bool:
    return any(result.verdict == FAIL for result in results)

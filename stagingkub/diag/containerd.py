"""diag.containerd: every node's registry wiring (certs.d, config_path, mirrors, CAs)."""

from __future__ import annotations

from stagingkub.cluster.ops import read_node
from stagingkub.diag.engine import FAIL, OK, WARN, Probe, Result
from stagingkub.diag.host import engine
from stagingkub.diag.nodes import cluster_spec, no_nodes, nodes
from stagingkub.diag.wiring import node_wiring


def check_containerd(probe: Probe) -> Result:
    spec = cluster_spec(probe)
    found = nodes(probe)
    if not found:
        return no_nodes("containerd", probe)
    verdict, evidence, fixes = OK, [], []
    for name in found:
        node = read_node(engine(probe), name, spec)  # reads the version where it matters
        line, problem, warning = node_wiring(spec, node)
        if problem:
            verdict = FAIL
        elif warning:
            verdict = WARN if verdict == OK else verdict
            fixes.append("recreate the cluster with the default hosts wiring")
        evidence.append(line)
    if verdict == FAIL:
        return Result(
            "containerd",
            FAIL,
            "a node is not wired to the registry",
            evidence,
            fix=f"`invoke cluster.create --name {spec.name}` repairs hosts.toml; a "
            "config_path or mirrors problem needs `invoke cluster.delete --yes` then "
            "`invoke cluster.create`",
        )
    summary = f"{len(found)} node(s) pull {spec.wiring.pull_host}/* from {spec.wiring.endpoint}"
    if spec.wiring.mirrors:
        summary += f", and {', '.join(up for up, _, _ in spec.wiring.mirrors)} through the caches"
    return Result("containerd", verdict, summary, evidence, fix="; ".join(fixes))

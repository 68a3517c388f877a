"""diag.network and diag.pull: the nodes reach the registry by name, and one pulls the image."""

from __future__ import annotations

import time
from dataclasses import replace

from stagingkub.cluster.kind_config import CERTS_DIR
from stagingkub.cluster.plan import ClusterSpec
from stagingkub.diag.engine import FAIL, OK, SKIP, WARN, Probe, Result
from stagingkub.diag.host import engine, registry_spec
from stagingkub.diag.nodes import cluster_spec, http_from, known, no_nodes, nodes
from stagingkub.pull_errors import classify
from stagingkub.release.image import ImageSpec

CRICTL_PATHS = ("/usr/local/bin/crictl", "/usr/bin/crictl")


PULL_TIMEOUT = 120.0  # seconds: a pull moves an image, which may be large; diag's own bound


def pulled(node: str, reference: str, took: float, usual: float, evidence: list) -> Result:
    """A pull that worked: OK, or WARN when it took longer than diag.timeout (slow, not hung)."""
    if took <= usual:
        return Result("pull", OK, f"{node} pulled {reference} in {took:.1f} s", evidence)
    return Result(
        "pull", WARN, f"{node} pulled {reference}, but slowly: {took:.1f} s (diag.timeout is "
        f"{usual:g} s)", evidence,
        fix="The registry, its disk or the node's network is slow: `invoke diag.disk` and "
        "`invoke diag.registry`; a large image on a busy host may just take this long.",
    )  # fmt: skip


def check_network(probe: Probe) -> Result:
    registry, spec = registry_spec(probe), cluster_spec(probe)
    found = nodes(probe)
    if not found:
        return no_nodes("network", probe)
    detached = _registry_attachment(probe, registry.name, spec.network)
    if detached is not None:
        return detached
    url = f"{spec.wiring.endpoint}/v2/"
    evidence, failed = [], []
    for node in found:
        ok, seen = http_from(engine(probe), node, url)
        evidence.append(f"{node}: GET {url} -> {'ok' if ok else seen}")
        if not ok:
            failed.append(node)
    mirrors = _mirror_paths(probe, spec, found)
    if mirrors is not None:
        return replace(mirrors, evidence=evidence + mirrors.evidence)
    if failed:
        unresolved = any("resolve" in e or "bad address" in e for e in evidence)
        why = f"{registry.name} does not resolve" if unresolved else "the registry does not answer"
        return Result(
            "network",
            FAIL,
            f"from {', '.join(failed)}: {why}",
            evidence,
            fix=f"`invoke registry.status`; the nodes must share the {spec.network} "
            f"network with {registry.name}",
        )
    caches = len(spec.wiring.mirror_names)
    reach = f"{url}" + (f" and {caches} mirror(s)" if caches else "")
    return Result("network", OK, f"{len(found)} node(s) reach {reach}", evidence)


def _registry_attachment(probe: Probe, name: str, network: str) -> Result | None:
    """A failing Result when the registry container is gone or not on the nodes' network."""
    container = engine(probe).container(name)
    if container is None:
        return Result(
            "network", FAIL, f"the registry container {name} does not exist, so no node can "
            "reach it", fix="`invoke registry.create` (its data volume is kept)",
        )  # fmt: skip
    attached = (container.get("NetworkSettings") or {}).get("Networks") or {}
    if network in attached:
        return None
    return Result(
        "network", FAIL, f"{name} is not on the {network} network",
        [f"{name} networks: {', '.join(attached) or 'none'}"],
        fix=f"`docker network connect {network} {name}` (or `invoke cluster.create`, which "
        "repairs it)",
    )  # fmt: skip


def _mirror_paths(probe: Probe, spec: ClusterSpec, found: list[str]) -> Result | None:
    """The pull-through caches: each on the kind network and answering every node by
    name; a failing Result, or None when they are all fine (or there are none)."""
    evidence, failed = [], []
    for name in spec.wiring.mirror_names:
        networks = (engine(probe).container(name) or {}).get("NetworkSettings") or {}
        if spec.network not in (networks.get("Networks") or {}):
            evidence.append(f"mirror {name}: not on the {spec.network} network (or absent)")
            failed.append(name)
            continue
        for node in found:
            ok, seen = http_from(engine(probe), node, f"http://{name}:5000/v2/")
            evidence.append(f"{node}: GET http://{name}:5000/v2/ -> {'ok' if ok else seen}")
            failed += [] if ok else [name]
    if not failed:
        return None
    return Result(
        "network", FAIL, f"the nodes do not reach the mirror(s) {', '.join(sorted(set(failed)))}"
        " (pulls fall back to the upstreams, which need the network)", evidence,
        fix="`invoke cache.create` starts the mirrors and `invoke cluster.create` connects "
        f"them to the {spec.network} network",
    )  # fmt: skip


def check_pull(probe: Probe) -> Result:
    if not probe.version:
        return Result(
            "pull",
            WARN,
            "no --version given: nothing to pull",
            fix="`invoke diag.pull --version V`",
        )
    found = nodes(probe)
    if not found:
        return no_nodes("pull", probe)
    reference = ImageSpec.from_settings(probe.settings, probe.version).remote_ref
    node, client = found[0], engine(probe)
    has_crictl = any(client.has_file(node, path) for path in CRICTL_PATHS)
    if has_crictl:
        command = ["crictl", "pull", reference]
    else:
        command = ["ctr", "content", "fetch", "--hosts-dir", CERTS_DIR, reference]
    if probe.dry:
        return Result("pull", SKIP, f"--dry: `{' '.join(command)}` in {node} is not run (it "
                      "would fetch the image into the node)")  # fmt: skip
    started = time.monotonic()
    code, text = client.exec(node, command, timeout=PULL_TIMEOUT)
    took = time.monotonic() - started
    evidence = [f"{node}: {' '.join(command)} -> exit {code} in {took:.1f} s"]
    if code == 0:
        return pulled(node, reference, took, probe.settings.diag.timeout, evidence)
    evidence += text.strip().splitlines()[-3:]
    cause = classify(text, reference, probe.version, known(probe, node, probe.version))
    if cause is not None:
        summary = f"{node} cannot pull {reference}: {cause.summary}"
        return Result("pull", FAIL, summary, evidence, fix=cause.fix)
    return Result(
        "pull",
        FAIL,
        f"{node} cannot pull {reference}",
        evidence,
        fix="`invoke diag.containerd` and `invoke diag.network` tell why; "
        f"`invoke diag.images --version {probe.version}` checks the tag exists",
    )

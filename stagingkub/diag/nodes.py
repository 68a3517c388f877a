"""What the cluster checks share: the cluster, its nodes, what the registry holds."""

from __future__ import annotations

from stagingkub.cluster.ops import node_names, read_node
from stagingkub.cluster.plan import ClusterSpec
from stagingkub.cluster.reads import cluster_spec as ops_cluster_spec
from stagingkub.diag.engine import FAIL, Probe, Result
from stagingkub.diag.host import engine, registry_spec
from stagingkub.diag.wiring import hosts_problem
from stagingkub.pull_errors import Known
from stagingkub.release.image import ImageSpec


def cluster_spec(probe: Probe) -> ClusterSpec:
    return ops_cluster_spec(probe.settings)


def nodes(probe: Probe) -> list[str]:
    """The cluster's node container names (kind's labels; kind itself is not needed)."""
    return node_names(engine(probe), cluster_spec(probe).name)


def no_nodes(check: str, probe: Probe) -> Result:
    name = cluster_spec(probe).name
    return Result(
        check,
        FAIL,
        f"no kind nodes for the cluster {name}",
        fix=f"`invoke cluster.create --name {name}`",
    )


def http_from(client, node: str, url: str) -> tuple[bool, str]:
    """Whether url answers from inside a node (200, or 401 from a registry with auth), in one
    exec: curl (kind nodes), else busybox wget (bounded by timeout(1): busybox 1.35's own
    wget -T crashes). Certificates are not checked here: that is diag.containerd's part."""
    script = (
        "if command -v curl >/dev/null 2>&1; then "
        'code=$(curl -sS -k -m 5 -o /dev/null -w "%{http_code}" "$0") || exit 1; '
        'echo "HTTP $code"; [ "$code" = 200 ] || [ "$code" = 401 ]; '
        'else out=$(timeout 5 wget --no-check-certificate -q -O /dev/null "$0" 2>&1); rc=$?; '
        'echo "$out"; case "$out" in *" 401 "*) exit 0;; esac; exit $rc; fi'
    )
    code, text = client.exec(node, ["sh", "-c", script, url])
    text = text.strip()
    return code == 0, text.splitlines()[-1] if text else f"exit {code}"


def known(probe: Probe, node: str, tag: str) -> Known:
    """What tells apart pull errors with the same words: does the registry run, does it hold
    the tag, is the node's hosts.toml right."""
    running = None
    if probe.settings.registry.mode == "local":
        from stagingkub.docker import state as docker_state

        state = docker_state.container(engine(probe), registry_spec(probe).name)
        running = state is not None and state.running
    spec = cluster_spec(probe)
    hosts_ok = None
    if spec.wiring.mode == "hosts":
        hosts_ok = not hosts_problem(spec, read_node(engine(probe), node, spec))
    return Known(running, tag_present(probe, tag) if running is not False else None, hosts_ok)


def tag_present(probe: Probe, tag: str) -> bool | None:
    """Whether the registry holds the tag (None when it cannot be asked)."""
    from stagingkub.errors import StagingkubError

    image = ImageSpec.from_settings(probe.settings, tag)
    try:
        with image.api(5.0) as api:
            return api.digests(image.path, tag) is not None
    except (StagingkubError, OSError):
        return None


def registry_digest(probe: Probe, tag: str) -> str:
    from stagingkub.errors import StagingkubError

    image = ImageSpec.from_settings(probe.settings, tag)
    try:
        with image.api(5.0) as api:
            found = api.digests(image.path, tag)
    except (StagingkubError, OSError):  # the registry check reports an unreachable registry
        return ""
    return found[0] if found else ""

"""The kind cluster wired to the registry: spec, observed state, and the plan between them.

Pure: the functions here take state and return steps (commands or files to write);
cluster/ops.py reads the state and carries the steps out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stagingkub.cluster.kind_config import (
    CA_NAME,
    CERTS_DIR,
    CONTAINERD_CONFIG,
    Wiring,
    hosting,
    kind_config,
    predicted_node_names,
    registry_configmap,
)
from stagingkub.errors import StateError

DEFAULT_NETWORK = "kind"
MIN_KIND = (0, 20, 0)
KIND_CONTAINERD_2 = (0, 27, 0)  # kind's default node images ship containerd 2.x from here


@dataclass(frozen=True)
class ClusterSpec:
    """The cluster as settings want it."""

    name: str
    roles: tuple[str, ...]
    node_image: str
    wait: str
    context: str
    network: str
    wiring: Wiring
    files_dir: Path  # the cluster's generated files go below it (relative to the root)
    user_config: str = ""  # the text of cluster.config_file
    user_config_label: str = ""

    @classmethod
    def from_settings(cls, settings, config_text: str = "", ca_pem: str = "") -> ClusterSpec:
        """The spec from settings and the texts ops read for it (pure): cluster.config_file's
        text and the registry's CA (registry.tls)."""
        c, r = settings.cluster, settings.registry
        return cls(
            name=c.name,
            roles=tuple(c.nodes),
            node_image=c.node_image,
            wait=c.wait,
            context=settings.kube_context,
            network=r.network,
            wiring=_wiring(settings, ca_pem),
            files_dir=settings.files_dir(),
            user_config=config_text,
            user_config_label=str(c.config_file) if c.config_file else "",
        )

    @property
    def config_file(self) -> Path:
        return self.files_dir / "kind-config.yaml"

    @property
    def certs_dir(self) -> Path:
        return self.files_dir / "certs.d"

    @property
    def configmap_file(self) -> Path:
        return self.files_dir / "local-registry-hosting.yaml"


def _wiring(settings, ca_pem: str) -> Wiring:
    from stagingkub.cache.plan import mirrors
    from stagingkub.registry.auth import basic_auth
    from stagingkub.registry.plan import RegistrySpec

    r = settings.registry
    registry = RegistrySpec.from_settings(settings)
    return Wiring(
        registry_name=r.name,
        host_port=r.port,
        host=r.host,
        mode=settings.cluster.wiring,
        tls=r.tls,
        ca_file=registry.cafile or "",
        ca_pem=ca_pem,
        auth_header=basic_auth(r.username, r.password) if r.auth and r.password else "",
        username=r.username if r.auth else "",
        mirrors=tuple((m.upstream, m.remote_url, m.endpoint) for m in mirrors(settings)),
    )


@dataclass(frozen=True)
class NodeState:
    """What one node's containerd configuration says."""

    name: str
    hosts_files: dict[str, str | None]  # certs.d sub-directory -> hosts.toml text, None if absent
    ca_files: dict[str, str | None] = field(default_factory=dict)  # same, for ca.crt
    config_path: str | None = CERTS_DIR
    has_mirrors: bool = False
    containerd_version: tuple[int, int, int] | None = None

    @property
    def containerd_2(self) -> bool:
        return bool(self.containerd_version and self.containerd_version >= (2, 0, 0))

    @property
    def default_config_path(self) -> bool:
        """containerd 2.x with no config_path and no mirrors (kind v0.27+ nodes): its CRI
        image plugin reads CONTAINERD_2_DEFAULT, which includes /etc/containerd/certs.d."""
        return self.config_path is None and not self.has_mirrors and self.containerd_2

    @property
    def reads_certs_dir(self) -> bool:
        """Whether containerd reads hosts.toml files under /etc/containerd/certs.d."""
        if self.default_config_path:
            return True
        return CERTS_DIR in (self.config_path or "").split(":")

    @property
    def config_path_shown(self) -> str:
        if self.default_config_path:
            return "default config_path (containerd 2.x)"
        return f"config_path {self.config_path or 'unset'}"


# containerd 2.x's default when the config sets no config_path and no mirrors.
CONTAINERD_2_DEFAULT = "/etc/containerd/certs.d:/etc/docker/certs.d"


@dataclass(frozen=True)
class ClusterState:
    exists: bool
    nodes: tuple[NodeState, ...] = ()
    registry_attached: bool = False
    configmap: str | None = None  # localRegistryHosting.v1, None when absent
    mirrors_detached: tuple[str, ...] = ()  # cache containers not on the kind network


@dataclass(frozen=True)
class WriteFile:
    path: Path
    text: str = field(repr=False)
    private: bool = False  # holds a credential: mode 0600, and --dry prints shell_text
    shell_text: str = field(default="", repr=False)


class LongCommand(list):
    """An argv whose run is a long wait (`kind create cluster --wait`): the runner shows
    progress while it runs. Equal to the plain argv."""

    def __init__(self, argv: list[str], waits: str) -> None:
        super().__init__(argv)
        self.waits = waits


@dataclass
class ClusterPlan:
    steps: list[list[str] | WriteFile] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)

    @property
    def commands(self) -> list[list[str]]:
        return [step for step in self.steps if isinstance(step, list)]


def create_argv(spec: ClusterSpec) -> list[str]:
    argv = ["kind", "create", "cluster", "--name", spec.name, "--config", str(spec.config_file)]
    if spec.node_image:
        argv += ["--image", spec.node_image]
    argv += ["--wait", spec.wait]
    if spec.network != DEFAULT_NETWORK:  # kind's own switch for another network
        argv = ["env", f"KIND_EXPERIMENTAL_DOCKER_NETWORK={spec.network}", *argv]
    return argv


def plan_create_cluster(
    spec: ClusterSpec, kind_version: tuple[int, int, int] | None
) -> ClusterPlan:
    """Phase 1, for a cluster that does not exist: write the config, create the cluster."""
    check_kind_version(spec, kind_version)
    text = kind_config(
        spec.name, list(spec.roles), spec.wiring, spec.user_config, spec.user_config_label
    )
    create = LongCommand(create_argv(spec), waits=f"kind create cluster {spec.name}")
    plan = ClusterPlan(steps=[WriteFile(spec.config_file, text), create])
    plan.repairs.append(f"created cluster {spec.name}")
    return plan


def check_kind_version(spec: ClusterSpec, version: tuple[int, int, int] | None) -> None:
    shown = ".".join(map(str, version)) if version else "unknown"
    if spec.wiring.mode == "hosts" and version is not None and version < MIN_KIND:
        raise StateError(
            f"kind v{shown} is older than v0.20, whose node images predate the config_path "
            "registry wiring. Install kind v0.20 or newer (https://kind.sigs.k8s.io/docs/user/"
            "quick-start/#installation), or set cluster.wiring: mirrors for the old images."
        )
    if (
        spec.wiring.mode == "mirrors"
        and not spec.node_image
        and version is not None
        and version >= KIND_CONTAINERD_2
    ):
        raise StateError(
            f"cluster.wiring is 'mirrors', but kind v{shown}'s default node image runs "
            "containerd 2.x, which no longer accepts the registry.mirrors patch (pulls fail "
            "with 'server gave HTTP response to HTTPS client'). Use cluster.wiring: hosts (the "
            "default), or set cluster.node_image to an image from before kind v0.20."
        )


def predicted_state(spec: ClusterSpec, registry_attached: bool) -> ClusterState:
    """What a cluster looks like right after `kind create cluster` (for --dry)."""
    nodes = tuple(
        NodeState(name=name, hosts_files={})
        for name in predicted_node_names(spec.name, list(spec.roles))
    )
    return ClusterState(exists=True, nodes=nodes, registry_attached=registry_attached)


def plan_wiring(spec: ClusterSpec, state: ClusterState) -> ClusterPlan:
    """Phase 2: registry on the network, every node's hosts.toml, the ConfigMap."""
    plan = ClusterPlan()
    for node in state.nodes:
        check_node(spec, node)
    if not state.registry_attached:
        plan.steps.append(["docker", "network", "connect", spec.network, spec.wiring.registry_name])
        plan.repairs.append(f"connected {spec.wiring.registry_name} to the {spec.network} network")
    for name in state.mirrors_detached:
        plan.steps.append(["docker", "network", "connect", spec.network, name])
        plan.repairs.append(f"connected the mirror {name} to the {spec.network} network")
    if spec.wiring.mode == "hosts":
        wanted, cas = spec.wiring.hosts_files(), spec.wiring.ca_files()
        stale = [node for node in state.nodes if _wrong_files(node, wanted, cas)]
        if stale:
            plan.steps += _hosts_steps(spec, wanted, cas)
        for node in stale:
            plan.steps.append(["docker", "exec", node.name, "mkdir", "-p", CERTS_DIR])
            plan.steps.append(["docker", "cp", f"{spec.certs_dir}/.", f"{node.name}:{CERTS_DIR}/"])
            plan.repairs.append(f"{node.name}: wrote " + ", ".join(_wrong_files(node, wanted, cas)))
    if state.configmap is None or _normal(state.configmap) != _normal(hosting(spec.wiring)):
        plan.steps.append(WriteFile(spec.configmap_file, registry_configmap(spec.wiring)))
        plan.steps.append(
            ["kubectl", "--context", spec.context, "apply", "-f", str(spec.configmap_file)]
        )
        what = "applied" if state.configmap is None else "updated"
        plan.repairs.append(f"{what} ConfigMap kube-public/local-registry-hosting")
    return plan


def _hosts_steps(spec: ClusterSpec, wanted: dict[str, str], cas: dict[str, str]) -> list:
    """The local certs.d folder copied into the nodes: hosts.toml (0600 when it carries the
    login header; --dry then computes the header from the environment) and the CA."""
    private = bool(spec.wiring.auth_header)
    shown = spec.wiring.hosts_files(spec.wiring.shell_authorization()) if private else {}
    steps = [
        WriteFile(spec.certs_dir / host / "hosts.toml", text, private, shown.get(host, ""))
        for host, text in wanted.items()
    ]
    return steps + [WriteFile(spec.certs_dir / host / CA_NAME, pem) for host, pem in cas.items()]


def _wrong_files(node: NodeState, wanted: dict[str, str], cas: dict[str, str]) -> list[str]:
    wrong = [
        f"{CERTS_DIR}/{host}/hosts.toml"
        for host, text in wanted.items()
        if node.hosts_files.get(host) is None or _normal(node.hosts_files[host]) != _normal(text)
    ]
    return wrong + [
        f"{CERTS_DIR}/{host}/{CA_NAME}"
        for host, pem in cas.items()
        if _normal(node.ca_files.get(host) or "") != _normal(pem)
    ]


def _normal(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def check_node(spec: ClusterSpec, node: NodeState) -> None:
    """Stop on what re-writing files cannot fix: the node's containerd config itself."""
    recreate = (
        f"Recreate the cluster: `invoke cluster.delete --name {spec.name} --yes` then "
        f"`invoke cluster.create --name {spec.name}` (the registry and its images are kept)."
    )
    version = ".".join(map(str, node.containerd_version)) if node.containerd_version else "?"
    if spec.wiring.mode == "hosts":
        if node.config_path and node.has_mirrors:
            raise StateError(
                f"Node {node.name} has both config_path and a registry.mirrors section in "
                f"{CONTAINERD_CONFIG} (containerd {version}); containerd "
                f"2.x refuses that, and 1.x ignores the hosts.toml files. {recreate}"
            )
        if not node.reads_certs_dir:
            found = f"config_path = {node.config_path!r}" if node.config_path else "no config_path"
            raise StateError(
                f"Node {node.name} was created with {found} in its containerd config, so "
                f"hosts.toml files under {CERTS_DIR} are not read"
                + (
                    " (it uses the guide's legacy registry.mirrors patch)"
                    if node.has_mirrors
                    else ""
                )
                + f". {recreate}"
            )
    elif node.containerd_version and node.containerd_version >= (2, 0, 0):
        raise StateError(
            f"cluster.wiring is 'mirrors', but node {node.name} runs containerd {version}, "
            "which rejects the registry.mirrors form (pulls fail with 'server gave HTTP "
            "response to HTTPS client'). Set cluster.wiring: hosts (the default). " + recreate
        )
    elif not node.has_mirrors:
        raise StateError(
            f"cluster.wiring is 'mirrors', but node {node.name} has no registry.mirrors section "
            f"for {spec.wiring.pull_host}. {recreate}"
        )

"""cluster.* work: read the cluster's state (kind, docker, kubectl), plan, run, report."""

from __future__ import annotations

import shlex
import subprocess
import time
from dataclasses import replace

from stagingkub.cluster.kind_config import (
    CA_NAME,
    CERTS_DIR,
    CONTAINERD_CONFIG,
    configmap_data,
)
from stagingkub.cluster.plan import (
    ClusterPlan,
    ClusterSpec,
    ClusterState,
    NodeState,
    WriteFile,
    plan_create_cluster,
    plan_wiring,
    predicted_state,
)
from stagingkub.cluster.reads import cluster_spec
from stagingkub.console import confirm, progress, say
from stagingkub.docker import state as docker_state
from stagingkub.docker.state import KIND_CLUSTER_LABEL
from stagingkub.errors import StagingkubError, StateError
from stagingkub.external import read
from stagingkub.parse import parse_version, seconds_of
from stagingkub.registry import ops as registry_ops
from stagingkub.registry.plan import RegistrySpec
from stagingkub.runner import Runner, require_tool, require_tools
from stagingkub.waiting import poll, shell_wait

READ_TIMEOUT = 30  # seconds for a read-only kind or kubectl call
KIND_ROLE_LABEL = "io.x-k8s.kind.role"


def _read(argv: list[str]) -> subprocess.CompletedProcess:
    return read(argv, READ_TIMEOUT, "Check that Docker and the cluster respond, and re-run.")


def kind_version() -> tuple[int, int, int] | None:
    return parse_version(_read(["kind", "version"]).stdout)


def clusters(engine) -> list[str]:
    """kind's clusters, found the way `kind get clusters` finds them: by its node label."""
    found = engine.containers(all=True, label=KIND_CLUSTER_LABEL)
    return sorted({(c.get("Labels") or {}).get(KIND_CLUSTER_LABEL, "") for c in found} - {""})


def node_names(engine, name: str) -> list[str]:
    """kind's nodes of a cluster (as `kind get nodes`), without the external load balancer,
    which runs no containerd."""
    return sorted(node_states(engine, name))


def node_states(engine, name: str) -> dict[str, str]:
    """Each node of the cluster -> its container state (running, exited...)."""
    found = engine.containers(all=True, label=f"{KIND_CLUSTER_LABEL}={name}")
    return {
        c["Names"][0].lstrip("/"): c.get("State", "")
        for c in found
        if (c.get("Labels") or {}).get(KIND_ROLE_LABEL) != "external-load-balancer"
    }


def youngest_node_age(engine, name: str) -> float:
    """Seconds since the cluster's newest node container was created."""

    found = engine.containers(all=True, label=f"{KIND_CLUSTER_LABEL}={name}")
    return time.time() - max((c.get("Created") or 0) for c in found) if found else 0.0


def repair_interrupted(runner: Runner, engine, spec: ClusterSpec) -> bool:
    """Node containers without a kube context: an interrupted `kind create cluster` (young
    nodes, it never became ready: deleted, to be created again; returns True), or a context
    lost later (restored with `kind export kubeconfig`)."""
    if runner.dry:
        return False
    answer = _read(["kubectl", "--context", spec.context, "get", "--raw", "/readyz",
                    "--request-timeout=5s"])  # fmt: skip
    if answer.returncode == 0 or f'context "{spec.context}" does not exist' not in answer.stderr:
        return False  # ready, or an API that does not answer: the wiring steps say so
    age, wait = youngest_node_age(engine, spec.name), seconds_of(spec.wait)
    if age < wait:
        say(f"Cluster {spec.name}: its nodes exist (created {age:.0f} s ago, within "
            f"cluster.wait {spec.wait}) but kind never set the context {spec.context}: its "
            "`kind create cluster` was interrupted. Re-creating it.")  # fmt: skip
        runner.run(["kind", "delete", "cluster", "--name", spec.name])
        return True
    say(f"Cluster {spec.name}: its nodes run, but the kube context {spec.context} is missing "
        "(removed, or another kubeconfig): restoring it.")  # fmt: skip
    runner.run(["kind", "export", "kubeconfig", "--name", spec.name])
    return False


def stopped_nodes(engine, name: str) -> list[str]:
    """Nodes that do not run: after a reboot or `docker stop`, kind leaves them stopped."""
    return sorted(node for node, state in node_states(engine, name).items() if state != "running")


def start_stopped(runner: Runner, engine, spec: ClusterSpec) -> None:
    """A rebooted host: start the cluster's stopped nodes, then wait until the API answers."""
    stopped = stopped_nodes(engine, spec.name)
    if not stopped:
        return
    say(f"Cluster {spec.name}: {', '.join(stopped)} stopped (a reboot, or `docker stop`); "
        "starting them.")  # fmt: skip
    runner.run(["docker", "start", *stopped])
    wait_for_api(runner, spec)


def wait_for_api(runner: Runner, spec: ClusterSpec) -> None:
    """Until `kubectl get --raw /readyz` answers, at most cluster.wait (bounded, progress)."""
    argv = ["kubectl", "--context", spec.context, "get", "--raw", "/readyz",
            "--request-timeout=5s"]  # fmt: skip
    limit = max(1, int(seconds_of(spec.wait)))
    if runner.dry:
        runner.script(shell_wait(f"{shlex.join(argv)} >/dev/null 2>&1", limit,
                                 f"stagingkub: the API of {spec.name} did not answer in "
                                 f"{limit} s"))  # fmt: skip
        return
    with progress(f"the API of cluster {spec.name}", runner.progress_every):
        answered = poll(lambda: _read(argv).returncode == 0, seconds=limit, every=1)
    if not answered:
        raise StateError(
            f"The nodes of {spec.name} run again, but its API did not answer within "
            f"{limit} s (cluster.wait). `docker logs {spec.name}-control-plane` says "
            f"why; `invoke cluster.delete --yes` then `invoke cluster.create` "
            "re-creates it."
        )
    say(f"Cluster {spec.name}: its API answers again.")


def read_node(engine, name: str, spec: ClusterSpec, with_version: bool = False) -> NodeState:
    """A node's containerd registry configuration, read through the engine's archive API.

    containerd's version needs an exec: it is read when asked, or when it matters
    (the mirrors form, or a config that is not the default wiring).
    """
    state = docker_state.container(engine, name)
    if state is None or state.status != "running":
        status = state.status if state else "gone"
        raise StateError(
            f"Node {name} is {status} (a reboot, or `docker stop`): `invoke cluster.create` "
            "starts it and checks the wiring."
        )
    from stagingkub.cluster.kind_config import containerd_registry_state

    files = _containerd_files(engine, name)
    config_path, has_mirrors = containerd_registry_state(files.get(CONTAINERD_CONFIG, ""))
    names = spec.wiring.hosts_files()
    hosts = {host: files.get(f"{CERTS_DIR}/{host}/hosts.toml") for host in names}
    cas = {host: files.get(f"{CERTS_DIR}/{host}/{CA_NAME}") for host in names}
    version = None
    if with_version or has_mirrors or spec.wiring.mode == "mirrors" or config_path != CERTS_DIR:
        version = parse_version(engine.exec(name, ["containerd", "--version"])[1])
    return NodeState(
        name=name,
        hosts_files=hosts,
        ca_files=cas,
        config_path=config_path,
        has_mirrors=has_mirrors,
        containerd_version=version,
    )


def _containerd_files(engine, name: str) -> dict[str, str]:
    """/etc/containerd of a node; a failed read is an error, never "not configured"."""
    folder = CONTAINERD_CONFIG.rsplit("/", 1)[0]
    try:
        return engine.read_tree(name, folder)
    except StagingkubError as error:
        raise StateError(
            f"Could not read {folder} in node {name}, so its registry wiring is unknown (not "
            f"wrong): {error} Nothing was changed; check `docker exec {name} ls {folder}` "
            "and re-run."
        ) from None


def read_configmap(context: str) -> str | None:
    result = _read(
        ["kubectl", "--context", context, "-n", "kube-public", "get", "configmap",
         "local-registry-hosting", "-o", "json", "--request-timeout=10s"]
    )  # fmt: skip
    if result.returncode == 0:
        return configmap_data(result.stdout)
    if "NotFound" in result.stderr or "not found" in result.stderr:
        return None
    raise StateError(
        f"kubectl cannot read the cluster through the context {context!r}: "
        f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no answer'}. "
        f"Check `kubectl --context {context} cluster-info`, or set cluster.context."
    )


def registry_attached(engine, registry_name: str, network: str) -> bool:
    state = docker_state.container(engine, registry_name)
    return state is not None and network in state.networks


def read_state(
    engine, spec: ClusterSpec, with_version: bool = False, names: list[str] | None = None
) -> ClusterState:
    names = node_names(engine, spec.name) if names is None else names
    nodes = tuple(read_node(engine, n, spec, with_version) for n in names)
    if not nodes:
        raise StateError(
            f"kind lists the cluster {spec.name!r} but no node containers; delete it with "
            f"`kind delete cluster --name {spec.name}` and re-run."
        )
    return ClusterState(
        exists=True,
        nodes=nodes,
        registry_attached=registry_attached(engine, spec.wiring.registry_name, spec.network),
        configmap=read_configmap(spec.context),
        mirrors_detached=mirrors_detached(engine, spec),
    )


def mirrors_detached(engine, spec: ClusterSpec) -> tuple[str, ...]:
    """The pull-through caches that are not on the kind network (yet)."""
    names = spec.wiring.mirror_names
    return tuple(n for n in names if not registry_attached(engine, n, spec.network))


def execute(runner: Runner, plan: ClusterPlan) -> None:
    for step in plan.steps:
        if isinstance(step, WriteFile):
            runner.write_file(
                step.path, step.text, private=step.private, shell_text=step.shell_text
            )
        else:
            runner.run(step, waits=getattr(step, "waits", ""))


def create(runner: Runner, settings, *, ensure_registry: bool = True) -> None:
    """cluster.create: the registry, the cluster, and the wiring between them (idempotent)."""
    if settings.cluster.mode == "existing":
        say(
            f"cluster.mode is existing: the cluster behind the context "
            f"{settings.cluster.context!r} is yours. Nothing to do (no create, no wiring). "
            "`invoke deploy.helm` deploys to it."
        )
        return
    if ensure_registry:  # the pipeline ran the preflight for every step already
        from stagingkub import preflight

        preflight.require(["docker", "kind", "kubectl"], settings)
    engine = docker_state.client()
    external = settings.registry.mode == "external"
    if ensure_registry:
        _ensure_registries(runner, settings, engine)
    spec = cluster_spec(settings)  # after the registry: it may have made its CA just now
    names = node_names(engine, spec.name)  # kind's label on its nodes: the cluster exists
    if names:
        start_stopped(runner, engine, spec)
        if repair_interrupted(runner, engine, spec):
            names = []
    if not names:
        execute(runner, plan_create_cluster(spec, kind_version()))
    if external:
        say(
            f"Cluster {spec.name} {'is there' if names else 'created'}; registry.mode is "
            f"external, so its nodes pull from {settings.registry.host} directly (with the "
            "imagePullSecret deploy.helm keeps) and no local registry is wired"
            + (
                " (nor the cache.mirrors: their hosts.toml wiring comes with the local registry's)."
                if settings.cache.mirrors
                else "."
            )
        )
        return
    _wire(runner, engine, spec, names)


def _ensure_registries(runner: Runner, settings, engine) -> None:
    """The local registry (unless external) and the pull-through caches (cache.mirrors)."""
    if settings.registry.mode != "external":
        registry_ops.ensure(runner, RegistrySpec.from_settings(settings), engine=engine)
    if settings.cache.mirrors:
        from stagingkub.cache import ops as cache_ops

        cache_ops.ensure_all(runner, cache_ops.configured(settings), engine=engine)


def _wire(runner: Runner, engine, spec: ClusterSpec, names: list[str]) -> None:
    """hosts.toml on every node, the registry on the network, the ConfigMap; names are the
    nodes that existed before (none: the cluster was just created, or is planned)."""
    if runner.dry and not names:
        attached = registry_attached(engine, spec.wiring.registry_name, spec.network)
        state = replace(predicted_state(spec, attached),
                        mirrors_detached=mirrors_detached(engine, spec))  # fmt: skip
    else:
        state = read_state(engine, spec, names=names or None)
    wiring = plan_wiring(spec, state)
    execute(runner, wiring)
    nodes = ", ".join(node.name for node in state.nodes)
    if names and not wiring.repairs:
        runner.note(
            f"Cluster {spec.name} is up to date: {nodes} pull {spec.wiring.pull_host}/* from "
            f"{spec.wiring.endpoint}; ConfigMap present. Nothing to do."
        )
    elif runner.dry:
        return
    elif not names:
        say(f"Cluster {spec.name} created and wired to {spec.wiring.registry_name} ({nodes}).")
    else:
        say(f"Cluster {spec.name} existed; repaired: " + "; ".join(wiring.repairs) + ".")


def refuse_existing(settings, task: str) -> None:
    if settings.cluster.mode == "existing":
        context = settings.cluster.context
        raise StateError(
            f"{task} manages a kind cluster, but cluster.mode is 'existing' "
            f"({settings.sources['cluster.mode']}): that cluster is yours, reached through the "
            f"context {context!r}, and this tool neither creates, wires nor deletes it. "
            f"`kubectl --context {context} cluster-info` checks it; `invoke deploy` deploys to it."
        )


def delete(runner: Runner, settings, *, yes: bool) -> None:
    """cluster.delete: `kind delete cluster`; the registry and its data are not touched."""
    refuse_existing(settings, "cluster.delete")
    require_tool("kind")
    spec = cluster_spec(settings)
    if spec.name not in clusters(docker_state.client()):
        say(f"There is no kind cluster named {spec.name!r}; nothing to delete.")
        return
    if not yes and not runner.dry:
        confirm(
            f"Delete the kind cluster {spec.name!r} and everything deployed in it?",
            f"cluster.delete needs confirmation, but stdin is not a terminal. Nothing was "
            f"deleted. Pass --yes to confirm (`invoke cluster.delete --name {spec.name} --yes`).",
        )
    runner.run(["kind", "delete", "cluster", "--name", spec.name])


def status(settings) -> tuple[list[tuple[str, str]], bool]:
    """(rows, healthy) for cluster.status."""
    refuse_existing(settings, "cluster.status")
    require_tools(["kubectl"])
    spec = cluster_spec(settings)
    engine = docker_state.client()
    if spec.name not in clusters(engine):
        return [("cluster", f"{spec.name}: absent (run `invoke cluster.create`)")], False
    stopped = stopped_nodes(engine, spec.name)
    if stopped:
        rows = [("cluster", f"{spec.name} (context {spec.context})")]
        rows += [(f"node {n}", "STOPPED: `invoke cluster.create` starts it") for n in stopped]
        return rows, False
    state = read_state(engine, spec, with_version=True)
    plan = plan_wiring(spec, state)
    rows = [("cluster", f"{spec.name} (context {spec.context})")]
    problems = {line.split(":", 1)[0]: line for line in plan.repairs}
    for node in state.nodes:
        version = ".".join(map(str, node.containerd_version or ())) or "?"
        wiring = "ok" if node.name not in problems else "MISSING " + problems[node.name]
        rows.append((f"node {node.name}", f"containerd {version}, "
                     f"{node.config_path_shown}, hosts.toml {wiring}"))  # fmt: skip
    rows.append((
        "registry",
        f"{spec.wiring.registry_name} "
        + ("attached to " if state.registry_attached else "NOT attached to ")
        + spec.network,
    ))  # fmt: skip
    for upstream, _, endpoint in spec.wiring.mirrors:
        name = endpoint.split("//", 1)[1].rsplit(":", 1)[0]
        where = "NOT attached to " if name in state.mirrors_detached else "attached to "
        rows.append((f"cache {upstream}", f"{name} {where}{spec.network}"))
    configmap = "present" if state.configmap is not None else "MISSING"
    if state.configmap is not None and any("ConfigMap" in line for line in plan.repairs):
        configmap = "OUTDATED"
    rows.append(("configmap", f"kube-public/local-registry-hosting {configmap}"))
    return rows, not plan.repairs

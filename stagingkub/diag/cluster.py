"""diag checks about the cluster: network path, containerd wiring, a pull, the pods."""

from __future__ import annotations

import subprocess
from dataclasses import replace

from stagingkub.cluster.kind_config import CERTS_DIR
from stagingkub.cluster.ops import node_names, read_node, stopped_nodes
from stagingkub.cluster.plan import ClusterSpec
from stagingkub.diag.engine import FAIL, OK, WARN, Probe, Result
from stagingkub.diag.host import engine, registry_spec
from stagingkub.external import parse_json, read
from stagingkub.pull_errors import Known, classify, failed_pull
from stagingkub.release.image import ImageSpec

CRICTL_PATHS = ("/usr/local/bin/crictl", "/usr/bin/crictl")
HTTPS_SYMPTOM = "server gave HTTP response to HTTPS client"
X509_SYMPTOM = "x509: certificate signed by unknown authority"


def cluster_spec(probe: Probe) -> ClusterSpec:
    return ClusterSpec.from_settings(probe.settings)


def nodes(probe: Probe) -> list[str]:
    """The cluster's node container names (kind's labels; kind itself is not needed)."""
    return node_names(engine(probe), cluster_spec(probe).name)


def _no_nodes(check: str, probe: Probe) -> Result:
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


def check_network(probe: Probe) -> Result:
    registry, spec = registry_spec(probe), cluster_spec(probe)
    found = nodes(probe)
    if not found:
        return _no_nodes("network", probe)
    attached = (engine(probe).container(registry.name) or {})["NetworkSettings"]["Networks"]
    if spec.network not in attached:
        return Result(
            "network",
            FAIL,
            f"{registry.name} is not on the {spec.network} network",
            [f"{registry.name} networks: {', '.join(attached)}"],
            fix=f"`docker network connect {spec.network} {registry.name}` "
            "(or `invoke cluster.create`, which repairs it)",
        )
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


def check_containerd(probe: Probe) -> Result:
    spec = cluster_spec(probe)
    found = nodes(probe)
    if not found:
        return _no_nodes("containerd", probe)
    verdict, evidence, fixes = OK, [], []
    for name in found:
        node = read_node(engine(probe), name, spec)  # reads the version where it matters
        line, problem, warning = _node_wiring(spec, node)
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


def _node_wiring(spec: ClusterSpec, node) -> tuple[str, str, str]:
    """(evidence line, problem, warning) for one node's containerd registry wiring."""
    version = ".".join(map(str, node.containerd_version or ())) or "?"
    line = f"{node.name} (containerd {version}): {node.config_path_shown}"
    problem = (
        _mirrors_problem(node, version)
        or ("" if node.has_mirrors else _config_path_problem(node) or _hosts_problem(spec, node))
        or _cache_problem(spec, node)
    )
    if problem:
        return f"{line}; {problem}", problem, ""
    if node.has_mirrors:  # legacy mirrors on containerd 1.x: works, deprecated
        return f"{line}; legacy registry.mirrors (deprecated since containerd 1.5)", "", "mirrors"
    return f"{line}; {spec.wiring.pull_host} -> {spec.wiring.endpoint}", "", ""


def _mirrors_problem(node, version: str) -> str:
    if node.config_path and node.has_mirrors:
        return "config_path and a registry.mirrors section together (containerd 2.x refuses)"
    if node.has_mirrors and node.containerd_version and node.containerd_version >= (2, 0, 0):
        return f"legacy registry.mirrors on containerd {version}: {HTTPS_SYMPTOM}"
    return ""


def _config_path_problem(node) -> str:
    if not node.reads_certs_dir:
        return f"config_path is not {CERTS_DIR}: hosts.toml files are not read"
    return ""


def _hosts_problem(spec: ClusterSpec, node) -> str:
    """hosts.toml for the pull host: present, on the registry's scheme, at its endpoint."""
    pull_host, endpoint = spec.wiring.pull_host, spec.wiring.endpoint
    hosts = node.hosts_files.get(pull_host)
    if hosts is None:
        return f"{CERTS_DIR}/{pull_host}/hosts.toml is missing"
    if spec.wiring.tls and _ca_problem(spec, node, hosts):
        return _ca_problem(spec, node, hosts)
    if '"https://' in hosts and not spec.wiring.tls:
        return (
            f"hosts.toml sends {pull_host} to https://, but the registry speaks plain "
            f"HTTP: pulls fail with '{HTTPS_SYMPTOM}'"
        )
    if f'[host."{endpoint}"]' not in hosts:
        return f"hosts.toml does not point at {endpoint}"
    return ""


def _cache_problem(spec: ClusterSpec, node) -> str:
    """certs.d/<upstream>/hosts.toml of each pull-through cache: the mirror first, the
    upstream as the server to fall back to."""
    for upstream, remote, endpoint in spec.wiring.mirrors:
        hosts = node.hosts_files.get(upstream)
        if hosts is None:
            return f"{CERTS_DIR}/{upstream}/hosts.toml is missing: {upstream} bypasses its cache"
        if f'[host."{endpoint}"]' not in hosts or f'server = "{remote}"' not in hosts:
            return f"{CERTS_DIR}/{upstream}/hosts.toml does not send {upstream} to {endpoint}"
    return ""


def _ca_problem(spec: ClusterSpec, node, hosts: str) -> str:
    """registry.tls: hosts.toml names the CA, and the node's copy is the registry's CA."""
    pull_host = spec.wiring.pull_host
    if "ca = " not in hosts:
        return f"hosts.toml names no CA: pulls fail with '{X509_SYMPTOM}'"
    wanted = spec.wiring.ca_files()[pull_host].strip()
    if (node.ca_files.get(pull_host) or "").strip() != wanted:
        return f"{CERTS_DIR}/{pull_host}/ca.crt is missing or not the registry's CA"
    return ""


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
        return _no_nodes("pull", probe)
    reference = ImageSpec.from_settings(probe.settings, probe.version).remote_ref
    node, client = found[0], engine(probe)
    has_crictl = any(client.has_file(node, path) for path in CRICTL_PATHS)
    if has_crictl:
        command = ["crictl", "pull", reference]
    else:
        command = ["ctr", "content", "fetch", "--hosts-dir", CERTS_DIR, reference]
    code, text = client.exec(node, command, timeout=120)
    evidence = [f"{node}: {' '.join(command)} -> exit {code}"]
    if code == 0:
        return Result("pull", OK, f"{node} pulled {reference}", evidence)
    evidence += text.strip().splitlines()[-3:]
    cause = classify(text, reference, probe.version, _known(probe, node, probe.version))
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


def _known(probe: Probe, node: str, tag: str) -> Known:
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
        hosts_ok = not _hosts_problem(spec, read_node(engine(probe), node, spec))
    return Known(running, _tag_present(probe, tag) if running is not False else None, hosts_ok)


def _kubectl(spec: ClusterSpec, namespace: str, *args: str) -> subprocess.CompletedProcess:
    argv = ["kubectl", "--context", spec.context, "-n", namespace, *args, "--request-timeout=10s"]
    return read(argv, 30, f"Check `kubectl --context {spec.context} cluster-info`.")


def check_k8s(probe: Probe) -> Result:
    import shutil

    from stagingkub.console import INSTALL_HINTS

    if shutil.which("kubectl") is None:
        return Result("k8s", FAIL, "kubectl is not installed", fix=INSTALL_HINTS["kubectl"])
    spec, namespace = cluster_spec(probe), probe.settings.deploy.namespace
    release = probe.settings.deploy.release
    stopped = _stopped(probe, spec)
    if stopped is not None:
        return stopped
    selector = f"app.kubernetes.io/instance={release}"
    pods = _kubectl(spec, namespace, "get", "pods", "-l", selector, "-o", "json")
    if pods.returncode != 0:
        return Result(
            "k8s",
            FAIL,
            f"kubectl cannot read {namespace} ({spec.context})",
            [pods.stderr.strip()[:500]],
            fix=f"`kubectl --context {spec.context} cluster-info`; `invoke cluster.status`",
        )
    items = (parse_json(["kubectl", "get", "pods", "-l", selector], pods.stdout) or {}).get(
        "items"
    ) or []
    if not items:
        return Result(
            "k8s",
            WARN,
            f"no pods of the release {release} in {namespace}",
            fix="`invoke deploy --version V`",
        )
    states = {pod["metadata"]["name"]: _pod_state(pod) for pod in items}
    evidence = [f"pod {name}: {state}" for name, state in states.items()]
    broken = [name for name, state in states.items() if state != "Ready"]
    if broken:
        known = replace(_known_for_pods(probe, items), waiting=waiting_pull_error(items))
        return _pods_not_ready(spec, namespace, broken, states, evidence, known)
    return _stale_or_ready(probe, items, namespace, evidence)


def _stopped(probe: Probe, spec: ClusterSpec) -> Result | None:
    """Stopped kind nodes (a reboot, or docker stop): the API cannot answer."""
    if probe.settings.cluster.mode != "kind":
        return None
    stopped = stopped_nodes(engine(probe), spec.name)
    if not stopped:
        return None
    return Result(
        "k8s",
        FAIL,
        f"node(s) {', '.join(stopped)} of {spec.name} are stopped (a reboot, or docker stop)",
        fix="`invoke cluster.create` starts them, waits for the API and checks the wiring",
    )


def _pods_not_ready(spec: ClusterSpec, namespace: str, broken: list[str], states: dict,
                    evidence: list[str], known: Known) -> Result:  # fmt: skip
    """What a person reads next: the events, and describe and logs of each pod."""
    events = _kubectl(spec, namespace, "get", "events", "--sort-by=.lastTimestamp")
    evidence += ["events:", *events.stdout.strip().splitlines()[-10:]]
    for name in broken:
        evidence += (
            _kubectl(spec, namespace, "describe", "pod", name).stdout.strip().splitlines()[-15:]
        )
        logs = _kubectl(spec, namespace, "logs", name, "--all-containers", "--tail", "20")
        evidence += ["logs:", *logs.stdout.strip().splitlines()]
    summary = f"{len(broken)} pod(s) not ready in {namespace}"
    fix = "read the events and logs above; `invoke deploy.helm --version V` after fixing"
    if any("ImagePull" in states[n] or "ErrImage" in states[n] for n in broken):
        found = failed_pull(events.stdout) or known.waiting
        cause = None
        if found:
            reference, message = found
            cause = classify(message, reference, split_reference(reference)[1] or "V", known)
        if cause is not None:
            return Result("k8s", FAIL, f"{summary}: {cause.summary}", evidence, fix=cause.fix)
        fix = (
            "the node cannot pull the image (ImagePullBackOff/ErrImagePull): `invoke diag.pull "
            "--version V` shows the exact error, `invoke diag.containerd` the wiring"
        )
    return Result("k8s", FAIL, summary, evidence, fix=fix)


def waiting_pull_error(pods: list[dict]) -> tuple[str, str] | None:
    """(image, error) kubelet left in a container's waiting state (reason ErrImagePull:
    the message is the pull's error; ImagePullBackOff's only says it backs off)."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == "ErrImagePull" and waiting.get("message"):
                return status.get("image", ""), waiting["message"]
    return None


def _known_for_pods(probe: Probe, pods: list[dict]) -> Known:
    """_known for the first node and the tag the pods' image names."""
    specs = [pod.get("spec") or {} for pod in pods]
    images = [c.get("image", "") for spec in specs for c in spec.get("containers") or []]
    tag = next((split_reference(i)[1] for i in images if split_reference(i)[1]), "latest")
    found = nodes(probe)
    if not found:
        return Known()
    return _known(probe, found[0], tag)


def _stale_or_ready(probe: Probe, items: list[dict], namespace: str, evidence: list[str]):
    """Ready pods: do they run the digest the registry holds for their tag?"""
    stale = stale_pods(probe, items)
    if not stale:
        return Result("k8s", OK, f"{len(items)} pod(s) ready in {namespace}", evidence)
    tags = sorted({tag for _, tag in stale})
    return Result(
        "k8s",
        FAIL,
        f"{len(stale)} pod(s) run an older image than the registry holds for {', '.join(tags)}",
        evidence + [line for line, _ in stale],
        fix=f"`invoke deploy.helm --version {tags[0]}` pins the registry's digest and rolls "
        "the pods (or `invoke deploy` after a code change)",
    )


def stale_pods(probe: Probe, pods: list[dict]) -> list[tuple[str, str]]:
    """(what to say, tag) for each container of the app's image whose running image
    (status.containerStatuses[].imageID) is not the digest the registry holds for its tag."""
    repository = ImageSpec.from_settings(probe.settings, "latest").repository
    found, held = [], {}
    for pod in pods:
        images = {c.get("name"): c.get("image", "") for c in (pod.get("spec") or {}).get(
            "containers") or []}  # fmt: skip
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            name, tag = split_reference(images.get(status.get("name")) or status.get("image", ""))
            running = (status.get("imageID") or "").rpartition("@")[2]
            if name != repository or not tag or not running.startswith("sha256:"):
                continue
            if tag not in held:
                held[tag] = _registry_digest(probe, tag)
            if held[tag] and held[tag] != running:
                found.append((f"pod {pod['metadata']['name']}: stale: runs {running}, the "
                              f"registry has {held[tag]} for {tag}", tag))  # fmt: skip
    return found


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag) of repository:tag[@digest]; the tag is '' when there is none."""
    name = reference.partition("@")[0]
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:  # localhost:5000/rhdemo-api: the colon is the port's
        return name, ""
    return repository, tag


def _tag_present(probe: Probe, tag: str) -> bool | None:
    """Whether the registry holds the tag (None when it cannot be asked)."""
    from stagingkub.errors import StagingkubError

    image = ImageSpec.from_settings(probe.settings, tag)
    try:
        with image.api(5.0) as api:
            return api.digests(image.path, tag) is not None
    except (StagingkubError, OSError):
        return None


def _registry_digest(probe: Probe, tag: str) -> str:
    from stagingkub.errors import StagingkubError

    image = ImageSpec.from_settings(probe.settings, tag)
    try:
        with image.api(5.0) as api:
            found = api.digests(image.path, tag)
    except (StagingkubError, OSError):  # the registry check reports an unreachable registry
        return ""
    return found[0] if found else ""


def _pod_state(pod: dict) -> str:
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return waiting.get("reason", "Waiting")
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return "Ready" if ready else status.get("phase", "NotReady")

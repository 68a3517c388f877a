"""diag checks about this host: the Docker engine, the registry, its images, disk, trust."""

from __future__ import annotations

import ipaddress
import shutil
from pathlib import Path

from stagingkub import ports
from stagingkub.console import human_size
from stagingkub.diag.engine import FAIL, OK, WARN, Probe, Result
from stagingkub.docker import state as docker_state
from stagingkub.errors import DockerUnavailable
from stagingkub.registry.health import quick_ping
from stagingkub.registry.plan import RegistrySpec
from stagingkub.release.image import ImageSpec

API_TIMEOUT = 5.0


def engine(probe: Probe):
    return probe.cached("engine", docker_state.client)


def docker_df(probe: Probe) -> dict:
    """`docker system df` once per run: the engine computes it, and slowly."""
    return probe.cached("df", lambda: engine(probe).df())


def registry_spec(probe: Probe) -> RegistrySpec:
    return RegistrySpec.from_settings(probe.settings)


def check_docker(probe: Probe) -> Result:
    try:
        client = engine(probe)
    except DockerUnavailable as error:
        return Result(
            "docker",
            FAIL,
            "Docker engine unreachable",
            [str(error)],
            fix="Start Docker (`sudo systemctl start docker`) or set DOCKER_HOST.",
        )
    version = client.version()
    usage = docker_df(probe)
    sizes = {
        "images": sum(i.get("Size", 0) for i in usage.get("Images") or []),
        "containers": sum(c.get("SizeRw", 0) or 0 for c in usage.get("Containers") or []),
        "volumes": sum(
            max((v.get("UsageData") or {}).get("Size", 0), 0) for v in usage.get("Volumes") or []
        ),
        "build cache": sum(b.get("Size", 0) for b in usage.get("BuildCache") or []),
    }
    evidence = [
        f"engine {version.get('Version')} (API {version.get('ApiVersion')}), "
        f"{version.get('Os')}/{version.get('Arch')}",
        "disk use: " + ", ".join(f"{k} {human_size(v)}" for k, v in sizes.items()),
    ]
    return Result("docker", OK, f"engine {version.get('Version')} reachable", evidence)


def check_external_registry(probe: Probe) -> Result:
    """registry.mode external: does its API answer (401 without a token is healthy)."""
    image = ImageSpec.from_settings(probe.settings, "latest")
    healthy, seen = quick_ping(image.registry_url, timeout=API_TIMEOUT, cafile=image.cafile)
    evidence = [f"GET {image.registry_url}/v2/ -> {seen}"]
    if healthy:
        return Result("registry", OK, f"external registry {image.push_host} answers", evidence)
    fix = "Check registry.host and registry.port, the network path, and registry.ca_file "
    fix += "for a private CA (`invoke diag.config`)."
    return Result(
        "registry", FAIL, f"external registry {image.push_host} does not answer", evidence, fix=fix
    )


def check_registry(probe: Probe) -> Result:
    if probe.settings.registry.mode == "external":
        return check_external_registry(probe)
    spec = registry_spec(probe)
    client = engine(probe)
    state = docker_state.container(client, spec.name)
    if state is None or state.status != "running":
        return _registry_not_running(client, spec, state)
    healthy, seen = quick_ping(spec.url, timeout=API_TIMEOUT, cafile=spec.cafile)
    bindings = [(ip or "0.0.0.0", port) for ip, port in state.port_bindings]
    evidence = [
        f"GET {spec.url}/v2/ -> {seen}",
        "published on " + (", ".join(f"{ip}:{port}" for ip, port in bindings) or "nothing"),
        f"restart policy {state.restart_policy or 'no'}",
    ]
    if not healthy:
        return Result(
            "registry",
            FAIL,
            f"{spec.name} runs but /v2/ does not answer",
            evidence,
            fix="`invoke registry.logs --tail 50`, then `invoke registry.restart`",
        )
    return _exposure(spec, state, bindings, evidence)


def _registry_not_running(client, spec: RegistrySpec, state) -> Result:
    """Absent, stopped or paused: the fix, and who holds the port it needs."""
    own = state is not None and any(p == str(spec.port) for _, p in state.port_bindings)
    holder = None if own and state.status == "paused" else _port_holder(client, spec)
    what = "absent" if state is None else f"{state.status}"
    fix = {
        None: "`invoke registry.create`",
        "paused": f"`docker unpause {spec.name}` (or `invoke registry.create`)",
    }.get(state and state.status, "`invoke registry.start`")
    evidence = [f"port {spec.port}: " + (holder or ("its own" if own else "free"))]
    if holder:
        fix += f", after freeing port {spec.port} (held by {holder}) or choosing registry.port"
    return Result("registry", FAIL, f"container {spec.name} is {what}", evidence, fix=fix)


def _exposure(spec: RegistrySpec, state, bindings, evidence: list[str]) -> Result:
    """A healthy registry: published beyond loopback, or gone after a reboot, is a warning."""
    exposed = [f"{ip}:{port}" for ip, port in bindings if not ipaddress.ip_address(ip).is_loopback]
    if exposed:
        return Result(
            "registry",
            WARN,
            f"{spec.name} is reachable from the network on {', '.join(exposed)}",
            evidence,
            fix="Docker's iptables rules bypass host firewalls: bind it to loopback with "
            "`invoke registry.create --recreate --bind 127.0.0.1` (data kept).",
        )
    if state.restart_policy != "always":
        return Result(
            "registry",
            WARN,
            f"{spec.name} will not come back after a reboot",
            evidence,
            fix="`invoke registry.create --recreate` (restart=always)",
        )
    return Result("registry", OK, f"{spec.name} healthy at {spec.url}", evidence)


def _port_holder(client, spec: RegistrySpec) -> str | None:
    holders = docker_state.containers_publishing(client, spec.port, exclude=spec.name)
    if holders:
        return holders[0]
    if ports.port_in_use(spec.bind_address, spec.port):
        holder = ports.process_holding(spec.port) or "another process"
        return holder + ports.holder_advice(holder)
    return None


def check_images(probe: Probe) -> Result:
    spec = registry_spec(probe)
    image = ImageSpec.from_settings(probe.settings, probe.version or "latest")
    with spec.api(API_TIMEOUT) as api:
        catalog = api.catalog()
        tags = api.tags(image.name) if image.name in catalog else []
        evidence = [
            f"catalog: {', '.join(catalog) or '(empty)'}",
            f"{image.name} tags: {', '.join(sorted(tags)) or '(none)'}",
        ]
        if not probe.version:
            verdict = OK if tags else WARN
            return Result(
                "images",
                verdict,
                f"{len(tags)} tags of {image.name}",
                evidence,
                fix="" if tags else "`invoke deploy --version V` pushes one",
            )
        if probe.version not in tags:
            return Result(
                "images",
                FAIL,
                f"{image.name}:{probe.version} is not in the registry",
                evidence,
                fix=f"`invoke image.push --version {probe.version}` (or `invoke deploy`)",
            )
        digests = api.digests(image.name, probe.version)
        size = sum(api.blobs(image.name, probe.version).values())
    evidence.append(f"{image.remote_ref}: manifest {digests[0]}, {human_size(size)}")
    return Result("images", OK, f"{image.remote_ref} present ({digests[0][:19]}...)", evidence)


def check_disk(probe: Probe) -> Result:
    spec = registry_spec(probe)
    client = engine(probe)
    evidence = []
    state = docker_state.container(client, spec.name)
    volume = state.data_volume if state and state.data_volume else spec.volume
    size = docker_state.volume_size(client, volume, docker_df(probe))
    evidence.append(f"volume {volume}: {human_size(size) if size is not None else 'absent'}")
    if state is not None and state.running:
        with spec.api(API_TIMEOUT) as api:
            usage = api.usage()
        evidence.append(
            f"{usage.repositories} repositories, {usage.tags} tags: "
            f"{human_size(usage.unique_bytes)} stored (shared layers once), "
            f"{human_size(usage.total_bytes)} if each tag were stored whole"
        )
    root = Path(client.info().get("DockerRootDir") or "/var/lib/docker")
    where = root if root.exists() else Path("/")
    free = shutil.disk_usage(where).free
    evidence.append(f"free on {where}: {human_size(free)}")
    minimum = probe.settings.diag.min_free_gb * 1024**3
    if free < minimum:
        return Result(
            "disk",
            WARN,
            f"only {human_size(free)} free for Docker",
            evidence,
            fix="`docker system prune` (unused images, stopped containers), or "
            "`invoke registry.purge --yes` to empty the registry",
        )
    return Result(
        "disk", OK, f"{human_size(free)} free; registry {evidence[0].split(': ')[1]}", evidence
    )


def check_insecure(probe: Probe) -> Result:
    image = ImageSpec.from_settings(probe.settings, "latest")
    if image.is_local_registry:
        return Result(
            "insecure",
            OK,
            f"{image.push_host} is on loopback: Docker trusts it without insecure-registries",
        )
    info = engine(probe).info()
    config = info.get("RegistryConfig") or {}
    index = (config.get("IndexConfigs") or {}).get(image.push_host) or {}
    certs = Path("/etc/docker/certs.d") / image.push_host / "ca.crt"
    evidence = [
        f"daemon insecure-registries CIDRs: {config.get('InsecureRegistryCIDRs')}",
        f"{certs}: {'present' if certs.exists() else 'absent'}",
    ]
    if index and index.get("Secure") is False:
        return Result("insecure", OK, f"{image.push_host} is in insecure-registries", evidence)
    if certs.exists():
        return Result("insecure", OK, f"Docker trusts {image.push_host} through {certs}", evidence)
    return Result(
        "insecure",
        WARN,
        f"Docker will insist on TLS with a trusted certificate for {image.push_host}",
        evidence,
        fix=f'For a plain-HTTP registry add "insecure-registries": ["{image.push_host}"] to '
        f"/etc/docker/daemon.json and restart Docker; for a private CA put it at {certs}. "
        "Otherwise pushes fail with 'server gave HTTP response to HTTPS client'.",
    )


def check_tools(probe: Probe) -> Result:
    """The preflight as a report: each tool the settings need, its version, how to get it."""
    from stagingkub import preflight
    from stagingkub.console import INSTALL_HINTS

    names = ["docker", "kind", "kubectl", "helm"]
    if probe.settings.cluster.mode == "existing":
        names.remove("kind")
    if probe.settings.image.strategy == "mvnw":
        names.append("java")
    tools = preflight.inspect_all(names, probe.settings)
    evidence = [
        f"{t.name}: {t.version or 'found' if t.found else 'NOT FOUND'}"
        + (f" ({t.problem})" if t.problem else "")
        for t in tools
    ]
    bad = [t for t in tools if not t.ok]
    if bad:
        fix = " ".join(f"{t.name}: {INSTALL_HINTS[t.name]}." for t in bad)
        return Result(
            "tools",
            FAIL,
            "missing or unusable: " + ", ".join(t.name for t in bad),
            evidence,
            fix=fix,
        )
    return Result("tools", OK, "all tools found: " + ", ".join(t.name for t in tools), evidence)

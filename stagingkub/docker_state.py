"""Read-only questions to the Docker engine, through the SDK.

Mutations never go through here: they are CLI commands run by the runner.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from stagingkub.errors import DockerUnavailable

MANAGED_LABEL = "io.stagingkub.managed"
ROLE_LABEL = "io.stagingkub.role"
REGISTRY_DATA = "/var/lib/registry"
REGISTRY_CONTAINER_PORT = 5000


@dataclass(frozen=True)
class ContainerState:
    """What the engine says about one container."""

    name: str
    id: str
    status: str  # created, running, paused, restarting, exited, dead
    image: str
    started_at: str
    labels: dict[str, str]
    port_bindings: list[tuple[str, str]]  # (host ip, host port) for the registry port
    data_volume: str | None  # the volume mounted at /var/lib/registry
    data_volume_anonymous: bool
    env: list[str]
    restart_policy: str
    networks: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting")


def client() -> Any:
    """A docker SDK client that has answered a ping, or DockerUnavailable."""
    import docker

    host = os.environ.get("DOCKER_HOST") or _context_host()
    try:
        engine = (
            docker.DockerClient(base_url=host, timeout=15) if host else docker.from_env(timeout=15)
        )
        engine.ping()
    except docker.errors.DockerException as error:
        host = host or "the default socket (/var/run/docker.sock)"
        raise DockerUnavailable(
            f"Cannot reach the Docker engine at {host}: {_short(error)}. Start Docker "
            "(`sudo systemctl start docker`, or Docker Desktop), check that your user may use "
            "it (`docker info`), or set DOCKER_HOST to the engine's address."
        ) from None
    return engine


def _context_host() -> str | None:
    """The endpoint of the current `docker context` (Docker Desktop, Colima, rootless)."""
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return None  # from_env knows how to set up TLS from these
    from docker.context import ContextAPI
    from docker.errors import DockerException

    try:
        context = ContextAPI.get_current_context()
    except (DockerException, OSError, ValueError):
        return None
    if context is None or context.name == "default" or context.tls_cfg:
        return None
    return context.Host or None


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:300]


def container(engine: Any, name: str) -> ContainerState | None:
    """The container called name, or None."""
    import docker

    try:
        found = engine.containers.get(name)
    except docker.errors.NotFound:
        return None
    return state_from_attrs(found.attrs)


def state_from_attrs(attrs: dict) -> ContainerState:
    """Turn `docker inspect` JSON into a ContainerState (pure, tested on recorded JSON)."""
    config = attrs.get("Config") or {}
    host_config = attrs.get("HostConfig") or {}
    bindings = (host_config.get("PortBindings") or {}).get(f"{REGISTRY_CONTAINER_PORT}/tcp") or []
    data = next(
        (m for m in attrs.get("Mounts") or [] if m.get("Destination") == REGISTRY_DATA), None
    )
    anonymous = bool(data) and data.get("Type") == "volume" and len(data.get("Name", "")) == 64
    return ContainerState(
        name=attrs.get("Name", "").lstrip("/"),
        id=attrs.get("Id", ""),
        status=(attrs.get("State") or {}).get("Status", "unknown"),
        image=config.get("Image", ""),
        started_at=(attrs.get("State") or {}).get("StartedAt", ""),
        labels=config.get("Labels") or {},
        port_bindings=[(b.get("HostIp") or "", b.get("HostPort") or "") for b in bindings],
        data_volume=(data.get("Name") or data.get("Source")) if data else None,
        data_volume_anonymous=anonymous,
        env=config.get("Env") or [],
        restart_policy=(host_config.get("RestartPolicy") or {}).get("Name", ""),
        networks=sorted((attrs.get("NetworkSettings") or {}).get("Networks") or {}),
    )


def network_exists(engine: Any, name: str) -> bool:
    import docker

    try:
        engine.networks.get(name)
    except docker.errors.NotFound:
        return False
    return True


def volume_exists(engine: Any, name: str) -> bool:
    import docker

    try:
        engine.volumes.get(name)
    except docker.errors.NotFound:
        return False
    return True


def volume_size(engine: Any, name: str) -> int | None:
    """Bytes used by a volume, as `docker system df -v` reports them (None if unknown)."""
    for volume in engine.df().get("Volumes") or []:
        if volume.get("Name") == name:
            size = (volume.get("UsageData") or {}).get("Size", -1)
            return size if size >= 0 else None
    return None


def containers_publishing(engine: Any, port: int, exclude: str = "") -> list[str]:
    """Running containers that publish host port `port`, described for a message."""
    holders = []
    for candidate in engine.containers.list():
        if candidate.name == exclude:
            continue
        for container_port, bindings in (candidate.attrs["NetworkSettings"]["Ports"] or {}).items():
            for binding in bindings or []:
                if binding.get("HostPort") == str(port):
                    address = binding.get("HostIp") or "0.0.0.0"
                    holders.append(
                        f"container '{candidate.name}' (publishes {address}:{port} -> "
                        f"{container_port})"
                    )
    return sorted(set(holders))

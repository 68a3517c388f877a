"""Read-only questions to the Docker engine, through the project's own engine client
(docker/engine.py): containers, networks, volumes, as the tasks need them.

Mutations never go through here: they are CLI commands run by the runner.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

MANAGED_LABEL = "io.stagingkub.managed"
ROLE_LABEL = "io.stagingkub.role"
REGISTRY_DATA = "/var/lib/registry"
REGISTRY_CONTAINER_PORT = 5000
DEBUG_CONTAINER_PORT = 5001  # distribution's debug server (REGISTRY_HTTP_DEBUG_ADDR)


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
    binds: dict[str, str] = field(default_factory=dict)  # destination -> host path
    debug_port: int | None = None  # a mirror's debug server, as published on the host

    @property
    def debug_published(self) -> bool:
        return self.debug_port is not None

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting")


_CLIENTS: dict[tuple[str | None, ...], Any] = {}


KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"  # kind's label on its node containers


def client() -> Any:
    """An engine client that has answered a ping, or DockerUnavailable; one per process
    and engine address (a task asks several times; each request still connects anew)."""

    from stagingkub.docker.engine import Engine

    key = tuple(os.environ.get(name) for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"))
    if key not in _CLIENTS:
        engine = Engine()
        engine.ping()
        _CLIENTS[key] = engine
    return _CLIENTS[key]


def container(engine: Any, name: str) -> ContainerState | None:
    """The container called name, or None."""
    attrs = engine.container(name)
    return state_from_attrs(attrs) if attrs else None


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
        debug_port=_published(attrs, DEBUG_CONTAINER_PORT),
        binds={
            m["Destination"]: m.get("Source", "")
            for m in attrs.get("Mounts") or []
            if m.get("Type") == "bind" and m.get("Destination")
        },
    )


def _published(attrs: dict, port: int) -> int | None:
    """The host port a container port is published on: the configured binding, or the one
    the engine picked for an ephemeral `-p ip::port` (NetworkSettings, while it runs)."""
    for where in ((attrs.get("NetworkSettings") or {}).get("Ports"),
                  (attrs.get("HostConfig") or {}).get("PortBindings")):  # fmt: skip
        for binding in (where or {}).get(f"{port}/tcp") or []:
            if (binding.get("HostPort") or "").isdigit():
                return int(binding["HostPort"])
    if f"{port}/tcp" in ((attrs.get("HostConfig") or {}).get("PortBindings") or {}):
        return 0  # published, the port picked at the next start
    return None


def network_exists(engine: Any, name: str) -> bool:
    return engine.network(name) is not None


def volume_exists(engine: Any, name: str) -> bool:
    return engine.volume(name) is not None


def volume_size(engine: Any, name: str, df: dict | None = None) -> int | None:
    """Bytes used by a volume, as `docker system df -v` reports them (None if unknown)."""
    for volume in (df if df is not None else engine.df()).get("Volumes") or []:
        if volume.get("Name") == name:
            size = (volume.get("UsageData") or {}).get("Size", -1)
            return size if size >= 0 else None
    return None


def containers_publishing(engine: Any, port: int, exclude: str = "") -> list[str]:
    """Running containers that publish host port `port`, described for a message."""
    holders = []
    for candidate in engine.containers():
        name = (candidate.get("Names") or ["/?"])[0].lstrip("/")
        if name == exclude:
            continue
        for binding in candidate.get("Ports") or []:
            if binding.get("PublicPort") == port:
                address = binding.get("IP") or "0.0.0.0"
                inner = f"{binding.get('PrivatePort')}/{binding.get('Type', 'tcp')}"
                holders.append(f"container '{name}' (publishes {address}:{port} -> {inner})")
    return sorted(set(holders))

"""Pull-through caches: one registry in proxy mode per public upstream (pure).

What each mirror is (a RegistrySpec in proxy mode), what a node's hosts.toml says about
it, and which mirror serves an image reference. cache/ops.py carries it out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stagingkub.registry.plan import RegistrySpec

DOCKER_HUB = "docker.io"
# Names that mean Docker Hub in an image reference (distribution/reference normalize.go).
HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
UPSTREAM_LABEL = "io.stagingkub.cache.upstream"
HUB_CREDENTIALS = ("STAGINGKUB_CACHE_DOCKERHUB_USERNAME", "STAGINGKUB_CACHE_DOCKERHUB_PASSWORD")


@dataclass(frozen=True)
class Mirror:
    """One upstream and the registry container that caches it."""

    upstream: str  # docker.io, ghcr.io: the name in image references
    remote_url: str  # https://registry-1.docker.io: where the mirror (and the fallback) pull
    registry: RegistrySpec  # the proxy container, its volume and its port

    @property
    def endpoint(self) -> str:
        """How the kind nodes reach it on the kind network."""
        return f"http://{self.registry.name}:5000"

    @property
    def logged_in(self) -> bool:
        return bool(self.registry.proxy_credentials[0])


def slug(upstream: str) -> str:
    """docker.io -> docker-io (a Docker name part)."""
    return re.sub(r"[^a-z0-9]+", "-", upstream.lower()).strip("-")


# A mirror without a port in cache.mirrors gets its upstream's usual one, else the first
# free one from OTHER_PORTS.
USUAL_PORTS = {"docker.io": 5101, "ghcr.io": 5102, "quay.io": 5103, "registry.k8s.io": 5104}
OTHER_PORTS = 5105


def mirror_ports(entries: list[dict], registry_port: int | None) -> list[int]:
    """Each entry's port: the one given, else its upstream's usual one, else the first from
    5105 that neither another mirror nor the local registry (registry_port) holds."""
    taken = {entry["port"] for entry in entries if entry.get("port") is not None}
    taken |= {registry_port} if registry_port else set()
    ports = []
    for entry in entries:
        chosen = entry.get("port")
        if chosen is None:
            usual = USUAL_PORTS.get(entry["upstream"])
            free = (p for p in range(OTHER_PORTS, OTHER_PORTS + len(entries) + 2) if p not in taken)
            chosen = usual if usual and usual not in taken else next(free)
            taken.add(chosen)
        ports.append(chosen)
    return ports


def mirrors(settings) -> list[Mirror]:
    """The configured mirrors, as containers beside the registry (same bind address,
    network, health timeout and labels)."""
    c, r = settings.cache, settings.registry
    found = []
    local = r.port if r.mode == "local" else None
    for entry, port in zip(c.mirrors, mirror_ports(c.mirrors, local), strict=True):
        name = f"{c.prefix}-{slug(entry['upstream'])}"
        hub = entry["upstream"] == DOCKER_HUB
        login = (c.dockerhub_username, c.dockerhub_password) if hub else ("", "")
        spec = RegistrySpec(
            name=name,
            image=c.image,
            bind_address=r.bind_address,
            port=port,
            volume=f"{name}-data",
            network=r.network,
            health_timeout=r.health_timeout,
            secure_dir=str(settings.abspath("cluster.files_dir", f"cache-{name}")),
            extra_labels=tuple(sorted({**r.labels, UPSTREAM_LABEL: entry["upstream"]}.items())),
            role="cache",
            proxy_url=entry["remote_url"],
            proxy_credentials=login if login[0] else ("", ""),
            credentials_from=HUB_CREDENTIALS if hub and login[0] else ("", ""),
            offline=c.offline,
        )
        found.append(Mirror(entry["upstream"], entry["remote_url"], spec))
    return found


def mirror_hosts_toml(remote_url: str, endpoint: str) -> str:
    """containerd's hosts.toml for an upstream: the mirror first, the upstream itself as the
    server, tried when the mirror does not answer."""
    return f'server = "{remote_url}"\n\n[host."{endpoint}"]\n  capabilities = ["pull", "resolve"]\n'


@dataclass(frozen=True)
class Reference:
    """An image reference split the way containerd resolves it."""

    domain: str
    path: str
    reference: str  # a tag or a digest

    def __str__(self) -> str:
        joiner = "@" if ":" in self.reference else ":"
        return f"{self.domain}/{self.path}{joiner}{self.reference}"


def parse_reference(text: str) -> Reference:
    """postgres:16 -> docker.io/library/postgres:16; ghcr.io/x/y@sha256:... as it is."""
    name, reference = text, "latest"
    if "@" in text:
        name, reference = text.split("@", 1)
    elif ":" in text.rsplit("/", 1)[-1]:
        name, reference = text.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = DOCKER_HUB, name
    if domain in HUB_ALIASES:
        domain = DOCKER_HUB
        path = path if "/" in path else f"library/{path}"
    return Reference(domain, path, reference)


def mirror_for(reference: Reference, found: list[Mirror]) -> Mirror | None:
    return next((m for m in found if m.upstream == reference.domain), None)

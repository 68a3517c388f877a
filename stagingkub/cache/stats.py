"""What the mirrors report: distribution's proxy counters, bytes stored, what they hold,
and whether the host's Docker pulls Docker Hub through the docker.io mirror."""

from __future__ import annotations

import http.client
from dataclasses import dataclass

from stagingkub.answers import NotJSON, decode
from stagingkub.cache.plan import DOCKER_HUB, Mirror
from stagingkub.docker.state import REGISTRY_DATA
from stagingkub.registry.transport import connect

REPOSITORIES = f"{REGISTRY_DATA}/docker/registry/v2/repositories"
TAGS_PART = "/_manifests/tags/"
LAYERS_PART = "/_layers/sha256/"


@dataclass(frozen=True)
class Counters:
    """registry.proxy.{blobs,manifests} from /debug/vars, since the mirror started.

    A miss is an object fetched from the upstream, a hit one served from the cache
    (requests minus misses). distribution 2.8 (registry:2) counts every served object in
    Requests and Hits and never counts blob misses; 3.x counts both right. Requests minus
    misses is the hit count in both; registry:2's blob misses stay unknown.
    """

    blob_requests: int
    blob_misses: int
    manifest_requests: int
    manifest_misses: int
    bytes_pulled: int  # from the upstream

    def shown(self) -> str:
        text = (
            f"manifests {self.manifest_requests - self.manifest_misses} hits / "
            f"{self.manifest_misses} misses, blobs {self.blob_requests - self.blob_misses} "
            f"hits / {self.blob_misses} misses"
        )
        if self.manifest_misses and not self.blob_misses:
            text += " (registry:2 does not count blob misses)"
        return text + " since its start"


def counters(bind_address: str, debug_port: int | None, timeout: float = 3.0) -> Counters | None:
    """The proxy counters from the mirror's debug server, None when it does not answer."""
    if not debug_port:
        return None
    host = f"[{bind_address}]" if ":" in bind_address else bind_address
    url = f"http://{host}:{debug_port}"
    connection = connect(url, timeout)  # the proxy rules: loopback never goes through one
    try:
        connection.request("GET", "/debug/vars")
        response = connection.getresponse()
        body = response.read(4_000_000)
        document = decode(body, f"{url}/debug/vars", empty={}) if response.status == 200 else {}
    except (OSError, http.client.HTTPException, NotJSON):
        return None
    finally:
        connection.close()
    if not isinstance(document, dict) or "registry" not in document:
        return None
    proxy = ((document.get("registry") or {}).get("proxy")) or {}
    blobs, manifests = proxy.get("blobs") or {}, proxy.get("manifests") or {}

    def number(part: dict, key: str) -> int:
        value = part.get(key, 0)
        return value if isinstance(value, int) else 0

    return Counters(
        number(blobs, "Requests"),
        min(number(blobs, "Misses"), number(blobs, "Requests")),
        number(manifests, "Requests"),
        min(number(manifests, "Misses"), number(manifests, "Requests")),
        number(blobs, "BytesPulled") + number(manifests, "BytesPulled"),
    )


@dataclass(frozen=True)
class Held:
    """One repository a mirror holds: its tags (tag -> manifest digest) and layer digests."""

    repository: str
    tags: dict[str, str]
    layers: tuple[str, ...]


def holdings(files: dict[str, str]) -> list[Held]:
    """What a mirror's storage holds, from its repositories folder (read_tree's paths and
    link contents): the local tags, never the upstream's (a proxy's tags/list asks there)."""
    tags: dict[str, dict[str, str]] = {}
    layers: dict[str, set[str]] = {}
    for path, text in files.items():
        relative = path.split(REPOSITORIES + "/", 1)[-1]
        if TAGS_PART in relative and relative.endswith("/current/link"):
            repository, rest = relative.split(TAGS_PART, 1)
            tags.setdefault(repository, {})[rest.split("/", 1)[0]] = text.strip()
        elif LAYERS_PART in relative and relative.endswith("/link"):
            repository = relative.split(LAYERS_PART, 1)[0]
            layers.setdefault(repository, set()).add(text.strip())
    names = sorted(set(tags) | set(layers))
    return [Held(n, dict(sorted(tags.get(n, {}).items())), tuple(sorted(layers.get(n, ()))))
            for n in names]  # fmt: skip


def docker_hub_mirror(found: list[Mirror]) -> Mirror | None:
    return next((m for m in found if m.upstream == DOCKER_HUB), None)


def daemon_uses(info: dict, mirror: Mirror) -> bool:
    """Whether the engine's registry-mirrors (daemon.json or --registry-mirror) name it."""
    wanted = {_normal(url) for url in host_urls(mirror)}
    configured = (info.get("RegistryConfig") or {}).get("Mirrors") or []
    return any(_normal(url) in wanted for url in configured)


def host_urls(mirror: Mirror) -> list[str]:
    """How the host's Docker reaches the mirror: its published loopback port."""
    spec = mirror.registry
    hosts = {spec.bind_address, "127.0.0.1", "localhost"} if spec.bind_address in (
        "127.0.0.1", "0.0.0.0") else {spec.bind_address}  # fmt: skip
    return [f"http://{host}:{spec.port}" for host in sorted(hosts)]


def _normal(url: str) -> str:
    return url.strip().rstrip("/").lower()


def daemon_lines(mirror: Mirror) -> str:
    """The daemon.json entry that sends the host's Docker Hub pulls through the mirror."""
    url = f"http://127.0.0.1:{mirror.registry.port}"
    return '{\n  "registry-mirrors": ["' + url + '"]\n}'

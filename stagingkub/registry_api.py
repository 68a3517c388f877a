"""A small client for the registry's HTTP API v2 (read-only questions), over httpx."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from stagingkub.errors import StateError

API_HEADER = "Docker-Distribution-Api-Version"
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
PAGE_SIZE = 1000  # the registry rejects n > 1000 on /v2/_catalog


@dataclass(frozen=True)
class Usage:
    """What a registry holds: repositories, tags and the bytes of its unique blobs."""

    repositories: int
    tags: int
    unique_bytes: int
    total_bytes: int = 0  # as if every tag stored all its layers


@dataclass(frozen=True)
class TagInfo:
    repository: str
    tag: str
    digest: str
    blobs: dict[str, int]

    @property
    def size(self) -> int:
        return sum(self.blobs.values())


def base_url(host: str, port: int) -> str:
    """http://host:port for an address the registry is published on."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class RegistryAPI:
    """GETs against one registry; every call has a timeout."""

    def __init__(self, url: str, timeout: float = 5.0, connections: int = 16) -> None:
        import httpx

        self.url = url.rstrip("/")
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.Client(base_url=self.url, timeout=timeout, limits=limits)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _paged(self, path: str, key: str) -> list[str]:
        items: list[str] = []
        next_path: str | None = f"{path}?n={PAGE_SIZE}"
        while next_path:
            response = self.http.get(next_path)
            response.raise_for_status()
            items.extend(response.json().get(key) or [])
            next_path = _next_link(response.headers.get("Link", ""), path)
        return items

    def catalog(self) -> list[str]:
        return self._paged("/v2/_catalog", "repositories")

    def tags(self, repository: str) -> list[str]:
        return self._paged(f"/v2/{repository}/tags/list", "tags")

    def manifest(self, repository: str, reference: str) -> dict[str, Any]:
        response = self.http.get(
            f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
        )
        response.raise_for_status()
        return response.json()

    def digests(self, repository: str, reference: str) -> tuple[str, str] | None:
        """(manifest digest, config digest) of a tag, or None when the registry lacks it."""
        response = self.http.get(
            f"/v2/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        document = response.json()
        config = (document.get("config") or {}).get("digest", "")
        return response.headers.get("Docker-Content-Digest", ""), config

    def blobs(self, repository: str, reference: str) -> dict[str, int]:
        """digest -> size of every blob a tag uses (config and layers, all platforms)."""
        document = self.manifest(repository, reference)
        if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
            sizes: dict[str, int] = {}
            for child in document.get("manifests") or []:
                sizes.update(self.blobs(repository, child["digest"]))
            return sizes
        parts = [document.get("config") or {}, *(document.get("layers") or [])]
        return {part["digest"]: int(part.get("size", 0)) for part in parts if "digest" in part}

    def listing(self, workers: int = 16) -> list[TagInfo]:
        """Every repository:tag with its manifest digest and size, fetched concurrently."""
        repositories = self.catalog()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            tag_lists = list(pool.map(self.tags, repositories))
            pairs = [(r, t) for r, tags in zip(repositories, tag_lists, strict=True) for t in tags]
            return list(pool.map(lambda pair: self.tag_info(*pair), pairs))

    def tag_info(self, repository: str, tag: str) -> TagInfo:
        response = self.http.get(
            f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}
        )
        response.raise_for_status()
        document = response.json()
        if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
            blobs = self.blobs(repository, tag)
        else:
            parts = [document.get("config") or {}, *(document.get("layers") or [])]
            blobs = {p["digest"]: int(p.get("size", 0)) for p in parts if "digest" in p}
        digest = response.headers.get("Docker-Content-Digest", "")
        return TagInfo(repository, tag, digest, blobs)

    def usage(self, workers: int = 8) -> Usage:
        """Repositories, tags, and bytes counting each shared layer once."""
        repositories = self.catalog()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            tag_lists = list(pool.map(self.tags, repositories))
            pairs = [(r, t) for r, tags in zip(repositories, tag_lists, strict=True) for t in tags]
            blob_maps = list(pool.map(lambda pair: self.blobs(*pair), pairs))
        unique: dict[str, int] = {}
        for blob_map in blob_maps:
            unique.update(blob_map)
        total = sum(sum(blob_map.values()) for blob_map in blob_maps)
        return Usage(len(repositories), len(pairs), sum(unique.values()), total)


def quick_ping(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    """GET /v2/ on the standard library: the health check of a converged run skips httpx's
    import (~0.2 s, more than the start-up budget of DESIGN.md)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", "/v2/")
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as error:
        return False, f"{type(error).__name__}: {error}".rstrip(": ")
    finally:
        connection.close()
    header = response.getheader(API_HEADER)
    healthy = response.status in (200, 401) and header is not None
    return healthy, f"HTTP {response.status}, {API_HEADER}: {header or 'missing'}"


def wait_healthy(url: str, timeout: float, interval: float = 0.2) -> None:
    """Poll /v2/ until healthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        healthy, seen = quick_ping(url)
        if healthy:
            return
        if time.monotonic() >= deadline:
            raise StateError(
                f"The registry did not answer at {url}/v2/ within {timeout:g} s "
                f"(last: {seen}). Look at `invoke registry.logs`; raise "
                "registry.health_timeout if the host is just slow."
            )
        time.sleep(interval)


def _next_link(header: str, path: str) -> str | None:
    """The next page from an RFC 5988 Link header: </v2/_catalog?last=x&n=1000>; rel="next"."""
    for part in header.split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            target = part[part.index("<") + 1 : part.index(">")]
            return urljoin(path, target)
    return None

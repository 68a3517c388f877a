"""cache.warm: the images its caller names (the chart's, and cache.warm_images) pulled
through the mirrors from this machine (manifest, config and layers), so the next cluster
starts offline."""

from __future__ import annotations

import http.client
import platform
import shlex
from dataclasses import dataclass

from stagingkub.answers import decode
from stagingkub.cache.plan import Mirror, Reference, mirror_for, parse_reference
from stagingkub.console import human_size, say
from stagingkub.errors import StateError
from stagingkub.registry.api import INDEX_TYPES, MANIFEST_TYPES
from stagingkub.registry.transport import connect

BLOB_TIMEOUT = 120.0  # seconds without a byte before a blob pull counts as failed
CHUNK = 1 << 20
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def node_platform() -> tuple[str, str]:
    """The platform kind's nodes run: linux on this machine's architecture."""
    machine = platform.machine().lower()
    return "linux", ARCHES.get(machine, machine)


@dataclass
class Outcome:
    pulled: list[str]
    failed: list[str]
    skipped: list[str]


def print_pulls(runner, found: list[Mirror], images: list[str]) -> None:
    """--dry: a `docker pull` of each image through its mirror's host port (the mirror
    fetches and keeps it as cache.warm's own pull does), then the local copy removed."""
    for text in images:
        reference = parse_reference(text)
        mirror = mirror_for(reference, found)
        if mirror is None:
            runner.note(f"skipped {text}: no mirror for {reference.domain}")
            continue
        spec = mirror.registry
        joiner = "@" if ":" in reference.reference else ":"
        local = f"{spec.bind_address}:{spec.port}/{reference.path}{joiner}{reference.reference}"
        runner.script(f"docker pull {shlex.quote(local)} && docker image rm {shlex.quote(local)}")


def warm(found: list[Mirror], images: list[str]) -> Outcome:
    """Pull each image through its upstream's mirror; images of other registries are skipped."""
    outcome = Outcome([], [], [])
    for text in images:
        reference = parse_reference(text)
        mirror = mirror_for(reference, found)
        if mirror is None:
            outcome.skipped.append(f"{text} (no mirror for {reference.domain})")
            continue
        try:
            blobs, size = pull(mirror, reference)
        except StateError as error:
            outcome.failed.append(f"{reference}: {error}")
            say(f"could not pull {reference} through {mirror.registry.name}: {error}")
            continue
        outcome.pulled.append(f"{reference} ({blobs} blobs, {human_size(size)})")
        say(f"pulled {reference} through {mirror.registry.name}: {blobs} blobs, "
            f"{human_size(size)}")  # fmt: skip
    return outcome


def pull(mirror: Mirror, reference: Reference) -> tuple[int, int]:
    """(blobs, bytes) of one image pulled through the mirror for the nodes' platform."""
    spec = mirror.registry
    connection = connect(spec.url, BLOB_TIMEOUT, spec.cafile)  # proxy rules, TLS, bounds
    try:
        document = _manifest(connection, reference.path, reference.reference)
        if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
            digest = _platform_digest(document, reference)
            document = _manifest(connection, reference.path, digest)
        parts = [document.get("config") or {}, *(document.get("layers") or [])]
        digests = [part["digest"] for part in parts if part.get("digest")]
        return len(digests), sum(_drain(connection, reference.path, d) for d in digests)
    except (OSError, http.client.HTTPException) as error:
        raise StateError(f"the mirror at {spec.url} does not answer ({error})") from None
    finally:
        connection.close()


def _get(connection, path: str, accept: str = "") -> http.client.HTTPResponse:
    connection.request("GET", path, headers={"Accept": accept} if accept else {})
    response = connection.getresponse()
    if response.status != 200:
        body = response.read(2000).decode(errors="replace")
        hint = " (the upstream lacks it, or cannot be reached)" if response.status in (
            404, 500, 502, 503) else ""  # fmt: skip
        raise StateError(f"GET {path} answered {response.status}{hint}: {body.strip()[:200]}")
    return response


def _manifest(connection, path: str, reference: str) -> dict:
    accept = MANIFEST_TYPES
    response = _get(connection, f"/v2/{path}/manifests/{reference}", accept)
    return decode(response.read(8_000_000), f"the mirror's manifest of {path}:{reference}",
                  empty={})  # fmt: skip


def _platform_digest(index: dict, reference: Reference) -> str:
    os_name, arch = node_platform()
    for child in index.get("manifests") or []:
        wanted = child.get("platform") or {}
        if wanted.get("os") == os_name and wanted.get("architecture") == arch:
            return child["digest"]
    raise StateError(f"{reference} has no {os_name}/{arch} image (the kind nodes' platform)")


def _drain(connection, path: str, digest: str) -> int:
    """GET a blob to the end (the mirror stores it as it streams) and count its bytes."""
    response = _get(connection, f"/v2/{path}/blobs/{digest}")
    total = 0
    while chunk := response.read(CHUNK):
        total += len(chunk)
    return total

"""Copy one image between registries byte for byte, as the distribution spec moves it:
every blob first (skipped when the target has it, mounted within one registry, else
streamed from a GET into a PUT and hashed on the way), each child of an index, then the
manifest, whose digest the target must answer with. Nothing is held whole in memory."""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from stagingkub.registry.api import INDEX_TYPES, MANIFEST_TYPES, RegistryAPI
from stagingkub.registry.auth import RegistryHTTPError, RegistryUnauthorized
from stagingkub.registry.transport import connect

BLOB_TIMEOUT = 120.0  # seconds without a byte before a blob transfer counts as failed
CHUNK = 1 << 20
SIGNATURE_SUFFIXES = (".sig", ".att", ".sbom")  # cosign's tags for a digest: sha256-<hex>.sig


class CopyFailed(RegistryHTTPError):
    """The target refused or changed what was sent."""


@dataclass
class Tally:
    """What a copy did: blobs sent, found there already, or mounted; bytes sent."""

    sent: int = 0
    present: int = 0
    mounted: int = 0
    bytes_sent: int = 0
    manifests: int = 0
    started: float = field(default_factory=time.monotonic)
    progress: object = None  # called with (digest, done, size) while a blob streams


@dataclass(frozen=True)
class Side:
    """One end of a copy: its API client and the repository path in it."""

    api: RegistryAPI
    repository: str


def manifest(side: Side, reference: str) -> tuple[bytes, str, str] | None:
    """(raw bytes, media type, digest) of a manifest or index as stored, None if absent."""
    status, headers, body = side.api.request(
        "GET", f"/v2/{side.repository}/manifests/{reference}", MANIFEST_TYPES
    )
    if status == 404:
        return None
    _check(status, side, f"GET manifest {reference}", body)
    media = headers.get("Content-Type") or json.loads(body).get("mediaType", "")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    return body, media.split(";")[0].strip(), digest


def copy_image(source: Side, target: Side, reference: str, tag: str, tally: Tally) -> str:
    """Copy source:reference to target:tag; returns the digest, the same on both sides."""
    found = manifest(source, reference)
    if found is None:
        raise CopyFailed(f"{source.api.url} has no {source.repository}:{reference}.")
    raw, media, digest = found
    _copy_content(source, target, raw, media, tally)
    return put_manifest(target, tag, raw, media, digest, tally)


def _copy_content(source: Side, target: Side, raw: bytes, media: str, tally: Tally) -> None:
    document = json.loads(raw)
    if media in INDEX_TYPES or "manifests" in document:
        for child in document.get("manifests") or []:
            child_raw, child_media, child_digest = manifest(source, child["digest"]) or (
                None, "", "")  # fmt: skip
            if child_raw is None:
                raise CopyFailed(f"{source.api.url} lacks {child['digest']}, a child of the index.")
            _copy_content(source, target, child_raw, child_media, tally)
            put_manifest(target, child_digest, child_raw, child_media, child_digest, tally)
        return
    for blob in [document.get("config") or {}, *(document.get("layers") or [])]:
        if blob.get("digest"):
            copy_blob(source, target, blob["digest"], int(blob.get("size") or 0), tally)


def put_manifest(target: Side, reference: str, raw: bytes, media: str, digest: str,
                 tally: Tally) -> str:  # fmt: skip
    """PUT the manifest as it was; the target's Docker-Content-Digest must be digest."""
    status, headers, body = target.api.request(
        "PUT", f"/v2/{target.repository}/manifests/{reference}", data=raw,
        headers={"Content-Type": media},
    )  # fmt: skip
    if status in (400, 415) and (b"MANIFEST_INVALID" in body or b"UNSUPPORTED" in body
                                 or status == 415):  # fmt: skip
        raise CopyFailed(
            f"{target.api.url} refuses the media type {media} for {target.repository} "
            f"({status}: {body[:200]!r}): it cannot hold this image as it is, and converting "
            "it would change its digest. Use a registry that accepts it (OCI and Docker "
            "manifests and indexes: Harbor 2, GHCR, ECR, distribution 2.8+)."
        )
    _check(status, target, f"PUT manifest {reference} ({media})", body, (201,))
    answered = headers.get("Docker-Content-Digest", "")
    if answered and answered != digest:
        raise CopyFailed(
            f"{target.api.url} stored {target.repository}:{reference} as {answered}, not "
            f"{digest}: it changed the manifest (converted its format?). Nothing else differs; "
            "a registry that rewrites manifests cannot hold this image byte for byte."
        )
    tally.manifests += 1
    return digest


def copy_blob(source: Side, target: Side, digest: str, size: int, tally: Tally) -> None:
    """Skip a blob the target has, mount it within one registry, else stream it across."""
    path = f"/v2/{target.repository}/blobs/{digest}"
    status, _, body = target.api.request("HEAD", path)
    if status == 200:
        tally.present += 1
        return
    _check(status, target, f"HEAD blob {digest[:19]}", body, (200, 404))
    uploads = f"/v2/{target.repository}/blobs/uploads/"
    if source.api.url == target.api.url and source.repository != target.repository:
        status, headers, body = target.api.request(
            "POST", f"{uploads}?mount={digest}&from={source.repository}"
        )
        if status == 201:
            tally.mounted += 1
            return
    else:
        status, headers, body = target.api.request("POST", uploads)
    _check(status, target, "POST blob upload", body, (202,))
    _stream(source, target, headers["Location"], digest, size, tally)


def _stream(source: Side, target: Side, location: str, digest: str, size: int,
            tally: Tally) -> None:  # fmt: skip
    """GET the blob from the source and PUT it to the upload location as it arrives."""
    reader = _open_blob(source, digest)
    try:
        body = _Hashing(reader, digest, size, tally)
        joiner = "&" if "?" in location else "?"
        url = location if "://" in location else target.api.url + location
        status, answer = _put(target, f"{url}{joiner}digest={digest}", body, size)
        if body.digest() != digest:
            raise CopyFailed(f"{source.api.url} sent {digest[:19]} with other content.")
        _check(status, target, f"PUT blob {digest[:19]}", answer, (201,))
    finally:
        reader.close()
    tally.sent += 1
    tally.bytes_sent += size


def _open_blob(source: Side, digest: str) -> http.client.HTTPResponse:
    path = f"/v2/{source.repository}/blobs/{digest}"
    source.api.request("HEAD", path)  # settles the credentials to send
    connection = connect(source.api.url, BLOB_TIMEOUT, source.api.cafile)
    auth = source.api.authorization()
    connection.request("GET", path, headers={"Authorization": auth} if auth else {})
    response = connection.getresponse()
    if response.status != 200:
        body = response.read(2000)
        connection.close()
        _check(response.status, source, f"GET blob {digest[:19]}", body, (200,))
    return response


def _put(target: Side, url: str, body, size: int) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = connect(target.api.url, BLOB_TIMEOUT, target.api.cafile)
    connection.blocksize = CHUNK
    auth = target.api.authorization()  # the POST that opened the upload settled it
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    headers.update({"Authorization": auth} if auth else {})
    try:
        connection.request("PUT", f"{parts.path}?{parts.query}", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(2000)
    finally:
        connection.close()


class _Hashing:
    """The source's blob as a file for http.client: read in chunks, hashed, counted."""

    def __init__(self, response, digest: str, size: int, tally: Tally) -> None:
        self.response, self.digest_wanted, self.size, self.tally = response, digest, size, tally
        self.hash, self.done = hashlib.sha256(), 0

    def read(self, amount: int = CHUNK) -> bytes:
        chunk = self.response.read(amount)
        self.hash.update(chunk)
        self.done += len(chunk)
        if self.tally.progress is not None:
            self.tally.progress(self.digest_wanted, self.done, self.size)
        return chunk

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def signature_tags(side: Side, digest: str) -> list[str]:
    """cosign's tags that belong to digest: sha256-<hex>.sig, .att, .sbom."""
    stem = digest.replace(":", "-")
    tags = side.api.tags(side.repository)
    return [t for t in tags if any(t == stem + suffix for suffix in SIGNATURE_SUFFIXES)]


def _check(status: int, side: Side, what: str, body: bytes, ok: tuple[int, ...] = (200,)) -> None:
    if status in ok:
        return
    if status == 401:
        raise RegistryUnauthorized(
            f"{side.api.url} refused the credentials for {what} (401): check registry.username "
            "and STAGINGKUB_REGISTRY_PASSWORD of that profile (.env or the environment)."
        )
    if status == 403:
        raise RegistryUnauthorized(
            f"{side.api.url} accepted the login but forbids {what} on {side.repository} "
            "(403): the account needs push rights on that project (a Harbor robot account "
            "with push, for example)."
        )
    raise CopyFailed(f"{side.api.url} answered {status} to {what}: {body[:300]!r}")

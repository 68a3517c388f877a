"""Copy one image between registries byte for byte, as the distribution spec moves it:
every blob first (registry/promote_blob.py: skipped when the target has it, mounted from
another repository of the same registry, else streamed and checked against its digest),
each child of an index, then the manifest. Every manifest fetched by digest is checked
against it; the digest the target stores is compared (read back when its answer does not
say). Nothing is held whole in memory; every failure is one paragraph with the fix."""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from stagingkub.answers import NotJSON, decode
from stagingkub.registry.api import INDEX_TYPES, MANIFEST_TYPES, NOT_THE_API
from stagingkub.registry.auth import RegistryHTTPError, RegistryUnauthorized
from stagingkub.registry.promote_blob import NETWORK, copy_blob
from stagingkub.registry.promote_side import (
    RESUME,
    CopyFailed,
    Side,
    Tally,
    broke_off,
    check,
    registry_words,
)

SIGNATURE_SUFFIXES = (".sig", ".att", ".sbom")  # cosign's tags for a digest: sha256-<hex>.sig
KNOWN_TYPES = MANIFEST_TYPES.split(", ")


class Manifest(NamedTuple):
    """A manifest or index as a registry stores it: its bytes name its digest."""

    raw: bytes
    media: str
    digest: str
    document: dict[str, Any]


def manifest(side: Side, reference: str) -> Manifest | None:
    """The manifest or index of a tag or digest as stored, None if absent. One fetched by
    digest must hash to it."""
    status, headers, body = side.api.request(
        "GET", f"/v2/{side.repository}/manifests/{reference}", MANIFEST_TYPES
    )
    if status == 404:
        return None
    check(status, side, f"GET manifest {reference}", body)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if reference.startswith("sha256:") and digest != reference:
        raise CopyFailed(
            f"{side.api.url} answered the manifest {side.repository}@{reference} with bytes "
            f"that hash to {digest}: not what the digest names (a broken registry, or a proxy "
            "that changes what passes). Nothing was written for it; fix that registry or the "
            "proxy between, then re-run."
        )
    document = _document(side, reference, body, headers.get("Content-Type") or "")
    said = (headers.get("Content-Type") or "").split(";")[0].strip()
    media = said if said in KNOWN_TYPES else str(document.get("mediaType") or said)
    return Manifest(body, media, digest, document)


def _document(side: Side, reference: str, body: bytes, kind: str) -> dict[str, Any]:
    where = f"{side.api.url} (GET manifest {side.repository}:{reference}, {kind or 'no type'})"
    fix = f"{NOT_THE_API} Check the profile's registry host and port, and HTTPS_PROXY/NO_PROXY."
    try:
        document = decode(body, where, fix, {})
    except NotJSON as error:
        raise CopyFailed(str(error)) from None
    if not isinstance(document, dict):
        raise CopyFailed(f"{where} answered JSON that is not a manifest. {fix}")
    return document


def copy_image(source: Side, target: Side, reference: str, tag: str, tally: Tally) -> str:
    """Copy source:reference to target:tag; returns the digest, the same on both sides."""
    found = manifest(source, reference)
    if found is None:
        raise CopyFailed(f"{source.api.url} has no {source.repository}:{reference}.")
    _copy_content(source, target, found, tally)
    return put_manifest(target, tag, found.raw, found.media, found.digest, tally)


def _copy_content(source: Side, target: Side, found: Manifest, tally: Tally) -> None:
    document = found.document
    if found.media in INDEX_TYPES or "manifests" in document:
        for child in document.get("manifests") or []:
            child_found = manifest(source, str(child.get("digest")))
            if child_found is None:
                raise CopyFailed(
                    f"{source.api.url} lacks {child.get('digest')}, a child of the index "
                    f"{found.digest}: the source is incomplete; push the image there again."
                )
            _copy_content(source, target, child_found, tally)
            put_manifest(target, child_found.digest, child_found.raw, child_found.media,
                         child_found.digest, tally)  # fmt: skip
        return
    for blob in [document.get("config") or {}, *(document.get("layers") or [])]:
        if blob.get("digest"):
            _copy_blob(source, target, str(blob["digest"]), int(blob.get("size") or 0), tally)


def _copy_blob(source: Side, target: Side, digest: str, size: int, tally: Tally) -> None:
    """copy_blob, where a request that failed also names the blob and the next step."""
    try:
        copy_blob(source, target, digest, size, tally)
    except (CopyFailed, RegistryUnauthorized):
        raise
    except RegistryHTTPError as error:
        raise CopyFailed(f"The copy of blob {digest[:19]} stopped: {error} {RESUME}") from None
    except NETWORK as error:
        raise broke_off(target, f"the copy of blob {digest[:19]}", error) from None


def put_manifest(target: Side, reference: str, raw: bytes, media: str, digest: str,
                 tally: Tally) -> str:  # fmt: skip
    """PUT the manifest as it was; the target must store it under digest: the digest it
    answers with, or, when it names none, the bytes read back."""
    status, headers, body = target.api.request(
        "PUT", f"/v2/{target.repository}/manifests/{reference}", data=raw,
        headers={"Content-Type": media},
    )  # fmt: skip
    _refused(target, reference, media, status, body)
    check(status, target, f"PUT manifest {reference} ({media})", body, (201,))
    answered = headers.get("Docker-Content-Digest", "") or _read_back(target, reference)
    if answered != digest:
        raise CopyFailed(
            f"{target.api.url} stored {target.repository}:{reference} as {answered}, not "
            f"{digest}: it changed the manifest (converted its format?). Nothing else differs; "
            "a registry that rewrites manifests cannot hold this image byte for byte."
        )
    tally.manifests += 1
    return digest


def _read_back(target: Side, reference: str) -> str:
    """The digest of what the target now holds for reference (it did not say)."""
    stored = manifest(target, reference)
    if stored is None:
        raise CopyFailed(
            f"{target.api.url} accepted the manifest {target.repository}:{reference} (201) "
            "but does not hold it when asked: a registry (or a proxy) that loses writes."
        )
    return stored.digest


def _refused(target: Side, reference: str, media: str, status: int, body: bytes) -> None:
    """A manifest PUT refused for its media type, or for an immutable tag: in its words."""
    if status == 415 or (status == 400 and (b"MANIFEST_INVALID" in body or b"UNSUPPORTED" in body)):
        raise CopyFailed(
            f"{target.api.url} refuses the media type {media} for {target.repository} "
            f"({status}: {registry_words(body)}): it cannot hold this image as it is, and "
            "converting it would change its digest. Use a registry that accepts it (OCI and "
            "Docker manifests and indexes: Harbor 2, GHCR, ECR, distribution 2.8+)."
        )
    immutable = b"TAG_IMMUTABLE" in body or b"immutable" in body.lower()
    if status == 412 or (status in (400, 403) and immutable):
        raise CopyFailed(
            f"{target.api.url} keeps the tag {target.repository}:{reference} immutable and "
            f"refuses to change it, in its words: {registry_words(body)}. A tag there cannot "
            "be replaced: promote under another tag (--to-tag), or ask that registry's admin "
            "to exempt it from the immutability rule."
        )


def signature_tags(side: Side, digest: str) -> list[str]:
    """cosign's tags that belong to digest: sha256-<hex>.sig, .att, .sbom."""
    stem = digest.replace(":", "-")
    tags = side.api.tags(side.repository)
    return [t for t in tags if any(t == stem + suffix for suffix in SIGNATURE_SUFFIXES)]

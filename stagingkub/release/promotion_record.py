"""Where image.promote records what it promoted, so that any machine can tell a promoted
tag from another one (a deploy says it is what staging tested; a push never goes over it).

The record lives in the target registry itself, beside the tag: the tag `<tag>.promoted`
names a small OCI manifest (artifactType application/vnd.stagingkub.promotion.v1+json,
the OCI empty descriptor `{}` as config and layer) whose annotations name the digest
promoted, where from and when. Any OCI registry stores that (registry:2 included, which
has no referrers API), every Jenkins agent reads it with the same credentials as the
tag, and it goes when the repository goes. A copy of it is kept in the target profile's
cluster.files_dir/promotions.json, written atomically (a temporary file, then
os.replace), for a registry that cannot be asked."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

from stagingkub.errors import StagingkubError
from stagingkub.registry.copy import Side, Tally, manifest, put_manifest
from stagingkub.registry.promote_blob import put_blob
from stagingkub.release.image import ImageSpec

RECORDS = "promotions.json"  # under the target profile's cluster.files_dir
SUFFIX = ".promoted"
ARTIFACT_TYPE = "application/vnd.stagingkub.promotion.v1+json"
EMPTY = b"{}"  # the OCI empty descriptor's content
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
KEYS = {"digest": "io.stagingkub.promoted.digest", "from": "io.stagingkub.promoted.from",
        "at": "org.opencontainers.image.created"}  # fmt: skip


def record_tag(tag: str) -> str:
    """<tag>.promoted; a tag too long for that keeps a hash of itself (tags stop at 128)."""
    if len(tag) + len(SUFFIX) <= 128:
        return tag + SUFFIX
    return f"{tag[:110]}-{hashlib.sha256(tag.encode()).hexdigest()[:8]}{SUFFIX}"


def record_manifest(digest: str, source: str, at: str) -> bytes:
    """The record's manifest as bytes (its digest is the hash of exactly these)."""
    empty = {"mediaType": EMPTY_TYPE, "digest": "sha256:" + hashlib.sha256(EMPTY).hexdigest(),
             "size": len(EMPTY)}  # fmt: skip
    values = {"digest": digest, "from": source, "at": at}
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT_TYPE,
                "config": empty, "layers": [empty],
                "annotations": {KEYS[k]: v for k, v in values.items()}}  # fmt: skip
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def record(target: Side, image: ImageSpec, files_dir: Path, digest: str, source: str) -> None:
    """Record that image (the target tag) is digest, promoted from source: in the target
    registry (unless it says so already), then in files_dir's promotions.json."""
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    tag = record_tag(image.version)
    if registry_record(target, tag).get("digest") != digest:
        raw = record_manifest(digest, source, at)
        put_blob(target, EMPTY)
        put_manifest(target, tag, raw, OCI_MANIFEST,
                     "sha256:" + hashlib.sha256(raw).hexdigest(), Tally())  # fmt: skip
    remember(files_dir, image.remote_ref, {"digest": digest, "from": source, "at": at})


def registry_record(side: Side, tag: str) -> dict:
    """digest, from and at of the record tag, {} when there is none."""
    found = manifest(side, tag)
    if found is None or found.document.get("artifactType") != ARTIFACT_TYPE:
        return {}
    annotations = found.document.get("annotations") or {}
    values = {key: str(annotations.get(name) or "") for key, name in KEYS.items()}
    return values if values["digest"] else {}


def remember(files_dir: Path, reference: str, entry: dict) -> None:
    """promotions.json with reference -> entry, replaced whole (a killed write leaves the
    old file, never half of one)."""
    path = files_dir / RECORDS
    records = local_records(path)
    records[reference] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{RECORDS}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(records, indent=1, sort_keys=True) + "\n")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def local_records(path: Path) -> dict:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def local_record(files_dir: Path, reference: str) -> dict:
    """What this workspace recorded for reference (digest, from, at), or {}."""
    found = local_records(files_dir / RECORDS).get(reference)
    return found if isinstance(found, dict) else {}


def promoted(image: ImageSpec) -> dict:
    """What image.promote recorded for image's tag (digest, from, at), or {}: the target
    registry's record, seen from any machine; this workspace's when the registry cannot
    be asked."""
    side = Side(image.api(10.0), image.path)
    try:
        found = registry_record(side, record_tag(image.version))
    except StagingkubError:
        found = {}
    finally:
        side.api.close()
    return found or local_record(image.files_dir, image.remote_ref)


def tested(settings, reference: str, digest: str) -> str:
    """For deploy's closing line: that reference@digest is what staging tested, or ''."""
    if not digest.startswith("sha256:") or ":" not in reference.rsplit("/", 1)[-1]:
        return ""
    image = ImageSpec.from_settings(settings, reference.rsplit(":", 1)[1])
    found = promoted(image) if image.remote_ref == reference else {}
    found = found or local_record(settings.path("cluster.files_dir"), reference)
    if found.get("digest") != digest:
        return ""
    return f"This is the digest staging tested (promoted from {found['from']} at {found['at']})."

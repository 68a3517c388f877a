"""`invoke --dry image.promote`: the same promotion as a skopeo script (pure). It copies by
the digests checked when it was printed (`docker://<source>/app@sha256:…` to the target
tag), the signature tags first, refuses a target tag that names another image unless
--overwrite, checks the digest the target then holds, and writes the promotion record
(an OCI layout made with printf, copied with skopeo). Credentials go by variable name:
the source's STAGINGKUB_REGISTRY_*, the target's STAGINGKUB_PROMOTE_*."""

from __future__ import annotations

import hashlib
import json
import shlex

from stagingkub.release.image import ImageSpec
from stagingkub.release.promotion_plan import Promotion
from stagingkub.release.promotion_record import EMPTY, OCI_MANIFEST, record_manifest, record_tag

NOTHING = hashlib.sha256(b"").hexdigest()  # what sha256sum prints for an absent manifest


def skopeo_lines(promotion: Promotion, digest: str, signatures: list[tuple[str, str]],
                 at: str, *, overwrite: bool = False) -> list[str]:  # fmt: skip
    """The script: signatures are (tag, digest) pairs of the source; at, the record's time."""
    s, t = promotion.source, promotion.target
    src, src_prepare = _tls(s, "src", "STAGINGKUB_SRC_CERTS")
    dest, dest_prepare = _tls(t, "dest", "STAGINGKUB_DEST_CERTS")
    lines = src_prepare + dest_prepare
    src += [f"--src-creds {promotion.source_login}"] if promotion.source_login else []
    dest += [f"--dest-creds {promotion.target_login}"] if promotion.target_login else []
    inspect = [o.replace("--dest-", "--") for o in dest]
    if not overwrite:
        lines += _guard(t, digest, inspect)
    for tag, signed in [*signatures, (t.version, digest)]:
        lines.append(_copy(src + dest, f"{s.repository}@{signed}", f"{t.repository}:{tag}"))
    lines.append(_check(t.remote_ref, digest, inspect))
    return lines + _record(promotion, digest, at, dest)


def _tls(image: ImageSpec, side: str, variable: str) -> tuple[list[str], list[str]]:
    """skopeo's TLS options for one side, and the lines that prepare them. A CA goes into
    a folder of its own: skopeo reads every *.key in a cert dir as a client key."""
    if image.cafile:
        prepare = f'{variable}=$(mktemp -d) && cp {shlex.quote(image.cafile)} "${variable}/ca.crt"'
        return [f'--{side}-cert-dir="${variable}"'], [prepare]
    if not image.external:  # the local registry on loopback, plain HTTP
        return [f"--{side}-tls-verify=false"], []
    return [], []


def _copy(options: list[str], source: str, target: str) -> str:
    ends = f"docker://{shlex.quote(source)} docker://{shlex.quote(target)}"
    return f"skopeo copy --all --preserve-digests {' '.join(options)} {ends}"


def _inspect(options: list[str], reference: str) -> str:
    return f"skopeo inspect --raw {' '.join(options)} docker://{shlex.quote(reference)}"


def _guard(target: ImageSpec, digest: str, options: list[str]) -> list[str]:
    """Stop when the target tag names another image (a promoted tag is not pushed over)."""
    failure = shlex.quote(
        f"stagingkub: {target.remote_ref} names another image than {digest} already: promote "
        "under another tag (--to-tag), or print the script with --overwrite to replace it."
    )
    return [
        f"STAGINGKUB_FOUND=$( ({_inspect(options, target.remote_ref)} 2>/dev/null || true) "
        '| sha256sum | cut -d" " -f1)',
        f'[ "$STAGINGKUB_FOUND" = {NOTHING} ] || [ "$STAGINGKUB_FOUND" = '
        f"{digest.split(':', 1)[1]} ] || {{ echo {failure} >&2; exit 1; }}",
    ]


def _check(reference: str, digest: str, options: list[str]) -> str:
    failure = shlex.quote(f"stagingkub: {reference} is not {digest} after the copy")
    return (f'[ "$({_inspect(options, reference)} | sha256sum | cut -d" " -f1)" = '
            f"{digest.split(':', 1)[1]} ] || {{ echo {failure} >&2; exit 1; }}")  # fmt: skip


def _record(promotion: Promotion, digest: str, at: str, options: list[str]) -> list[str]:
    """The promotion record (promotion_record.py), as an OCI layout the script writes."""
    raw = record_manifest(digest, promotion.source.remote_ref, at)
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "annotations": {"org.opencontainers.image.ref.name": "record"},
    }
    index = {"schemaVersion": 2, "manifests": [entry]}
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
             "index.json": json.dumps(index, sort_keys=True).encode(),
             _blob(EMPTY): EMPTY, _blob(raw): raw}  # fmt: skip
    lines = ['STAGINGKUB_RECORD=$(mktemp -d) && mkdir -p "$STAGINGKUB_RECORD/blobs/sha256"']
    lines += [f'printf %s {shlex.quote(data.decode())} > "$STAGINGKUB_RECORD/{name}"'
              for name, data in files.items()]  # fmt: skip
    target = f"{promotion.target.repository}:{record_tag(promotion.target.version)}"
    lines.append(f"skopeo copy --preserve-digests {' '.join(options)} "
                 f'oci:"$STAGINGKUB_RECORD":record docker://{shlex.quote(target)}')  # fmt: skip
    return lines


def _blob(data: bytes) -> str:
    return "blobs/sha256/" + hashlib.sha256(data).hexdigest()

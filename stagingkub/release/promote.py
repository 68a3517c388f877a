"""image.promote: copy the image staging runs, byte for byte, from kind-registry to another
profile's registry (build once; what goes further is what was tested). By default only
the digest the staging release runs with its pods Ready is promoted. One job per module:
promotion_plan (the two ends and their logins), promotion_check (the staging check),
promotion_copy (the copy and its progress), promotion_script (the skopeo script of
--dry), promotion_record (the record in the target registry, and the local copy)."""

from __future__ import annotations

import time

from stagingkub.console import say
from stagingkub.errors import ConfigError, StateError
from stagingkub.registry.copy import Side, manifest, signature_tags
from stagingkub.release.promotion_check import verify_staging
from stagingkub.release.promotion_copy import copy, summary
from stagingkub.release.promotion_plan import Promotion, plan, sides
from stagingkub.release.promotion_record import record, tested
from stagingkub.release.promotion_script import skopeo_lines
from stagingkub.runner import Runner

__all__ = ["Promotion", "plan", "promote", "tested"]


def promote(runner: Runner, settings, promotion: Promotion, *, unverified: bool,
            overwrite: bool = False) -> None:  # fmt: skip
    """The checked digest to the target tag, its signature tags first; or, under --dry, the
    skopeo script that does the same."""
    source, target = sides(promotion)
    digest = source_digest(promotion, source)
    if unverified:
        say(f"--unverified: {digest} is promoted without checking that staging runs it.")
    else:
        say(f"{promotion.source.remote_ref}@{digest}: "
            + verify_staging(runner, settings, promotion.source, digest) + ".")  # fmt: skip
    signatures = signature_tags(source, digest)
    if runner.dry:
        return print_script(runner, promotion, source, digest, signatures, overwrite)
    if promotion.target.auth and not promotion.target.auth[1]:
        raise ConfigError(
            f"The target {promotion.target.push_host} has a user ({promotion.target.auth[0]}) "
            "but STAGINGKUB_PROMOTE_PASSWORD is not set: set it in .env or the environment "
            "(the Jenkinsfile binds PROMOTE_CREDENTIALS to it)."
        )
    if _there_already(promotion, target, digest, signatures, overwrite):
        return _record(promotion, target, digest)
    tally = copy(source, target, digest, promotion.target.version, signatures)
    _record(promotion, target, digest)
    summary(promotion.source.remote_ref, promotion.target.remote_ref, digest, tally, signatures)


def source_digest(promotion: Promotion, source: Side) -> str:
    found = manifest(source, promotion.source.version)
    if found is None:
        raise StateError(
            f"kind-registry has no {promotion.source.remote_ref}: promote copies what staging "
            f"was given. Push it there first (`invoke deploy --version "
            f"{promotion.source.version}`), test it, then promote."
        )
    return found.digest


def _there_already(promotion: Promotion, target: Side, digest: str, signatures: list[str],
                   overwrite: bool) -> bool:  # fmt: skip
    """True when the target tag is digest with every signature tag; StateError when it
    names another image and --overwrite is not given."""
    there = manifest(target, promotion.target.version)
    if there is None:
        return False
    if there.digest != digest and not overwrite:
        raise StateError(
            f"{promotion.target.remote_ref} names {there.digest} already, not {digest}: a "
            "promoted tag is not pushed over. Promote under another tag (--to-tag), or pass "
            "--overwrite to replace it (whatever pulls that tag then gets this image)."
        )
    missing = [tag for tag in signatures if manifest(target, tag) is None]
    if there.digest != digest or missing:
        return False
    say(f"{promotion.target.remote_ref} is {digest} already: nothing to promote.")
    return True


def _record(promotion: Promotion, target: Side, digest: str) -> None:
    record(target, promotion.target, promotion.target_settings.path("cluster.files_dir"),
           digest, promotion.source.remote_ref)  # fmt: skip


def print_script(runner: Runner, promotion: Promotion, source: Side, digest: str,
                 signatures: list[str], overwrite: bool) -> None:  # fmt: skip
    """The same promotion as a skopeo script, by the digests read now."""
    pairs = [(tag, _digest_of(source, tag)) for tag in signatures]
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for line in skopeo_lines(promotion, digest, pairs, at, overwrite=overwrite):
        runner.script(line)


def _digest_of(source: Side, tag: str) -> str:
    found = manifest(source, tag)
    if found is None:
        raise StateError(f"{source.api.url} lost {source.repository}:{tag} while it was read.")
    return found.digest

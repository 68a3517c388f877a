"""image.promote: copy the image staging runs, byte for byte, from kind-registry to another
profile's registry (build once; what goes further is what was tested). By default only
the digest the staging release runs with its pods Ready is promoted."""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from stagingkub.console import human_size, say
from stagingkub.errors import ConfigError, StateError
from stagingkub.external import read_json
from stagingkub.registry.copy import Side, Tally, copy_image, manifest, signature_tags
from stagingkub.release import helm_ops
from stagingkub.release.helm import ReleaseSpec
from stagingkub.release.image import ImageSpec
from stagingkub.runner import Runner

RECORDS = "promotions.json"  # under the target profile's cluster.files_dir


@dataclass(frozen=True)
class Promotion:
    source: ImageSpec  # kind-registry's image of the version
    target: ImageSpec  # the other profile's image and tag
    target_settings: object


def plan(settings, version: str, to_profile: str, to_tag: str = "") -> Promotion:
    """The two ends, or one paragraph saying what is wrong with them."""
    from stagingkub.settings import load

    source = ImageSpec.from_settings(settings, version)
    if source.external:
        raise ConfigError(
            f"image.promote copies from the local registry (kind-registry), and the profile in "
            f"use has registry.mode: external ({source.push_host}). Run it with the staging "
            "profile (no --profile, or the one that deploys to kind), and name the target "
            "with --to."
        )
    target_settings = load(profile=to_profile)
    if target_settings.registry.mode != "external":
        raise ConfigError(
            f"The profile {to_profile!r} has no external registry (its registry.mode is "
            f"{target_settings.registry.mode}): promotion copies to a shared registry such as "
            "Harbor. Set registry.mode: external, host, project and username in that profile "
            "(config/external.yaml is an example)."
        )
    return Promotion(source, ImageSpec.from_settings(target_settings, to_tag or version),
                     target_settings)  # fmt: skip


def sides(promotion: Promotion) -> tuple[Side, Side]:
    s, t = promotion.source, promotion.target
    return Side(s.api(30.0), s.path), Side(t.api(30.0), t.path)


def source_digest(promotion: Promotion, source: Side) -> str:
    found = manifest(source, promotion.source.version)
    if found is None:
        raise StateError(
            f"kind-registry has no {promotion.source.remote_ref}: promote copies what staging "
            f"was given. Push it there first (`invoke deploy --version "
            f"{promotion.source.version}`), test it, then promote."
        )
    return found[2]


def verify_staging(runner: Runner, settings, image: ImageSpec, digest: str) -> str:
    """What the staging release runs must be this digest, its pods Ready; else StateError."""
    spec = ReleaseSpec.from_settings(settings, image.repository, image.version,
                                     helm_ops.values_path(settings))  # fmt: skip
    unknown = (f"so what staging runs is unknown. Deploy {image.version} to staging "
               f"(`invoke deploy --version {image.version}`), or pass --unverified to promote "
               "without that check.")  # fmt: skip
    try:
        release = helm_ops.release_state(runner, spec)
    except StateError as error:
        raise StateError(f"{error} The staging release cannot be read, {unknown}") from None
    if release is None:
        raise StateError(f"The staging release {spec.release} is not installed, {unknown}")
    running = ((release.get("config") or {}).get("rhdemo") or {}).get("image") or {}
    if running.get("digest") != digest:
        shown = f"{running.get('repository')}:{running.get('tag')}@{running.get('digest')}"
        raise StateError(
            f"Staging runs {shown} (release {spec.release}, revision {release.get('version')}), "
            f"not {digest}, which kind-registry holds for {image.version} now: promote only "
            f"what was tested. Deploy it to staging (`invoke deploy.helm --version "
            f"{image.version}`) and test it first, or pass --unverified."
        )
    return _pods_ready(spec, digest)


def _pods_ready(spec: ReleaseSpec, digest: str) -> str:
    kubectl = ["kubectl", "--context", spec.context, "-n", spec.namespace]
    argv = [*kubectl, "get", "pods", "-l", f"app.kubernetes.io/instance={spec.release}",
            "-o", "json"]  # fmt: skip
    pods = (read_json(argv, helm_ops.READ_TIMEOUT, helm_ops.HELM_CHECK) or {}).get("items") or []
    waiting = helm_ops.failing_pods(kubectl, spec.release) if pods else ["(no pod)"]
    if waiting:
        raise StateError(
            f"Staging runs {digest}, but its pods are not Ready ({', '.join(waiting)}): promote "
            "what passed, once the release is healthy (`invoke diag.k8s` says why), or pass "
            "--unverified."
        )
    return f"staging runs it with {len(pods)} pod(s) Ready (release {spec.release})"


def promote(runner: Runner, settings, promotion: Promotion, *, unverified: bool) -> None:
    source, target = sides(promotion)
    digest = source_digest(promotion, source)
    if unverified:
        say(f"--unverified: {digest} is promoted without checking that staging runs it.")
    else:
        say(f"{promotion.source.remote_ref}@{digest}: "
            + verify_staging(runner, settings, promotion.source, digest) + ".")  # fmt: skip
    if runner.dry:
        return print_script(runner, promotion, digest)
    there = manifest(target, promotion.target.version)
    tags = signature_tags(source, digest)
    if there is not None and there[2] == digest and not _missing(target, tags):
        say(f"{promotion.target.remote_ref} is {digest} already: nothing to promote.")
        return record(promotion, digest)
    tally = Tally()
    tally.progress = _progress(tally) if sys.stderr.isatty() else None
    copy_image(source, target, digest, promotion.target.version, tally)
    for tag in tags:
        copy_image(source, target, tag, tag, tally)
    record(promotion, digest)
    _summary(promotion, digest, tally, tags)


def _missing(target: Side, tags: list[str]) -> list[str]:
    return [tag for tag in tags if manifest(target, tag) is None]


def _progress(tally: Tally):
    """On a terminal: the blob streaming now, its bytes, and the total sent, in place."""
    last = [0.0]

    def show(digest: str, done: int, size: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2 or done == size:
            last[0] = now
            sys.stderr.write(f"\r  {digest[:19]}  {_mib(done)} of {_mib(size)}; "
                             f"{_mib(tally.bytes_sent + done)} sent in all\033[K")  # fmt: skip
            sys.stderr.flush()

    return show


def _summary(promotion: Promotion, digest: str, tally: Tally, tags: list[str]) -> None:
    if tally.progress is not None:
        sys.stderr.write("\r\033[K")
    blobs = tally.sent + tally.present + tally.mounted
    extra = f", {tally.mounted} mounted" if tally.mounted else ""
    signed = f" with {', '.join(tags)}" if tags else ""
    say(f"promoted {promotion.source.remote_ref}@{digest} to {promotion.target.remote_ref}"
        f"{signed}: {blobs} blobs, {tally.present} already there{extra}, "
        f"{_mib(tally.bytes_sent)} in {time.monotonic() - tally.started:.1f} s")  # fmt: skip


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB" if size >= 1 << 20 else human_size(size)


def print_script(runner: Runner, promotion: Promotion, digest: str) -> None:
    """The same copy as a standard command, and the digest check after it."""
    for line in skopeo_lines(promotion, digest):
        runner.script(line)


def skopeo_lines(promotion: Promotion, digest: str) -> list[str]:
    """`skopeo copy --all --preserve-digests` (credentials by variable name), then a check
    that the target's manifest hashes to the source's digest. A CA goes into a folder of
    its own: skopeo reads every *.key in a cert dir as a client key."""
    s, t = promotion.source, promotion.target
    lines, source_tls, target_tls = [], ["--src-tls-verify=false"], []
    for cafile, variable, options in ((s.cafile, "STAGINGKUB_SRC_CERTS", source_tls),
                                      (t.cafile, "STAGINGKUB_DEST_CERTS", target_tls)):  # fmt: skip
        if cafile:
            lines.append(
                f'{variable}=$(mktemp -d) && cp {shlex.quote(cafile)} "${variable}/ca.crt"'
            )
            side = "src" if options is source_tls else "dest"
            options[:] = [f'--{side}-cert-dir="${variable}"']
    if t.auth:
        lines.append(f"STAGINGKUB_PROMOTE_CREDENTIALS={shlex.quote(t.auth[0])}:"
                     '"$STAGINGKUB_REGISTRY_PASSWORD"')  # fmt: skip
    login = ' --dest-creds "$STAGINGKUB_PROMOTE_CREDENTIALS"' if t.auth else ""
    ends = f"docker://{shlex.quote(s.remote_ref)} docker://{shlex.quote(t.remote_ref)}"
    lines.append(f"skopeo copy --all --preserve-digests {' '.join(source_tls + target_tls)}"
                 f"{login} {ends}")  # fmt: skip
    inspect_tls = " ".join(o.replace("--dest-", "--") for o in target_tls)
    creds = ' --creds "$STAGINGKUB_PROMOTE_CREDENTIALS"' if t.auth else ""
    failure = shlex.quote(f"stagingkub: {t.remote_ref} is not {digest} after the copy")
    lines.append(
        f'[ "$(skopeo inspect --raw {inspect_tls}{creds} docker://{shlex.quote(t.remote_ref)} '
        f'| sha256sum | cut -d" " -f1)" = {digest.split(":", 1)[1]} ] '
        f"|| {{ echo {failure} >&2; exit 1; }}"
    )
    return lines


def record(promotion: Promotion, digest: str) -> None:
    """Remember what was promoted where, so a deploy of it can say it is what staging tested."""
    path = promotion.target_settings.path("cluster.files_dir", RECORDS)
    records = _records(path)
    records[promotion.target.remote_ref] = {
        "digest": digest, "from": promotion.source.remote_ref,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _records(path: Path) -> dict:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def promoted(files_dir: Path, reference: str) -> dict:
    """What image.promote recorded for reference (digest, from, at), or {}."""
    found = _records(files_dir / RECORDS).get(reference)
    return found if isinstance(found, dict) else {}


def tested(settings, reference: str, digest: str) -> str:
    """For deploy's closing line: that reference@digest is what staging tested, or ''."""
    found = promoted(settings.path("cluster.files_dir"), reference)
    if found.get("digest") != digest:
        return ""
    return f"This is the digest staging tested (promoted from {found['from']} at {found['at']})."

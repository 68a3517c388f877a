"""registry.gc: the registry's own garbage collector, run the way it documents as safe.

`registry garbage-collect` must not run while the registry accepts writes
(uploads during the mark phase lose their layers). So: refuse while an upload is
in progress, run `--dry-run` against the live data to show what would go, then
with --yes stop the registry, collect in a one-off container on the same volume,
start it again, and check that every remaining tag still resolves with all its blobs.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from stagingkub.console import human_size, say, unconfirmed
from stagingkub.docker import state as docker_state
from stagingkub.errors import StagingkubError, StateError
from stagingkub.registry.api import RegistryHTTPError, TagInfo
from stagingkub.registry.ops import require_local, running_registry, wait_healthy
from stagingkub.registry.plan import RegistrySpec
from stagingkub.runner import Runner

V2 = "/var/lib/registry/docker/registry/v2"
CONFIGS = ("/etc/distribution/config.yml", "/etc/docker/registry/config.yml")  # registry 3, 2
ACTIVE_UPLOAD = 600  # seconds: an upload written to this recently is in progress
_ELIGIBLE = re.compile(r"blob eligible for deletion: (sha256:[0-9a-f]{64})")
_MANIFESTS = re.compile(r"(\d+) manifests eligible for deletion")


@dataclass(frozen=True)
class Upload:
    repository: str
    uuid: str
    age: float  # seconds since it was last written


def config_path(engine, name: str, image: str) -> str:
    """The image's config file: registry:3 moved it to /etc/distribution/config.yml."""
    for path in CONFIGS:
        if engine.has_file(name, path):
            return path
    return CONFIGS[0] if image.rsplit(":", 1)[-1].startswith("3") else CONFIGS[1]


def uploads(engine, name: str, now: float | None = None) -> list[Upload]:
    """Upload sessions in the registry's storage, newest write first. Fails closed: when
    the storage cannot be read, gc is refused rather than assumed safe."""
    now = time.time() if now is None else now
    newest: dict[tuple[str, str], float] = {}
    try:
        files = engine.walk(name, f"{V2}/repositories")
    except StagingkubError as error:
        raise StateError(
            f"registry.gc could not check {name} for uploads in progress, so it collects "
            f"nothing (an upload during the collection loses its layers): {error}"
        ) from None
    for path, _, mtime in files:
        head, marker, tail = path.partition("/_uploads/")
        if not marker:
            continue
        key = (head.removeprefix("repositories/"), tail.split("/", 1)[0])
        newest[key] = max(newest.get(key, 0.0), mtime)
    found = [Upload(repo, uuid, max(0.0, now - mtime)) for (repo, uuid), mtime in newest.items()]
    return sorted(found, key=lambda upload: upload.age)


def refuse_active_uploads(found: list[Upload], spec: RegistrySpec, stopped: bool = False):
    """Refuse while an upload is in progress (stopped: found once the registry was stopped,
    which is then started again)."""
    active = [u for u in found if u.age < ACTIVE_UPLOAD]
    if active:
        shown = ", ".join(f"{u.repository} ({u.age:.0f} s ago)" for u in active[:5])
        raise StateError(
            f"{len(active)} upload(s) to {spec.name} are in progress: {shown}. Garbage "
            "collection during an upload deletes the layers being pushed. Wait for the "
            f"push to finish (an upload idle for {ACTIVE_UPLOAD // 60} minutes counts as "
            "abandoned) and run registry.gc again. "
            + ("The upload started after the first check; the registry was started again "
               "and nothing was collected." if stopped else "Nothing was changed.")
        )  # fmt: skip
    if found:
        say(
            f"{len(found)} abandoned upload(s) (idle over {ACTIVE_UPLOAD // 60} minutes) are "
            "left to the registry, which purges them itself."
        )


def gc_argv(spec: RegistrySpec, image: str, config: str, *flags: str) -> list[str]:
    """A one-off registry on the same volumes: the running one may be stopped meanwhile."""
    return [
        "docker", "run", "--rm", "--volumes-from", spec.name,
        "--label", "io.stagingkub.managed=true", "--label", "io.stagingkub.role=registry-gc",
        *[arg for k, v in spec.extra_labels for arg in ("--label", f"{k}={v}")],
        image, "garbage-collect", config, *flags,
    ]  # fmt: skip


def blob_path(digest: str) -> str:
    algorithm, hexdigest = digest.split(":", 1)
    return f"{V2}/blobs/{algorithm}/{hexdigest[:2]}/{hexdigest}/data"


def blob_sizes(engine, name: str, digests: list[str]) -> dict[str, int]:
    """digest -> bytes on disk, for the blobs still there."""
    sizes = {}
    for digest in digests:
        stat = engine.stat(name, blob_path(digest))
        if stat is not None:
            sizes[digest] = int(stat.get("size", 0))
    return sizes


def stored_tags(spec: RegistrySpec) -> list[TagInfo]:
    """Every tag the registry holds (gc checks them all after collecting)."""
    try:
        with spec.api(10.0) as api:
            return api.all_tags()
    except RegistryHTTPError as error:
        raise StateError(f"Cannot read the registry at {spec.url}: {error}") from None


def broken_tags(spec: RegistrySpec) -> tuple[int, list[str]]:
    """(tags checked, 'repo:tag: what is missing') after the collection: every manifest,
    then every blob it names (HEAD), concurrently over reused connections."""

    tags = stored_tags(spec)
    with spec.api(10.0) as api:
        pairs = sorted({(t.repository, blob) for t in tags for blob in t.blobs})

        def head(pair: tuple[str, str]) -> int:
            return api.request("HEAD", f"/v2/{pair[0]}/blobs/{pair[1]}")[0]

        with ThreadPoolExecutor(max_workers=8) as pool:
            status = dict(zip(pairs, pool.map(head, pairs), strict=True))
    broken = [f"{t.repository}:{t.tag}: manifest missing" for t in tags if not t.digest]
    for t in tags:
        for blob in t.blobs:
            if status[(t.repository, blob)] != 200:
                code = status[(t.repository, blob)]
                broken.append(f"{t.repository}:{t.tag}: blob {blob[:19]} answers {code}")
    return len(tags), broken


def gc(runner: Runner, settings, *, yes: bool) -> None:
    spec = require_local(settings, "registry.gc")
    engine = docker_state.client()
    state = running_registry(engine, spec)
    if spec.gc_marker.exists() and not runner.dry:
        verify_unfinished(spec)
    config = config_path(engine, spec.name, state.image)
    refuse_active_uploads(uploads(engine, spec.name), spec)
    multiarch = any(tag.index for tag in stored_tags(spec))
    flags = [] if multiarch else ["--delete-untagged"]
    if multiarch:
        say(
            "A multi-arch manifest list is stored: collecting without --delete-untagged, "
            "which would delete the platform manifests the list points at."
        )
    preview = runner.run(gc_argv(spec, state.image, config, *flags, "--dry-run"), hide="both")
    eligible = list(dict.fromkeys(_ELIGIBLE.findall(preview.stdout or "")))
    if runner.dry:
        runner.note("with --yes: stop the registry, check for uploads, collect, start it, "
                    "check every tag")  # fmt: skip
        _collect(runner, spec, state.image, config, flags)
        return
    sizes = blob_sizes(engine, spec.name, eligible)
    what = _would_free(preview.stdout or "", eligible, sizes)
    say(f"garbage-collect --dry-run: {what}.")
    if not eligible:
        say("Nothing to collect.")
        return
    if not yes:
        unconfirmed(what)
        return
    spec.gc_marker.parent.mkdir(parents=True, exist_ok=True)
    spec.gc_marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + "\n")
    _collect(runner, spec, state.image, config, flags, engine=engine)
    _report(engine, spec, sizes)
    spec.gc_marker.unlink(missing_ok=True)


def _would_free(preview: str, eligible: list[str], sizes: dict[str, int]) -> str:
    """What the dry run says it would free, in bytes."""
    manifests = _MANIFESTS.search(preview)
    untagged = int(manifests.group(1)) if manifests else 0
    return (
        f"{len(eligible)} blob(s) of {human_size(sum(sizes.values()))}"
        + (f", {untagged} untagged manifest(s)" if untagged else "")
        + " would be freed"
    )


def verify_unfinished(spec: RegistrySpec) -> None:
    """The last collection was interrupted (between stop and start, or before its check):
    every tag is checked before another one; a broken tag refuses it."""
    started = spec.gc_marker.read_text().strip()
    say(f"The last registry.gc (started {started}) did not finish: checking every tag first.")
    checked, broken = broken_tags(spec)
    _refuse_broken(broken, "The last registry.gc was interrupted", " Then re-run "
                   "registry.gc; nothing was collected.")  # fmt: skip
    spec.gc_marker.unlink(missing_ok=True)
    say(f"All {checked} tag(s) resolve with every blob: the interrupted collection lost nothing.")


def _refuse_broken(broken: list[str], lead: str, then: str = "") -> None:
    """Tags that no longer resolve are an error naming them, with the fix."""
    if broken:
        raise StateError(
            f"{lead}: {len(broken)} tag(s) no longer resolve: "
            + "; ".join(broken[:5])
            + ". Push those versions again (`invoke image.push --version V`)."
            + then
        )


def _collect(runner: Runner, spec: RegistrySpec, image: str, config: str, flags,
             engine=None) -> None:  # fmt: skip
    """Stop the world, look again for uploads (one may have started since the first look:
    its finished layers would be collected before its manifest names them), collect, and
    start the registry again whatever happened."""
    runner.run(["docker", "stop", spec.name])
    try:
        if engine is not None:  # not under --dry
            refuse_active_uploads(uploads(engine, spec.name), spec, stopped=True)
        runner.run(gc_argv(spec, image, config, *flags), hide="both")
    finally:
        runner.run(["docker", "start", spec.name])
        wait_healthy(runner, spec, started=True)


def _report(engine, spec: RegistrySpec, sizes: dict[str, int]) -> None:
    remaining = blob_sizes(engine, spec.name, list(sizes))
    freed = sum(size for digest, size in sizes.items() if digest not in remaining)
    checked, broken = broken_tags(spec)
    _refuse_broken(broken, "After garbage collection")
    say(
        f"Freed {human_size(freed)} ({len(sizes) - len(remaining)} blob(s)); all {checked} "
        f"remaining tag(s) resolve with every blob."
    )

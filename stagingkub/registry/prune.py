"""registry.prune: delete old tags through the registry API, keeping the newest N.

Every tag of the image the cluster runs, and of the images of its last
registry.keep_rollback helm revisions, is kept (registry/protection.py); when those
cannot be read, nothing is deleted unless --unprotected says so. Without --yes nothing
is deleted: the plan is listed, and off a terminal the task exits 1 so a Jenkins step
cannot pass as if it had pruned. Under --dry the deletes are printed as curl commands.
"""

from __future__ import annotations

import datetime
import re
import shlex
from concurrent.futures import ThreadPoolExecutor

from stagingkub.console import print_table, say, unconfirmed
from stagingkub.docker import state as docker_state
from stagingkub.errors import StateError
from stagingkub.registry import protection
from stagingkub.registry.api import RegistryHTTPError
from stagingkub.registry.ops import require_local, running_registry
from stagingkub.registry.plan import RegistrySpec
from stagingkub.registry.retention import PrunePlan, TagRecord, by_tag, plan_prune
from stagingkub.runner import Runner

REPOSITORIES = "/var/lib/registry/docker/registry/v2/repositories"


def collect(engine, spec: RegistrySpec, repository: str = "") -> list[TagRecord]:
    """Every tag with its digest and creation time; push times where creation times tie."""
    try:
        with spec.api(10.0) as api, ThreadPoolExecutor(max_workers=8) as pool:
            pairs = api.pairs(pool, [repository] if repository else None)
            records = [r for r in pool.map(lambda p: _record(api, *p), pairs) if r]
            return _with_push_times(pool, engine, spec, records)
    except RegistryHTTPError as error:
        raise StateError(f"Cannot read the registry at {spec.url}: {error}") from None


def _record(api, repository: str, tag: str) -> TagRecord | None:
    found = api.manifest(repository, tag)
    if found is None:  # deleted since the tag list was read
        return None
    digest, document = found
    children = tuple(child["digest"] for child in document.get("manifests") or [])
    return TagRecord(repository, tag, digest, api.created(repository, document), children=children)


def _with_push_times(pool, engine, spec: RegistrySpec, records: list[TagRecord]):
    """Spring Boot's build-image stamps every image 1980-01-01 (reproducible builds): where
    creation times tie, the time each tag was last pushed decides."""
    seen: dict[tuple[str, str], int] = {}
    for record in records:
        seen[(record.repository, record.created)] = (
            seen.get((record.repository, record.created), 0) + 1
        )
    tied = [r for r in records if seen[(r.repository, r.created)] > 1]

    def pushed(record: TagRecord) -> TagRecord:
        path = f"{REPOSITORIES}/{record.repository}/_manifests/tags/{record.tag}/current/link"
        stat = engine.stat(spec.name, path) or {}
        return TagRecord(**{**record.__dict__, "pushed": parse_mtime(stat.get("mtime", ""))})

    timed = {(r.repository, r.tag): r for r in pool.map(pushed, tied)}
    return [timed.get((r.repository, r.tag), r) for r in records]


def parse_mtime(text: str) -> float:
    """Seconds since the epoch from the engine's '2026-11-28T17:41:59.88740812Z'; 0 if unknown."""
    if not text:
        return 0.0
    head, _, rest = text.rstrip("Z").partition(".")
    try:
        moment = datetime.datetime.fromisoformat(head).replace(tzinfo=datetime.UTC)
    except ValueError:
        return 0.0
    fraction = float(f"0.{rest}") if rest.isdigit() else 0.0
    return moment.timestamp() + fraction


def show(plan: PrunePlan, err: bool = False) -> None:
    """The plan as a table (on stderr under --dry, where stdout is the script)."""
    rows = [("REPOSITORY", "TAG", "CREATED", "DIGEST", "ACTION")]
    for d in plan.decisions:
        action = ("delete: " if d.delete else "keep: ") + d.reason
        created = d.record.created[:19].replace("T", " ") or "unknown"
        rows.append((d.record.repository, d.record.tag, created, d.record.digest[:19], action))
    print_table(rows, err=err)


def prune(runner: Runner, settings, *, keep: int, repository: str = "", yes: bool,
          unprotected: bool = False) -> None:  # fmt: skip
    spec = require_local(settings, "registry.prune")
    engine = docker_state.client()
    running_registry(engine, spec)
    records = collect(engine, spec, repository)
    if repository and not records:
        raise StateError(
            f"The registry holds no tags in {repository!r}. `invoke registry.ls` lists "
            "its repositories and tags."
        )
    plan = plan_prune(records, keep, by_tag(records, _protected(settings, spec, engine,
                                                                unprotected)))  # fmt: skip
    show(plan, err=runner.dry)
    deletions = plan.deletions
    if not deletions:
        say(f"Nothing to prune: every repository has at most {keep} tags to keep.")
        return
    if runner.dry:
        return print_deletes(runner, spec, deletions)
    if not yes:
        unconfirmed(f"{len(plan.deleted_tags)} tag(s), {len(deletions)} manifest(s) would be "
                    "deleted")  # fmt: skip
        return
    with spec.api(30.0) as api:
        for repo, digest in deletions:
            api.delete_manifest(repo, digest)
    say(
        f"Deleted {len(plan.deleted_tags)} tag(s) ({len(deletions)} manifest(s)). Their layers "
        "still take disk space until `invoke registry.gc --yes` runs."
    )


def _protected(settings, spec: RegistrySpec, engine, unprotected: bool) -> dict:
    if unprotected:
        say("--unprotected: the images the cluster runs or can roll back to are not asked "
            "for, so no tag is protected.")  # fmt: skip
        return {}
    return protection.protected(settings, spec.push_host, engine)


def print_deletes(runner: Runner, spec: RegistrySpec, deletions: list[tuple[str, str]]) -> None:
    for line in delete_lines(spec, deletions):
        runner.script(line)


def delete_lines(spec: RegistrySpec, deletions: list[tuple[str, str]]) -> list[str]:
    """--dry: the deletes as curl commands, with the registry's CA and, for a registry with
    logins, its credentials from the environment through curl's --config on stdin (printf
    is a shell builtin: the password is never an argument of a program; sed escapes the
    `"` and `\\` that curl's quoted string would end or eat, in POSIX sh as Jenkins runs it)."""
    curl = ["curl", "-fsS", "-X", "DELETE", *(["--cacert", spec.cafile] if spec.cafile else [])]
    login = ""
    if spec.credentials:
        user = re.sub(r'([\\"])', r"\\\1", spec.username)
        escaped = r"""printf '%s' "$STAGINGKUB_REGISTRY_PASSWORD" | sed 's/[\\"]/\\&/g'"""
        password = f'"$({escaped})"'
        login = f"printf 'user = \"%s:%s\"\\n' {shlex.quote(user)} {password} | "
        curl += ["--config", "-"]
    return [login + shlex.join([*curl, f"{spec.url}/v2/{repo}/manifests/{digest}"])
            for repo, digest in deletions]  # fmt: skip

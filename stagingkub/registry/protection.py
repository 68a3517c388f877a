"""Which images registry.prune must keep: the one the helm release runs and those of its
last registry.keep_rollback revisions (`helm rollback` targets), by digest, since the chart
pins tag@digest. When that cannot be known, prune refuses (fail closed)."""

from __future__ import annotations

import shlex
import shutil

from stagingkub.console import say
from stagingkub.docker.state import KIND_CLUSTER_LABEL
from stagingkub.errors import StateError
from stagingkub.external import parse_json, read

HELM_TIMEOUT = 30


class Unknown(StateError):
    """What the cluster runs or can roll back to cannot be read: prune deletes nothing."""


def cannot_know(cause: str, fix: str) -> Unknown:
    return Unknown(
        f"registry.prune cannot tell which images the cluster runs or can roll back to: "
        f"{cause}. Nothing was deleted. {fix}; or, to delete without that protection, re-run "
        "with --unprotected."
    )


def protected(settings, push_host: str, engine) -> dict[tuple[str, str], str]:
    """{(repository, digest) or (repository, 'tag:' + tag): why} for the release's images."""
    if settings.cluster.mode == "kind":
        states = _kind_nodes(engine, settings.cluster.name)
        if not states:
            say(f"No kind cluster {settings.cluster.name}: nothing runs from this registry or "
                "can roll back to it, so no tag is protected for a release.")  # fmt: skip
            return {}
        if any(state != "running" for state in states):
            raise cannot_know(f"the kind cluster {settings.cluster.name} is stopped",
                              "Start it with `invoke cluster.create`")  # fmt: skip
    if shutil.which("helm") is None:
        raise cannot_know("helm is not installed", "Install helm (`invoke diag.tools`)")
    history = _history(settings)
    if history is None:
        return {}
    return _images(settings, push_host, history)


def _kind_nodes(engine, name: str) -> list[str]:
    found = engine.containers(all=True, label=f"{KIND_CLUSTER_LABEL}={name}")
    return [c.get("State", "") for c in found]


def _helm(settings, *args: str) -> list[str]:
    d = settings.deploy
    return ["helm", *args, "--namespace", d.namespace, "--kube-context", settings.kube_context,
            "-o", "json"]  # fmt: skip


def _ask(argv: list[str]):
    """helm's JSON answer, None for a release that is not installed; else Unknown."""
    fix = "Check that the cluster answers: `invoke cluster.status`"
    try:
        result = read(argv, HELM_TIMEOUT, "")
    except StateError as error:
        raise cannot_know(str(error).rstrip("."), fix) from None
    if result.returncode == 0:
        return parse_json(argv, result.stdout)
    if "release: not found" in result.stderr:
        return None
    words = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
    raise cannot_know(f"`{shlex.join(argv)}` failed ({words[:200]})", fix)


def _history(settings) -> list[dict] | None:
    history = _ask(_helm(settings, "history", settings.deploy.release, "--max", "50"))
    if history is None:
        say(f"The release {settings.deploy.release} is not installed in "
            f"{settings.kube_context}: no tag is protected for it.")  # fmt: skip
    return history


def rollback_targets(history: list[dict], keep_rollback: int) -> list[tuple[int, str]]:
    """(revision, why) for the release's current revision, every newer one (a pending or
    failed upgrade: the cluster may run its pods) and the keep_rollback before it."""
    numbers = sorted(int(row["revision"]) for row in history)
    if not numbers:
        return []
    statuses = {int(row["revision"]): str(row.get("status", "")) for row in history}
    deployed = [n for n, status in statuses.items() if status == "deployed"]
    current = max(deployed) if deployed else numbers[-1]
    newer = [(n, f"revision {n} is {statuses[n]}: the cluster may run it")
             for n in numbers if n > current]  # fmt: skip
    earlier = [n for n in numbers if n < current][::-1][:keep_rollback]
    return [(current, f"deployed: the release runs revision {current}"), *newer] + [
        (n, f"rollback target of revision {n}") for n in earlier
    ]


def image_of(values: dict | None) -> tuple[str, str] | None:
    """(repository, digest or 'tag:' + tag) of the release's computed values (chart
    defaults included); None when they name no image."""
    image = ((values or {}).get("rhdemo") or {}).get("image") or {}
    repository = str(image.get("repository") or "")
    key = str(image.get("digest") or "") or ("tag:" + str(image["tag"]) if image.get("tag") else "")
    return (repository, key) if repository and key else None


def _images(settings, push_host: str, history: list[dict]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    release, prefix = settings.deploy.release, push_host + "/"
    for revision, why in rollback_targets(history, settings.registry.keep_rollback):
        argv = _helm(settings, "get", "values", release, "--all", "--revision", str(revision))
        image = image_of(_ask(argv))
        if image is None:
            raise cannot_know(
                f"revision {revision} of {release} names no image in its values "
                "(rhdemo.image.repository and a tag or digest)",
                f"Check `{shlex.join(argv)}`",
            )
        repository, key = image
        if repository.startswith(prefix):  # else another registry's image
            found.setdefault((repository[len(prefix) :], key), f"{why} (release {release})")
    return found

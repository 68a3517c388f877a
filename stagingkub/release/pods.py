"""The release's pods, read once per question: the one `kubectl get pods -l
app.kubernetes.io/instance=<release>` reader behind deploy's diagnostics, promote's Ready
check and dev's log stream, so they cannot disagree on what Ready means."""

from __future__ import annotations

from dataclasses import dataclass, field

from stagingkub.external import read_json

READ_TIMEOUT = 60
LIVE_ANNOTATION = "stagingkub.io/live"  # invoke dev's live update: from=, inputs=, files=
CHECK = "Check that the cluster answers (`invoke cluster.status`) and re-run."


@dataclass(frozen=True)
class Pod:
    name: str
    created: str  # RFC 3339, as the API server writes it (sorts as text)
    ready: bool
    image_ids: tuple[str, ...]  # each container's imageID (repo@sha256:…), once it started
    uid: str = ""
    annotations: dict = field(default_factory=dict, compare=False)
    readiness: tuple[str, int] | None = None  # the first container's HTTP probe: path, port


def release_pods(kubectl: list[str], release: str, timeout: float | None = None) -> list[Pod]:
    """The release's pods (not those being deleted), oldest first; a cluster that does not
    answer is a StateError."""
    argv = [*kubectl, "get", "pods", "-l", f"app.kubernetes.io/instance={release}", "-o", "json"]
    items = (read_json(argv, timeout or READ_TIMEOUT, CHECK) or {}).get("items") or []
    # a pod being deleted (a rollout's old one, until its grace period ends) is not the
    # release's any more, Ready or not
    pods = [
        _pod(item) for item in items if not (item.get("metadata") or {}).get("deletionTimestamp")
    ]
    return sorted(pods, key=lambda pod: pod.created)


def _pod(item: dict) -> Pod:
    status = item.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    images = tuple(c.get("imageID") or "" for c in status.get("containerStatuses") or [])
    metadata = item.get("metadata") or {}
    return Pod(
        metadata.get("name", "?"), metadata.get("creationTimestamp") or "", ready, images,
        uid=metadata.get("uid") or "", annotations=dict(metadata.get("annotations") or {}),
        readiness=_readiness(item),
    )  # fmt: skip


def _readiness(item: dict) -> tuple[str, int] | None:
    """The first container's readiness probe as (path, port number), a named port resolved."""
    containers = (item.get("spec") or {}).get("containers") or [{}]
    get = ((containers[0].get("readinessProbe") or {}).get("httpGet")) or {}
    port = get.get("port")
    if isinstance(port, str):
        named = {p.get("name"): p.get("containerPort") for p in containers[0].get("ports") or []}
        port = named.get(port)
    return (get.get("path") or "/", port) if isinstance(port, int) else None


def live_changes(annotations: dict) -> dict[str, str]:
    """What a pod's live annotation says (from=IMAGE inputs=DIGEST files=N); {} without."""
    value = annotations.get(LIVE_ANNOTATION) or ""
    return dict(part.split("=", 1) for part in value.split() if "=" in part)


def not_ready(pods: list[Pod]) -> list[str]:
    return [pod.name for pod in pods if not pod.ready]


def newest_ready(pods: list[Pod]) -> Pod | None:
    """The newest pod whose Ready condition is True (the one a rollout left)."""
    ready = [pod for pod in pods if pod.ready]
    return ready[-1] if ready else None

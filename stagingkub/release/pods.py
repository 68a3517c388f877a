"""The release's pods, read once per question: the one `kubectl get pods -l
app.kubernetes.io/instance=<release>` reader behind deploy's diagnostics, promote's Ready
check and dev's log stream, so they cannot disagree on what Ready means."""

from __future__ import annotations

from dataclasses import dataclass

from stagingkub.external import read_json

READ_TIMEOUT = 60
CHECK = "Check that the cluster answers (`invoke cluster.status`) and re-run."


@dataclass(frozen=True)
class Pod:
    name: str
    created: str  # RFC 3339, as the API server writes it (sorts as text)
    ready: bool
    image_ids: tuple[str, ...]  # each container's imageID (repo@sha256:…), once it started


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
    return Pod(metadata.get("name", "?"), metadata.get("creationTimestamp") or "", ready, images)


def not_ready(pods: list[Pod]) -> list[str]:
    return [pod.name for pod in pods if not pod.ready]


def newest_ready(pods: list[Pod]) -> Pod | None:
    """The newest pod whose Ready condition is True (the one a rollout left)."""
    ready = [pod for pod in pods if pod.ready]
    return ready[-1] if ready else None

"""Helpers for the tests against a REAL kind cluster: the kind CLI and node image that
`uv run nox -s kind_node` builds here (KIND, NODE_IMAGE), real kubectl and helm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.stack import Stack, docker, free_port

NAMESPACE = "rhdemo-staging"
MANIFESTS = ("application/vnd.docker.distribution.manifest.v2+json, "
             "application/vnd.oci.image.manifest.v1+json")  # fmt: skip
MISSING = (
    "tests against a real cluster need the kind CLI and a node image: `uv run nox -s "
    "kind_node` builds both here and prints KIND=… and NODE_IMAGE=…; export those two (a "
    "machine with internet may use kind on PATH and NODE_IMAGE=kindest/node:v1.34.x)."
)


def tools() -> tuple[str, str, str] | None:
    """(kind, node image, PATH with kind's folder first), or None when one is missing."""
    kind = os.environ.get("KIND") or shutil.which("kind") or ""
    node_image = os.environ.get("NODE_IMAGE", "")
    if not (kind and Path(kind).is_file() and node_image):
        return None
    path = os.pathsep.join([str(Path(kind).resolve().parent), os.environ["PATH"]])
    if not all(shutil.which(tool, path=path) for tool in ("kubectl", "helm", "docker")):
        return None
    return kind, node_image, path


def run(stack: Stack, *argv: str, timeout: float = 120, check: bool = False):
    result = subprocess.run(list(argv), env=stack.env(), capture_output=True, text=True,
                            timeout=timeout)  # fmt: skip
    if check:
        assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result


def kubectl(stack: Stack, *args: str, timeout: float = 120, check: bool = True):
    return run(stack, "kubectl", "--context", f"kind-{stack.cluster}", "-n", NAMESPACE, *args,
               timeout=timeout, check=check)  # fmt: skip


def helm_revisions(stack: Stack, release: str = "rhdemo") -> list[dict]:
    found = run(stack, "helm", "history", release, "-n", NAMESPACE, "--kube-context",
                f"kind-{stack.cluster}", "-o", "json", check=True)  # fmt: skip
    return json.loads(found.stdout)


def pods(stack: Stack, release: str = "rhdemo") -> list[dict]:
    """The release's pods that are not being deleted, oldest first."""
    found = kubectl(stack, "get", "pods", "-l", f"app.kubernetes.io/instance={release}",
                    "-o", "json")  # fmt: skip
    items = [p for p in json.loads(found.stdout)["items"]
             if not p["metadata"].get("deletionTimestamp")]  # fmt: skip
    return sorted(items, key=lambda p: p["metadata"]["creationTimestamp"])


def replica_sets(stack: Stack, release: str = "rhdemo") -> list[str]:
    found = kubectl(stack, "get", "rs", "-l", f"app.kubernetes.io/instance={release}",
                    "-o", "name")  # fmt: skip
    return sorted(found.stdout.split())


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in pod["status"].get("conditions") or [])  # fmt: skip


def image_id(pod: dict) -> str:
    return (pod["status"].get("containerStatuses") or [{}])[0].get("imageID", "")


def wait_ready_pod(stack: Stack, release: str = "rhdemo", seconds: float = 180,
                   digest: str = "") -> dict:  # fmt: skip
    """The release's single pod once Ready (and running `digest`, when given)."""
    deadline = time.monotonic() + seconds
    while True:
        found = pods(stack, release)
        if len(found) == 1 and ready(found[0]) and image_id(found[0]).endswith(digest):
            return found[0]
        assert time.monotonic() < deadline, json.dumps(found, indent=1)[-3000:]
        time.sleep(0.25)  # bench/real_cluster.py times up to here


def wait_pull_failure(stack: Stack, release: str = "rhdemo", seconds: float = 180) -> dict:
    """A pod of the release (not one being deleted) whose container waits on a failed pull
    (ErrImagePull / ImagePullBackOff): the kubelet has tried, and said why."""
    deadline = time.monotonic() + seconds
    while True:
        for pod in pods(stack, release):
            statuses = pod["status"].get("containerStatuses") or []
            waiting = [(s.get("state") or {}).get("waiting") or {} for s in statuses]
            if any(w.get("reason") in ("ErrImagePull", "ImagePullBackOff") for w in waiting):
                return pod
        assert time.monotonic() < deadline, json.dumps(pods(stack, release), indent=1)[-3000:]
        time.sleep(1)


def wait_nodes_ready(stack: Stack, cluster: str, count: int, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        found = run(stack, "kubectl", "--context", f"kind-{cluster}", "get", "nodes", "-o",
                    "json")  # fmt: skip
        items = json.loads(found.stdout or "{}").get("items") or []
        if len(items) == count and all(ready(node) for node in items):
            return
        assert time.monotonic() < deadline, found.stdout[-2000:] + found.stderr
        time.sleep(2)


def registry_digest(stack: Stack, name: str, tag: str) -> str:
    answer = httpx.head(f"{stack.url}/v2/{name}/manifests/{tag}", timeout=10,
                        headers={"Accept": MANIFESTS})  # fmt: skip
    answer.raise_for_status()
    return answer.headers["Docker-Content-Digest"]


def page(stack: Stack, path: str = "/", release: str = "rhdemo") -> str:
    """GET path through `kubectl port-forward svc/<release>` (bounded)."""
    port = free_port()
    forward = subprocess.Popen(
        ["kubectl", "--context", f"kind-{stack.cluster}", "-n", NAMESPACE, "port-forward",
         f"svc/{release}", f"{port}:80"],
        env=stack.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).text
            except (OSError, httpx.HTTPError):
                assert time.monotonic() < deadline, "port-forward never answered"
                time.sleep(0.5)
    finally:
        forward.terminate()
        forward.wait(10)


def forget_image(stack: Stack, node: str, reference: str) -> None:
    """The node forgets every image of reference's repository, so the next pod pulls it
    again. By ID: the kubelet pulled `repo:tag@digest`, which containerd keeps under the
    digest alone (`crictl images` shows the tag as <none>), so `crictl rmi repo:tag`
    finds nothing; and `crictl images -q <repo>` lists every image when none matches (it
    would take the pause image along)."""
    repository = reference.rsplit("@", 1)[0].rsplit(":", 1)[0]
    for image in _images_of(node, repository):
        docker("exec", node, "crictl", "rmi", image, timeout=60)
    assert _images_of(node, repository) == [], f"{node} still holds {repository}"


def _images_of(node: str, repository: str) -> list[str]:
    listed = json.loads(docker("exec", node, "crictl", "images", "-o", "json").stdout)
    return [
        image["id"]
        for image in listed.get("images") or []
        if any(
            name.startswith(repository + ("@" if "@" in name else ":"))
            for name in (image.get("repoTags") or []) + (image.get("repoDigests") or [])
        )
    ]


def restart_pods(stack: Stack, release: str = "rhdemo") -> None:
    kubectl(stack, "delete", "pod", "-l", f"app.kubernetes.io/instance={release}",
            "--wait=false")  # fmt: skip


def delete_cluster(stack: Stack, name: str) -> None:
    run(stack, "kind", "delete", "cluster", "--name", name, timeout=300)

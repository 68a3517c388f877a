"""diag.k8s: the release's pods, their events and logs, a failed pull's cause, stale digests."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

from stagingkub.cluster.ops import stopped_nodes
from stagingkub.cluster.plan import ClusterSpec
from stagingkub.diag.engine import FAIL, OK, WARN, Probe, Result
from stagingkub.diag.host import engine
from stagingkub.diag.nodes import cluster_spec, known, nodes, registry_digest
from stagingkub.external import parse_json, read
from stagingkub.pull_errors import Known, classify, failed_pull
from stagingkub.release.image import ImageSpec
from stagingkub.release.pods import live_changes


def _kubectl(spec: ClusterSpec, namespace: str, *args: str) -> subprocess.CompletedProcess:
    argv = ["kubectl", "--context", spec.context, "-n", namespace, *args, "--request-timeout=10s"]
    return read(argv, 30, f"Check `kubectl --context {spec.context} cluster-info`.")


def check_k8s(probe: Probe) -> Result:

    from stagingkub.console import INSTALL_HINTS

    if shutil.which("kubectl") is None:
        return Result("k8s", FAIL, "kubectl is not installed", fix=INSTALL_HINTS["kubectl"])
    spec, namespace = cluster_spec(probe), probe.settings.deploy.namespace
    release = probe.settings.deploy.release
    stopped = _stopped(probe, spec)
    if stopped is not None:
        return stopped
    selector = f"app.kubernetes.io/instance={release}"
    pods = _kubectl(spec, namespace, "get", "pods", "-l", selector, "-o", "json")
    if pods.returncode != 0:
        return Result(
            "k8s",
            FAIL,
            f"kubectl cannot read {namespace} ({spec.context})",
            [pods.stderr.strip()[:500]],
            fix=f"`kubectl --context {spec.context} cluster-info`; `invoke cluster.status`",
        )
    items = (parse_json(["kubectl", "get", "pods", "-l", selector], pods.stdout) or {}).get(
        "items"
    ) or []
    if not items:
        return Result(
            "k8s",
            WARN,
            f"no pods of the release {release} in {namespace}",
            fix="`invoke deploy --version V`",
        )
    items, leaving = _staying(items)
    states = {pod["metadata"]["name"]: _pod_state(pod) for pod in items}
    evidence = [f"pod {name}: {state}" for name, state in states.items()]
    evidence += [f"pod {name}: terminating" for name in leaving]
    broken = [name for name, state in states.items() if state != "Ready"]
    if broken:
        known = replace(_known_for_pods(probe, items), waiting=waiting_pull_error(items))
        return _pods_not_ready(spec, namespace, broken, states, evidence, known)
    return _stale_or_ready(probe, items, namespace, evidence)


def _staying(items: list[dict]) -> tuple[list[dict], list[str]]:
    """(the pods to judge, the names of those being deleted): a rollout's old pod stays
    Ready for its grace period, but it is no longer the release's. When every pod is being
    deleted, they are judged all the same (nothing else runs)."""
    leaving = [pod for pod in items if pod["metadata"].get("deletionTimestamp")]
    staying = [pod for pod in items if not pod["metadata"].get("deletionTimestamp")]
    if not staying:
        return items, []
    return staying, [pod["metadata"]["name"] for pod in leaving]


def _stopped(probe: Probe, spec: ClusterSpec) -> Result | None:
    """Stopped kind nodes (a reboot, or docker stop): the API cannot answer."""
    if probe.settings.cluster.mode != "kind":
        return None
    stopped = stopped_nodes(engine(probe), spec.name)
    if not stopped:
        return None
    return Result(
        "k8s",
        FAIL,
        f"node(s) {', '.join(stopped)} of {spec.name} are stopped (a reboot, or docker stop)",
        fix="`invoke cluster.create` starts them, waits for the API and checks the wiring",
    )


def _pods_not_ready(spec: ClusterSpec, namespace: str, broken: list[str], states: dict,
                    evidence: list[str], known: Known) -> Result:  # fmt: skip
    """What a person reads next: the events, and describe and logs of each pod."""
    events = _kubectl(spec, namespace, "get", "events", "--sort-by=.lastTimestamp")
    evidence += ["events:", *events.stdout.strip().splitlines()[-10:]]
    for name in broken:
        evidence += (
            _kubectl(spec, namespace, "describe", "pod", name).stdout.strip().splitlines()[-15:]
        )
        logs = _kubectl(spec, namespace, "logs", name, "--all-containers", "--tail", "20")
        evidence += ["logs:", *logs.stdout.strip().splitlines()]
    summary = f"{len(broken)} pod(s) not ready in {namespace}"
    fix = "read the events and logs above; `invoke deploy.helm --version V` after fixing"
    if any("ImagePull" in states[n] or "ErrImage" in states[n] for n in broken):
        # this failure's events: an older pod's (another cause, since repaired) may remain
        mine = "\n".join(e for e in events.stdout.splitlines() if any(n in e for n in broken))
        found = failed_pull(mine) or known.waiting
        cause = None
        if found:
            reference, message = found
            cause = classify(message, reference, split_reference(reference)[1] or "V", known)
        if cause is not None:
            return Result("k8s", FAIL, f"{summary}: {cause.summary}", evidence, fix=cause.fix)
        fix = (
            "the node cannot pull the image (ImagePullBackOff/ErrImagePull): `invoke diag.pull "
            "--version V` shows the exact error, `invoke diag.containerd` the wiring"
        )
    return Result("k8s", FAIL, summary, evidence, fix=fix)


def waiting_pull_error(pods: list[dict]) -> tuple[str, str] | None:
    """(image, error) kubelet left in a container's waiting state (reason ErrImagePull:
    the message is the pull's error; ImagePullBackOff's only says it backs off)."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") == "ErrImagePull" and waiting.get("message"):
                return status.get("image", ""), waiting["message"]
    return None


def _known_for_pods(probe: Probe, pods: list[dict]) -> Known:
    """known for the first node and the tag the pods' image names."""
    specs = [pod.get("spec") or {} for pod in pods]
    images = [c.get("image", "") for spec in specs for c in spec.get("containers") or []]
    tag = next((split_reference(i)[1] for i in images if split_reference(i)[1]), "latest")
    found = nodes(probe)
    if not found:
        return Known()
    return known(probe, found[0], tag)


def _stale_or_ready(probe: Probe, items: list[dict], namespace: str, evidence: list[str]):
    """Ready pods: do they run the digest the registry holds for their tag?"""
    stale = stale_pods(probe, items)
    if not stale:
        return _live_or_ready(items, namespace, evidence)
    tags = sorted({tag for _, tag in stale})
    return Result(
        "k8s",
        FAIL,
        f"{len(stale)} pod(s) run an older image than the registry holds for {', '.join(tags)}",
        evidence + [line for line, _ in stale],
        fix=f"`invoke deploy.helm --version {tags[0]}` pins the registry's digest and rolls "
        "the pods (or `invoke deploy` after a code change)",
    )


def _live_or_ready(items: list[dict], namespace: str, evidence: list[str]) -> Result:
    """Ready pods; a pod running `invoke dev`'s live changes (no image holds them) says so."""
    live = {pod["metadata"]["name"]: live_changes(pod["metadata"].get("annotations") or {})
            for pod in items}  # fmt: skip
    live = {name: said for name, said in live.items() if said}
    if not live:
        return Result("k8s", OK, f"{len(items)} pod(s) ready in {namespace}", evidence)
    lines = [f"pod {name}: live changes to {said.get('files', '?')} file(s) on top of "
             f"{said.get('from', '?')}" for name, said in live.items()]  # fmt: skip
    return Result(
        "k8s",
        WARN,
        f"{len(live)} pod(s) run invoke dev's live changes, which no image holds yet",
        evidence + lines,
        fix="`invoke deploy` builds an image holding them and rolls the pods",
    )


def stale_pods(probe: Probe, pods: list[dict]) -> list[tuple[str, str]]:
    """(what to say, tag) for each container of the app's image whose running image
    (status.containerStatuses[].imageID) is not the digest the registry holds for its tag."""
    repository = ImageSpec.from_settings(probe.settings, "latest").repository
    found, held = [], {}
    for pod in pods:
        images = {c.get("name"): c.get("image", "") for c in (pod.get("spec") or {}).get(
            "containers") or []}  # fmt: skip
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            name, tag = split_reference(images.get(status.get("name")) or status.get("image", ""))
            running = (status.get("imageID") or "").rpartition("@")[2]
            if name != repository or not tag or not running.startswith("sha256:"):
                continue
            if tag not in held:
                held[tag] = registry_digest(probe, tag)
            if held[tag] and held[tag] != running:
                found.append((f"pod {pod['metadata']['name']}: stale: runs {running}, the "
                              f"registry has {held[tag]} for {tag}", tag))  # fmt: skip
    return found


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag) of repository:tag[@digest]; the tag is '' when there is none."""
    name = reference.partition("@")[0]
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:  # localhost:5000/rhdemo-api: the colon is the port's
        return name, ""
    return repository, tag


def _pod_state(pod: dict) -> str:
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return waiting.get("reason", "Waiting")
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return "Ready" if ready else status.get("phase", "NotReady")

"""deploy.helm: refuse a stuck release, upgrade --install, explain a failed rollout."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from stagingkub.errors import CommandFailed, StateError
from stagingkub.helm import (
    PENDING,
    ReleaseSpec,
    helm_major,
    image_values,
    pending_message,
    pull_secret_manifest,
    pull_secret_shell,
    status_argv,
    upgrade_argv,
)
from stagingkub.runner import Runner, require_tools, say

READ_TIMEOUT = 60


def installed_major() -> int:
    from stagingkub.preflight import helm_version

    text = helm_version()
    major = helm_major(text)
    if major not in (3, 4):
        raise StateError(
            f"`helm version` says {text!r}; stagingkub needs helm 3 or 4 "
            "(https://helm.sh/docs/intro/install/)."
        )
    return major


def release_status(runner: Runner, spec: ReleaseSpec) -> tuple[str, int] | None:
    """(status, revision) of the release, or None when it is not installed."""
    result = subprocess.run(status_argv(spec), capture_output=True, text=True, timeout=READ_TIMEOUT)
    if result.returncode == 0:
        info = json.loads(result.stdout or "{}")
        return (info.get("info") or {}).get("status", ""), int(info.get("version") or 0)
    if "not found" in result.stderr:
        return None
    if runner.dry:  # the cluster may not exist yet in a dry run of the whole pipeline
        runner.note(f"helm status could not be read ({result.stderr.strip()[:120]})")
        return None
    raise StateError(
        f"helm cannot read the release {spec.release} through the context {spec.context}: "
        f"{result.stderr.strip()[:300]}. Check `kubectl --context {spec.context} cluster-info`."
    )


def check_inputs(spec: ReleaseSpec) -> None:
    if not (spec.chart / "Chart.yaml").is_file():
        raise StateError(
            f"No Helm chart at {spec.chart} (no Chart.yaml). Set deploy.chart to the chart's "
            "directory (the repository ships helm/rhdemo)."
        )
    for values in spec.values_files[:-1]:
        if not values.is_file():
            raise StateError(f"deploy.values_file {values} does not exist; fix or empty it.")


def deploy(runner: Runner, spec: ReleaseSpec) -> None:
    require_tools(["helm", "kubectl"])
    check_inputs(spec)
    major = installed_major()
    current = release_status(runner, spec)
    if current and current[0] in PENDING:
        raise StateError(pending_message(spec, *current))
    if spec.pull_secret:
        apply_pull_secret(runner, spec)
    values = image_values(spec.repository, spec.tag, spec.pull_secret)
    runner.write_file(spec.values_files[-1], values)
    waiting = f"helm upgrade {spec.release} (--wait, up to {spec.timeout})"
    result = runner.run(upgrade_argv(spec, major), warn=True, waits=waiting)
    if result.exited != 0:
        diagnostics(runner, spec)
        raise CommandFailed("helm upgrade --install " + spec.release, result.exited, result.stderr)


def apply_pull_secret(runner: Runner, spec: ReleaseSpec) -> None:
    """The imagePullSecret from the registry credentials, applied from stdin (never a file,
    never a command-line argument)."""
    if not spec.pull_password:
        raise StateError(
            f"registry.username is set for {spec.pull_server} but STAGINGKUB_REGISTRY_PASSWORD "
            "is not: the cluster needs both to pull (the Secret "
            f"{spec.pull_secret}). Set it in .env or the environment."
        )
    argv = ["kubectl", "--context", spec.context, "apply", "-f", "-"]
    if runner.dry:
        print(f"{pull_secret_shell(spec)} | {shlex.join(argv)}")
        return
    runner.run(argv, stdin=pull_secret_manifest(spec), hide="out")
    say(f"Secret {spec.namespace}/{spec.pull_secret} holds the pull credentials for "
        f"{spec.pull_server}.")  # fmt: skip


def diagnostics(runner: Runner, spec: ReleaseSpec, tail: int = 50) -> None:
    """What a person would look at next: events, the pods that are not ready, their logs."""
    say(f"The deploy of {spec.release} failed; what the namespace {spec.namespace} says:")
    kubectl = ["kubectl", "--context", spec.context, "-n", spec.namespace]
    runner.run([*kubectl, "get", "events", "--sort-by=.lastTimestamp"], warn=True)
    for pod in failing_pods(kubectl, spec.release):
        runner.run([*kubectl, "describe", "pod", pod], warn=True)
        runner.run([*kubectl, "logs", pod, "--all-containers", "--tail", str(tail)], warn=True)


def failing_pods(kubectl: list[str], release: str) -> list[str]:
    result = subprocess.run(
        [*kubectl, "get", "pods", "-l", f"app.kubernetes.io/instance={release}", "-o", "json"],
        capture_output=True, text=True, timeout=READ_TIMEOUT,
    )  # fmt: skip
    if result.returncode != 0:
        return []
    pods = json.loads(result.stdout or "{}").get("items") or []
    return [pod["metadata"]["name"] for pod in pods if not _ready(pod)]


def _ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def values_path(settings) -> Path:
    files_dir = Path(settings.cluster.files_dir)
    files_dir = files_dir if files_dir.is_absolute() else settings.root / files_dir
    return files_dir / settings.cluster.name / f"values-{settings.deploy.release}.yaml"

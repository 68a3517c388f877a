"""deploy.helm: refuse a stuck release, upgrade --install, explain a failed rollout."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from stagingkub.console import say
from stagingkub.errors import CommandFailed, StateError
from stagingkub.external import parse_json, read, read_json
from stagingkub.release import pods
from stagingkub.release.helm import (
    PENDING,
    ReleaseSpec,
    generated_values,
    helm_major,
    merge_values,
    pending_message,
    pinned_reference,
    pull_secret_manifest,
    pull_secret_shell,
    recovery,
    status_argv,
    upgrade_argv,
    upgrade_reason,
    values_text,
)
from stagingkub.runner import Runner, require_tools

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


HELM_CHECK = "Check that the cluster answers (`invoke cluster.status`) and re-run."


def release_state(runner: Runner, spec: ReleaseSpec) -> dict | None:
    """`helm status -o json` (the whole release: info, config, version...), or None when
    the release is not installed."""
    result = read(status_argv(spec), READ_TIMEOUT, HELM_CHECK)
    if result.returncode == 0:
        return parse_json(status_argv(spec), result.stdout)
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


def deploy(runner: Runner, spec: ReleaseSpec, *, force: bool = False, recover: bool = False) -> str:
    """deploy.helm: upgrade unless the release already holds what would be sent; returns why
    it upgraded or skipped."""
    require_tools(["helm", "kubectl"])
    check_inputs(spec)
    major = installed_major()
    spec = replace(spec, chart_digest=chart_digest(spec.chart))
    current = release_state(runner, spec)
    status = ((current or {}).get("info") or {}).get("status", "")
    if status in PENDING:
        recover_pending(runner, spec, current, force=recover)
        current = release_state(runner, spec)
    if spec.pull_secret:
        apply_pull_secret(runner, spec)
    shell_digest = spec.digest.startswith("$")  # --dry: computed by the script after its push
    why = "the image is pushed by this script" if shell_digest else ""
    why = why or upgrade_reason(current, supplied_values(spec), force)
    if not why:
        runner.note(
            f"helm upgrade skipped: the release {spec.release} (revision {current['version']}, "
            f"deployed) already runs {pinned_reference(spec)} with these values and this "
            "chart; --force-deploy upgrades anyway"
        )
        return "release unchanged"
    runner.note(f"helm upgrade {spec.release}: {why}")
    text = values_text(spec)
    runner.write_file(spec.values_files[-1], text, shell_text=text if shell_digest else "")
    waiting = f"helm upgrade {spec.release} (--wait, up to {spec.timeout})"
    result = runner.run(upgrade_argv(spec, major), warn=True, waits=waiting)
    if result.exited != 0:
        diagnostics(runner, spec)
        raise CommandFailed("helm upgrade --install " + spec.release, result.exited, result.stderr)
    return why


def recover_pending(runner: Runner, spec: ReleaseSpec, release: dict, force: bool) -> None:
    """A release an aborted run left pending-*: rolled back (or uninstalled) once helm's own
    timeout has passed, so no live helm run can still hold it; `force` (--recover) now."""
    status, revision = release["info"]["status"], int(release.get("version") or 0)
    age = _age(release["info"].get("last_deployed", ""))
    if age is None and not force:
        raise StateError(
            pending_message(spec, status, revision) + " (When it was left so is not known: "
            "`--recover` recovers it.)"
        )
    argv, announcement = recovery(spec, status, revision, age or 0.0, _history(spec), force)
    say(announcement)
    runner.run(argv)


def _age(timestamp: str) -> float | None:
    """Seconds since an RFC 3339 time as helm writes it (nanoseconds, Z or an offset)."""

    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", timestamp)
    if not match:
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    when = datetime.fromisoformat(match.group(1) + zone)
    return (datetime.now(UTC) - when).total_seconds()


def _history(spec: ReleaseSpec) -> list[dict]:
    argv = ["helm", "history", spec.release, *spec.scope(), "-o", "json", "--max", "50"]
    return read_json(argv, READ_TIMEOUT, HELM_CHECK) or []


def supplied_values(spec: ReleaseSpec) -> dict:
    """The user-supplied values helm would store for this upgrade (its `config`): the
    deploy.values_file merged with the generated values, as JSON."""
    merged: dict = {}
    for path in spec.values_files[:-1]:
        merged = merge_values(merged, _read_values(path))
    merged = merge_values(merged, generated_values(spec))
    return json.loads(json.dumps(merged, default=str))


def _read_values(path: Path) -> dict:
    from ruamel.yaml import YAML, YAMLError

    try:
        loaded = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as error:
        raise StateError(f"deploy.values_file {path} cannot be read as YAML: {error}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise StateError(f"deploy.values_file {path} must be a mapping of chart values.")
    return json.loads(json.dumps(loaded or {}, default=str))


def chart_digest(chart: Path) -> str:
    """sha256 over the chart's files (names and contents): any change to the chart counts."""

    digest = hashlib.sha256()
    for directory, subdirs, names in os.walk(chart):
        subdirs.sort()
        for name in sorted(names):
            path = Path(directory, name)
            digest.update(os.path.relpath(path, chart).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


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
        runner.script(f"{pull_secret_shell(spec)} | {shlex.join(argv)}")
        return
    runner.run(argv, stdin=pull_secret_manifest(spec), hide="out")
    say(f"Secret {spec.namespace}/{spec.pull_secret} holds the pull credentials for "
        f"{spec.pull_server}.")  # fmt: skip


def diagnostics(runner: Runner, spec: ReleaseSpec, tail: int = 50) -> None:
    """What a person would look at next: events, the pods that are not ready, their logs."""
    say(f"The deploy of {spec.release} failed; what the namespace {spec.namespace} says:")
    kubectl = ["kubectl", "--context", spec.context, "-n", spec.namespace]
    events = runner.run([*kubectl, "get", "events", "--sort-by=.lastTimestamp"], warn=True)
    for pod in failing_pods(kubectl, spec.release):
        runner.run([*kubectl, "describe", "pod", pod], warn=True)
        runner.run([*kubectl, "logs", pod, "--all-containers", "--tail", str(tail)], warn=True)
    from stagingkub.pull_errors import Known, classify, failed_pull

    found = failed_pull(events.stdout or "")
    # deploy.helm checked the registry holds the tag before the upgrade
    cause = classify(found[1], found[0], spec.tag, Known(tag_present=True)) if found else None
    if cause is not None:
        say(f"The pods cannot pull their image: {cause.summary}. Fix: {cause.fix}.")


def failing_pods(kubectl: list[str], release: str) -> list[str]:
    return pods.not_ready(pods.release_pods(kubectl, release, READ_TIMEOUT))


def values_path(settings) -> Path:
    return settings.files_dir(f"values-{settings.deploy.release}.yaml")

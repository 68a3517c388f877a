"""Helm: the release as settings want it and the exact helm commands (pure)."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


@dataclass(frozen=True)
class ReleaseSpec:
    release: str
    chart: Path
    namespace: str
    context: str
    timeout: str
    wait: bool
    values_files: tuple[Path, ...]  # the user's first, then the generated image values
    repository: str
    tag: str
    digest: str = ""  # the manifest digest the registry holds for the tag (or $VARIABLE)
    chart_digest: str = ""  # the chart's content digest (helm_ops.chart_digest)
    local_port: int = 8080
    pull_secret: str = ""  # an imagePullSecret deploy.helm keeps from the registry credentials
    pull_server: str = ""  # the registry it is for: localhost:5000, harbor.example.com
    pull_username: str = ""
    pull_password: str = field(default="", repr=False, compare=False)
    live: bool = False  # invoke dev's live update: the chart's writable live folder

    @classmethod
    def from_settings(
        cls,
        settings,
        repository: str,
        tag: str,
        generated: Path,
        digest: str = "",
        live: bool = False,
    ) -> ReleaseSpec:
        d, r = settings.deploy, settings.registry
        needs_login = r.auth or r.mode == "external"
        secret = (d.pull_secret or f"{d.release}-registry") if needs_login and r.username else ""
        user = [settings.path("deploy.values_file")] if d.values_file else []
        return cls(
            release=d.release,
            chart=settings.path("deploy.chart"),
            namespace=d.namespace,
            context=settings.kube_context,
            timeout=d.timeout,
            wait=d.wait,
            values_files=(*user, generated),
            repository=repository,
            tag=tag,
            digest=digest,
            local_port=d.local_port,
            pull_secret=secret,
            pull_server=repository.split("/", 1)[0] if secret else "",
            pull_username=r.username if secret else "",
            pull_password=r.password if secret else "",
            live=live,
        )

    @property
    def fullname(self) -> str:
        """The Service/Deployment name, by the chart's rhdemo.fullname rule."""
        name = self.release if "rhdemo" in self.release else f"{self.release}-rhdemo"
        return name[:63].rstrip("-")

    def scope(self) -> list[str]:
        return ["--namespace", self.namespace, "--kube-context", self.context]


def helm_major(version_text: str) -> int | None:
    """3 or 4 from `helm version --template {{.Version}}` (v3.16.2, v4.1.4)."""
    text = version_text.strip().lstrip("v")
    head = text.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def generated_values(spec: ReleaseSpec) -> dict:
    """What stagingkub adds to the user's values: the image pinned by digest, the pull
    secret, and the chart's digest (so an unchanged re-deploy can be recognised)."""
    image = {"repository": spec.repository, "tag": spec.tag}
    if spec.digest:
        image["digest"] = spec.digest
    values: dict = {"rhdemo": {"image": image}}
    if spec.pull_secret:
        values["imagePullSecrets"] = [{"name": spec.pull_secret}]
    if spec.chart_digest:
        values["stagingkub"] = {"chartDigest": spec.chart_digest}
    if spec.live:
        values["live"] = {"enabled": True}
    return values


def image_values(
    repository: str,
    tag: str,
    pull_secret: str = "",
    digest: str = "",
    chart_digest: str = "",
    live: bool = False,
) -> str:
    """The generated values file: quoted, so a tag like 0123, 1e3 or true stays a string."""

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    text = (
        "# Written by stagingkub for this deploy: the image the release runs.\n"
        "rhdemo:\n"
        "  image:\n"
        f"    repository: {quoted(repository)}\n"
        f"    tag: {quoted(tag)}\n"
    )
    if digest:
        text += f"    digest: {quoted(digest)}\n"
    if pull_secret:
        text += f"imagePullSecrets:\n  - name: {quoted(pull_secret)}\n"
    if chart_digest:
        text += f"stagingkub:\n  chartDigest: {quoted(chart_digest)}\n"
    if live:
        text += "live:\n  enabled: true\n"
    return text


def values_text(spec: ReleaseSpec) -> str:
    return image_values(
        spec.repository, spec.tag, spec.pull_secret, spec.digest, spec.chart_digest, spec.live
    )


def merge_values(base: dict, extra: dict) -> dict:
    """helm's merge of -f files: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def upgrade_reason(release: dict | None, wanted: dict, force: bool = False) -> str:
    """Why `helm upgrade` must run ('' when the release already holds exactly what would be
    sent). release: `helm status -o json`; wanted: the user-supplied values to send."""
    if force:
        return "--force-deploy"
    if release is None:
        return "the release is not installed"
    status = (release.get("info") or {}).get("status", "")
    if status != "deployed":
        return f"the release is {status or 'in an unknown state'}"
    held = release.get("config") or {}
    if held == wanted:
        return ""
    return "changed: " + ", ".join(_changed_values(held, wanted))


def _changed_values(held: dict, wanted: dict) -> list[str]:
    """What differs, in a user's words: the image digest, the chart, or the other values."""
    found = [
        what
        for what, part in (("the image digest", _digest), ("the chart", _chart_digest))
        if part(held) != part(wanted)
    ]
    if _user_part(held) != _user_part(wanted):
        found.append("the values")
    return found or ["the values"]


def _digest(values: dict) -> str:
    return ((values.get("rhdemo") or {}).get("image") or {}).get("digest", "")


def _chart_digest(values: dict) -> str:
    return (values.get("stagingkub") or {}).get("chartDigest", "")


def _user_part(values: dict) -> dict:
    """The values without what stagingkub adds for its own bookkeeping."""

    rest = copy.deepcopy({k: v for k, v in values.items() if k != "stagingkub"})
    ((rest.get("rhdemo") or {}).get("image") or {}).pop("digest", None)
    return rest


def _secret_document(spec: ReleaseSpec, config_b64: str) -> str:
    """A v1 List: the namespace (so the Secret can exist before helm creates it) and the
    kubernetes.io/dockerconfigjson Secret; config_b64 is substituted last (see below)."""
    labels = {"app.kubernetes.io/managed-by": "stagingkub"}
    document = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.namespace}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": spec.pull_secret, "namespace": spec.namespace,
                             "labels": labels},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": "CONFIG_B64"},
            },
        ],
    }  # fmt: skip
    return json.dumps(document).replace("CONFIG_B64", config_b64)


def pull_secret_manifest(spec: ReleaseSpec) -> str:
    """The Secret, for `kubectl apply -f -` on stdin (it holds the credential)."""
    auth = base64.b64encode(f"{spec.pull_username}:{spec.pull_password}".encode()).decode()
    config = json.dumps({"auths": {spec.pull_server: {"auth": auth}}}, separators=(",", ":"))
    return _secret_document(spec, base64.b64encode(config.encode()).decode())


def pull_secret_shell(spec: ReleaseSpec) -> str:
    """The --dry form: printf (a shell builtin) builds the Secret from
    $STAGINGKUB_REGISTRY_PASSWORD at run time, so no secret is printed or on a command line."""
    from stagingkub.registry.auth import shell_b64, shell_credentials

    auths = '\'{"auths":{"' + spec.pull_server + '":{"auth":"\'"'
    auths += shell_credentials(spec.pull_username) + "\"'\"}}}'"
    config = shell_b64(f"printf '%s' {auths}")
    document = _secret_document(spec, "%s")
    return f"printf '{document}' \"{config}\""


def chart_argument(chart: Path) -> str:
    """./helm/rhdemo, as the guide writes it: a relative chart path keeps its ./ so helm (and
    a reader) never take it for a repository/chart name."""
    text = str(chart)
    return text if chart.is_absolute() or text.startswith(".") else f"./{text}"


def upgrade_argv(spec: ReleaseSpec, major: int) -> list[str]:
    argv = ["helm", "upgrade", "--install", spec.release, chart_argument(spec.chart)]
    argv += spec.scope()
    argv.append("--create-namespace")
    for values in spec.values_files:
        argv += ["-f", str(values)]
    if spec.wait:
        argv.append("--wait")
    argv += ["--timeout", spec.timeout]
    # Roll back a failed upgrade: helm 4 renamed --atomic to --rollback-on-failure.
    argv.append("--rollback-on-failure" if major >= 4 else "--atomic")
    return argv


def status_argv(spec: ReleaseSpec) -> list[str]:
    return ["helm", "status", spec.release, *spec.scope(), "-o", "json"]


def pinned_reference(spec: ReleaseSpec) -> str:
    reference = f"{spec.repository}:{spec.tag}"
    return f"{reference}@{spec.digest}" if spec.digest else reference


def pending_message(spec: ReleaseSpec, status: str, revision: int) -> str:
    scope = f"--namespace {spec.namespace} --kube-context {spec.context}"
    if status == "pending-install" or revision <= 1:
        fix = f"helm uninstall {spec.release} {scope}"
    else:
        fix = f"helm rollback {spec.release} {revision - 1} {scope}"
    return (
        f"The release {spec.release} is stuck in {status} (revision {revision}): an earlier "
        "helm run was interrupted, and helm refuses to upgrade it. Recover with "
        f"`{fix}`, then run the deploy again."
    )


def last_good_revision(history: list[dict], current: int) -> int | None:
    """The newest revision before `current` that deployed (`helm history -o json`: a
    deployed or superseded one), or None when the release never deployed."""
    good = [
        int(h["revision"])
        for h in history
        if h.get("status") in ("deployed", "superseded") and int(h["revision"]) < current
    ]
    return max(good) if good else None  # fmt: skip


def recovery(spec: ReleaseSpec, status: str, revision: int, age: float, history: list[dict],
             force: bool) -> tuple[list[str], str]:  # fmt: skip
    """(the helm command that recovers a release stuck in pending-*, what to say), or a
    StateError while a helm run may still hold it: helm's own --timeout bounds a live
    operation, so a pending release older than deploy.timeout was left by a run that died."""
    from stagingkub.errors import StateError
    from stagingkub.parse import seconds_of

    limit = seconds_of(spec.timeout)
    if age < limit and not force:
        raise StateError(
            pending_message(spec, status, revision) + f" Its last change was {age:.0f} s ago, "
            f"within deploy.timeout ({spec.timeout}): another helm run may still be working "
            f"on it. In {limit - age:.0f} s the next deploy recovers it by itself; "
            "`--recover` does it now."
        )
    target = last_good_revision(history, revision)
    if target is None:
        argv = ["helm", "uninstall", spec.release, *spec.scope()]
        why = "it never deployed, so it is uninstalled and installed again"
    else:
        argv = ["helm", "rollback", spec.release, str(target), *spec.scope()]
        why = f"rolling back to revision {target}, the last that deployed"
    return argv, (
        f"The release {spec.release} was left {status} (revision {revision}, {age:.0f} s ago) "
        f"by a helm run that did not finish: {why}."
    )


def port_forward_hint(spec: ReleaseSpec) -> str:
    return (
        f"kubectl --context {spec.context} -n {spec.namespace} port-forward "
        f"svc/{spec.fullname} {spec.local_port}:80"
    )

"""Helm: the release as settings want it and the exact helm commands (pure)."""

from __future__ import annotations

import base64
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
    local_port: int = 8080
    pull_secret: str = ""  # an imagePullSecret deploy.helm keeps from the registry credentials
    pull_server: str = ""  # the registry it is for: localhost:5000, harbor.example.com
    pull_username: str = ""
    pull_password: str = field(default="", repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings, repository: str, tag: str, generated: Path) -> ReleaseSpec:
        d, r = settings.deploy, settings.registry
        needs_login = r.auth or r.mode == "external"
        secret = (d.pull_secret or f"{d.release}-registry") if needs_login and r.username else ""
        chart = Path(d.chart)
        chart = chart if chart.is_absolute() else (settings.root / chart).resolve()
        user = []
        if d.values_file:
            path = Path(d.values_file)
            user.append(path if path.is_absolute() else (settings.root / path).resolve())
        return cls(
            release=d.release,
            chart=chart,
            namespace=d.namespace,
            context=settings.cluster.context or f"kind-{settings.cluster.name}",
            timeout=d.timeout,
            wait=d.wait,
            values_files=(*user, generated),
            repository=repository,
            tag=tag,
            local_port=d.local_port,
            pull_secret=secret,
            pull_server=repository.split("/", 1)[0] if secret else "",
            pull_username=r.username if secret else "",
            pull_password=r.password if secret else "",
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


def image_values(repository: str, tag: str, pull_secret: str = "") -> str:
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
    if pull_secret:
        text += f"imagePullSecrets:\n  - name: {quoted(pull_secret)}\n"
    return text


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
    from stagingkub.runner import shell_b64, shell_credentials

    auths = '\'{"auths":{"' + spec.pull_server + '":{"auth":"\'"'
    auths += shell_credentials(spec.pull_username) + "\"'\"}}}'"
    config = shell_b64(f"printf '%s' {auths}")
    document = _secret_document(spec, "%s")
    return f"printf '{document}' \"{config}\""


def upgrade_argv(spec: ReleaseSpec, major: int) -> list[str]:
    argv = ["helm", "upgrade", "--install", spec.release, str(spec.chart), *spec.scope()]
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


def port_forward_hint(spec: ReleaseSpec) -> str:
    return (
        f"kubectl --context {spec.context} -n {spec.namespace} port-forward "
        f"svc/{spec.fullname} {spec.local_port}:80"
    )

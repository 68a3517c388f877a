"""Every setting the tool reads: its type, its check and its help, in one table.

The values themselves live in config/defaults.yaml; this table says what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stagingkub import validate

ENV_PREFIX = "STAGINGKUB_"
# Variables that choose where settings come from rather than being settings.
META_VARIABLES = {"STAGINGKUB_PROFILE", "STAGINGKUB_ENV_FILE"}


@dataclass(frozen=True)
class Spec:
    """One setting: its Python type, its validator, its help, whether it is secret."""

    kind: type
    check: Callable | None
    help: str
    secret: bool = False
    optional: bool = False  # an empty string means "not set"


SCHEMA: dict[str, dict[str, Spec]] = {
    "registry": {
        "mode": Spec(
            str,
            validate.choice("local", "external"),
            "local: the registry container this tool runs; external: one you only push to "
            "(Harbor, ECR, GHCR).",
        ),
        "name": Spec(str, validate.docker_name, "Registry container name."),
        "image": Spec(str, validate.image_reference, "Registry image (registry:2)."),
        "host": Spec(
            str, validate.host_name, "Host name clients push to and pods pull from (localhost)."
        ),
        "bind_address": Spec(
            str, validate.bind_address, "Address the host port is published on (127.0.0.1)."
        ),
        "port": Spec(int, validate.port, "Host port of the registry (5000)."),
        "volume": Spec(str, validate.docker_name, "Named volume holding the registry's data."),
        "network": Spec(str, validate.docker_name, "Docker network of the kind nodes (kind)."),
        "health_timeout": Spec(
            float, validate.seconds, "Seconds to wait for the registry API to answer."
        ),
        "project": Spec(
            str,
            validate.repository,
            "Path between the host and the image name (harbor project, GHCR owner).",
            optional=True,
        ),
        "tls": Spec(bool, None, "Serve the local registry over HTTPS with a generated CA."),
        "auth": Spec(bool, None, "Require htpasswd logins on the local registry."),
        "ca_file": Spec(
            str,
            validate.path,
            "CA certificate of an external registry's private CA; empty for the system's.",
            optional=True,
        ),
        "docker_certs_dir": Spec(
            str, validate.path, "Where the host's Docker looks for registry CAs (certs.d)."
        ),
        "username": Spec(str, validate.username, "Registry user for docker login.", optional=True),
        "password": Spec(
            str,
            None,
            "Registry password (only from .env or the environment).",
            secret=True,
            optional=True,
        ),
        "labels": Spec(dict, validate.labels, "Extra labels on containers and volumes created."),
        "keep_rollback": Spec(
            int,
            validate.count,
            "registry.prune keeps the images of this many helm revisions "
            "before the deployed one (3).",
        ),
    },
    "cluster": {
        "mode": Spec(
            str,
            validate.choice("kind", "existing"),
            "kind: the kind cluster this tool runs; existing: a cluster you reach by "
            "cluster.context.",
        ),
        "name": Spec(str, validate.cluster_name, "kind cluster name (rhdemo)."),
        "node_image": Spec(
            str,
            validate.image_reference,
            "kind node image; empty for kind's default.",
            optional=True,
        ),
        "nodes": Spec(list, validate.node_roles, "Node roles ([control-plane])."),
        "config_file": Spec(
            str, validate.path, "Your kind config file to merge; empty for none.", optional=True
        ),
        "wait": Spec(str, validate.duration, "kind create cluster --wait duration (120s)."),
        "wiring": Spec(
            str,
            validate.choice("hosts", "mirrors"),
            "containerd registry wiring: hosts (config_path + hosts.toml) or legacy mirrors.",
        ),
        "context": Spec(
            str,
            validate.kube_context,
            "kube context; empty means kind-<cluster name>.",
            optional=True,
        ),
        "files_dir": Spec(str, validate.path, "Where generated files are written (.stagingkub)."),
    },
    "image": {
        "name": Spec(str, validate.repository, "Application image repository (rhdemo-api)."),
        "strategy": Spec(
            str, validate.choice("mvnw", "dockerfile"), "How to build: mvnw or dockerfile."
        ),
        "app_dir": Spec(str, validate.path, "Directory of the app's mvnw and pom.xml (.)."),
        "maven_args": Spec(list, validate.maven_args, "Extra Maven arguments for the build."),
        "prebuild": Spec(
            list,
            validate.command,
            "dockerfile strategy: a command run in image.app_dir before docker build, one "
            "argument per entry ([./mvnw, -B, -q, package, -DskipTests]); [] for none.",
        ),
        "dockerfile": Spec(str, validate.path, "Dockerfile, relative to app_dir (Dockerfile)."),
        "context": Spec(str, validate.path, "docker build context, relative to app_dir (.)."),
        "build_args": Spec(
            dict, validate.build_args, "dockerfile strategy: --build-arg NAME=VALUE pairs."
        ),
        "version": Spec(
            str,
            validate.tag,
            "dockerfile strategy: the version when --version is left out (else git describe).",
            optional=True,
        ),
        "builder_pull": Spec(
            str,
            validate.choice("if_not_present", "always", "never"),
            "mvnw strategy: when Spring Boot pulls its builder (pullPolicy; if_not_present).",
        ),
        "scan": Spec(
            str,
            validate.choice("auto", "always", "never"),
            "trivy scan before the push: auto (when trivy is installed), always, never.",
        ),
        "scan_severity": Spec(
            str, validate.severities, "Severities that fail the scan (HIGH,CRITICAL)."
        ),
    },
    "deploy": {
        "release": Spec(str, validate.release_name, "Helm release name (rhdemo)."),
        "chart": Spec(str, validate.chart_path, "Helm chart path (./helm/rhdemo)."),
        "namespace": Spec(str, validate.namespace, "Kubernetes namespace (rhdemo-staging)."),
        "timeout": Spec(str, validate.duration, "helm --timeout (5m)."),
        "wait": Spec(bool, None, "helm --wait: until the pods are ready (true)."),
        "values_file": Spec(
            str, validate.path, "Your extra Helm values file; empty for none.", optional=True
        ),
        "local_port": Spec(int, validate.port, "Local port in the port-forward hint (8080)."),
        "pull_secret": Spec(
            str,
            validate.namespace,
            "imagePullSecret made from the registry credentials; empty for <release>-registry.",
            optional=True,
        ),
    },
    "cache": {
        "mirrors": Spec(
            list,
            validate.mirrors,
            "Pull-through caches: [{upstream, remote_url, port}]; empty for none (the guide).",
        ),
        "prefix": Spec(
            str,
            validate.docker_name,
            "Mirror containers are <prefix>-<upstream> (kind-cache-docker-io), volumes -data.",
        ),
        "image": Spec(str, validate.image_reference, "Image of the mirrors (registry:2)."),
        "offline": Spec(
            bool,
            None,
            "Serve what the mirrors hold, read-only, without their upstreams (no network).",
        ),
        "warm_images": Spec(
            list, validate.image_references, "Images cache.warm pulls besides the chart's."
        ),
        "dockerhub_username": Spec(
            str,
            None,
            "Docker Hub user for the docker.io mirror (only from .env or the environment).",
            secret=True,
            optional=True,
        ),
        "dockerhub_password": Spec(
            str,
            None,
            "Docker Hub password or access token (only from .env or the environment).",
            secret=True,
            optional=True,
        ),
    },
    "promote": {
        "username": Spec(
            str,
            None,
            "image.promote: the target registry's user (only from .env or the environment; "
            "empty: the target profile's registry.username).",
            secret=True,
            optional=True,
        ),
        "password": Spec(
            str,
            None,
            "image.promote: the target registry's password (only from .env or the "
            "environment; never the source's STAGINGKUB_REGISTRY_PASSWORD).",
            secret=True,
            optional=True,
        ),
    },
    "output": {
        "progress_every": Spec(
            float, validate.seconds, "Seconds between 'still waiting' lines off a terminal (10)."
        ),
    },
    "dev": {
        "debounce": Spec(
            str, validate.duration, "invoke dev: quiet time that ends a batch of changes (200ms)."
        ),
        "max_wait": Spec(
            str, validate.duration, "invoke dev: longest a batch may grow before it runs (3s)."
        ),
        "poll_interval": Spec(
            str, validate.duration, "invoke dev: how often polling looks at the files (1s)."
        ),
        "live": Spec(
            str,
            validate.choice("auto", "off"),
            "invoke dev: auto syncs changed classes and resources of a Maven app into the "
            "running pod and restarts the app there (no image build); off: every change "
            "runs the full cycle.",
        ),
        "forward": Spec(
            str,
            validate.forward,
            "invoke dev: [LOCAL:]PORT to keep forwarded to the app's current pod "
            "(8080:8080); empty: none.",
            optional=True,
        ),
    },
    "diag": {
        "timeout": Spec(float, validate.seconds, "Seconds each diag check may take (15)."),
        "min_free_gb": Spec(
            float, validate.gigabytes, "diag.disk warns under this many free GB (5)."
        ),
    },
}


def all_keys() -> list[str]:
    """Every dotted key, in schema order ('registry.port', ...)."""
    return [f"{section}.{key}" for section, specs in SCHEMA.items() for key in specs]


def spec_for(dotted: str) -> Spec:
    section, key = dotted.split(".", 1)
    return SCHEMA[section][key]


def env_name(dotted: str) -> str:
    """registry.port -> STAGINGKUB_REGISTRY_PORT."""
    return ENV_PREFIX + dotted.replace(".", "_").upper()


ENV_TO_KEY = {env_name(key): key for key in all_keys()}

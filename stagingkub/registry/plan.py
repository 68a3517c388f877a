"""The registry container: what is wanted, how it differs from what runs, the commands to converge.

Pure functions only (spec, drift, plans, argv builders): registry/ops.py reads the state
and carries the plans out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stagingkub.docker.state import (
    DEBUG_CONTAINER_PORT,
    MANAGED_LABEL,
    REGISTRY_CONTAINER_PORT,
    REGISTRY_DATA,
    ROLE_LABEL,
    ContainerState,
)
from stagingkub.errors import StateError
from stagingkub.registry.api import base_url

DELETE_ENABLED = "REGISTRY_STORAGE_DELETE_ENABLED=true"
SECURE_MOUNT = "/etc/stagingkub"  # the generated CA, certificate and htpasswd, read-only
TLS_ENV = (
    f"REGISTRY_HTTP_TLS_CERTIFICATE={SECURE_MOUNT}/server.crt",
    f"REGISTRY_HTTP_TLS_KEY={SECURE_MOUNT}/server.key",
)
DEBUG_PORT = DEBUG_CONTAINER_PORT  # a mirror's /debug/vars: the proxy's hits and misses
DEBUG_ENV = f"REGISTRY_HTTP_DEBUG_ADDR=:{DEBUG_PORT}"
PROXY_URL = "REGISTRY_PROXY_REMOTEURL"
READ_ONLY = 'REGISTRY_STORAGE_MAINTENANCE_READONLY={"enabled":true}'  # an offline mirror
PROXY_SECRETS = ("REGISTRY_PROXY_USERNAME", "REGISTRY_PROXY_PASSWORD")  # from the runner's env
AUTH_ENV = (
    "REGISTRY_AUTH=htpasswd",
    "REGISTRY_AUTH_HTPASSWD_REALM=stagingkub",
    f"REGISTRY_AUTH_HTPASSWD_PATH={SECURE_MOUNT}/htpasswd",
)


@dataclass(frozen=True)
class RegistrySpec:
    """The registry container as settings want it."""

    name: str
    image: str
    bind_address: str
    port: int
    volume: str
    network: str
    health_timeout: float = 30.0
    extra_labels: tuple[tuple[str, str], ...] = ()
    tls: bool = False
    auth: bool = False
    secure_dir: str = ""  # absolute host path of the generated files (tls or auth)
    host: str = "localhost"
    docker_certs_dir: str = "/etc/docker/certs.d"
    username: str = ""
    password: str = field(default="", repr=False, compare=False)
    role: str = "registry"  # or "cache": a pull-through mirror of proxy_url
    proxy_url: str = ""
    proxy_credentials: tuple[str, str] = field(default=("", ""), repr=False, compare=False)
    credentials_from: tuple[str, str] = ("", "")  # the settings' variables (--dry scripts)
    offline: bool = False  # a mirror serving its storage read-only, without its upstream

    @classmethod
    def from_settings(cls, settings) -> RegistrySpec:
        r = settings.registry
        return cls(
            name=r.name,
            image=r.image,
            bind_address=r.bind_address,
            port=r.port,
            volume=r.volume,
            network=r.network,
            health_timeout=r.health_timeout,
            extra_labels=tuple(sorted(r.labels.items())),
            tls=r.tls,
            auth=r.auth,
            secure_dir=str(settings.abspath("cluster.files_dir", f"registry-{r.name}")),
            host=r.host,
            docker_certs_dir=r.docker_certs_dir,
            username=r.username,
            password=r.password,
        )

    @property
    def secure(self) -> bool:
        return self.tls or self.auth

    @property
    def secure_env(self) -> list[str]:
        return [*(TLS_ENV if self.tls else ()), *(AUTH_ENV if self.auth else ())]

    @property
    def gc_marker(self) -> Path:
        """Written before registry.gc stops the registry, removed once every tag is checked:
        while it exists, the last collection did not finish."""
        return Path(self.secure_dir) / "gc-unfinished"

    @property
    def cafile(self) -> str | None:
        return str(Path(self.secure_dir) / "ca.crt") if self.tls else None

    @property
    def credentials(self) -> tuple[str, str] | None:
        return (self.username, self.password) if self.auth else None

    def api(self, timeout: float = 5.0):
        """A RegistryAPI client with this registry's scheme, CA and credentials."""
        from stagingkub.registry.api import RegistryAPI

        return RegistryAPI(self.url, timeout, auth=self.credentials, cafile=self.cafile)

    @property
    def push_host(self) -> str:
        """How clients name it in image references: localhost:5000."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def labels(self) -> dict[str, str]:
        return {MANAGED_LABEL: "true", ROLE_LABEL: self.role, **dict(self.extra_labels)}

    @property
    def run_env(self) -> dict[str, str]:
        """What `docker run -e NAME` takes from its environment: the upstream's login,
        so it never appears in an echoed command line."""
        if not self.proxy_url or self.offline or not self.proxy_credentials[0]:
            return {}
        return dict(zip(PROXY_SECRETS, self.proxy_credentials, strict=True))

    @property
    def publish(self) -> str:
        host = f"[{self.bind_address}]" if ":" in self.bind_address else self.bind_address
        return f"{host}:{self.port}:{REGISTRY_CONTAINER_PORT}"

    @property
    def url(self) -> str:
        return base_url(self.bind_address, self.port, "https" if self.tls else "http")


def _label_args(labels: dict[str, str]) -> list[str]:
    return [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]


def run_argv(spec: RegistrySpec) -> list[str]:
    """The guide's `docker run`, made safe: loopback port, named volume, delete enabled."""
    return [
        "docker",
        "run",
        "-d",
        "--name",
        spec.name,
        "--restart=always",
        "-p",
        spec.publish,
        "-v",
        f"{spec.volume}:{REGISTRY_DATA}",
        "-e",
        DELETE_ENABLED,
        *_secure_args(spec),
        *_proxy_args(spec),
        *_label_args(spec.labels),
        spec.image,
    ]


def _secure_args(spec: RegistrySpec) -> list[str]:
    """TLS and htpasswd: the generated files mounted read-only, the registry told by env."""
    if not spec.secure:
        return []
    args = ["-v", f"{spec.secure_dir}:{SECURE_MOUNT}:ro"]
    for variable in spec.secure_env:
        args += ["-e", variable]
    return args


def _proxy_args(spec: RegistrySpec) -> list[str]:
    """A mirror: proxy mode, its debug server on an ephemeral loopback port, the login by name."""
    if not spec.proxy_url:
        return []
    host = f"[{spec.bind_address}]" if ":" in spec.bind_address else spec.bind_address
    mode = READ_ONLY if spec.offline else f"{PROXY_URL}={spec.proxy_url}"
    args = ["-e", mode, "-e", DEBUG_ENV, "-p", f"{host}::{DEBUG_PORT}"]
    for name in spec.run_env:
        args += ["-e", name]
    return args


def volume_create_argv(spec: RegistrySpec) -> list[str]:
    return ["docker", "volume", "create", *_label_args(spec.labels), spec.volume]


def network_connect_argv(spec: RegistrySpec) -> list[str]:
    return ["docker", "network", "connect", spec.network, spec.name]


def _normal_ip(address: str) -> str:
    return address or "0.0.0.0"


def drift(spec: RegistrySpec, state: ContainerState) -> list[str]:
    """How the container differs from the spec, one line per difference."""
    differences = []
    if state.image != spec.image:
        differences.append(f"image is {state.image!r}, settings want {spec.image!r}")
    wanted = [(spec.bind_address, str(spec.port))]
    actual = [(_normal_ip(ip), port) for ip, port in state.port_bindings]
    if actual != wanted:
        shown = ", ".join(f"{ip}:{port}" for ip, port in actual) or "not published"
        differences.append(
            f"port {REGISTRY_CONTAINER_PORT} is published on {shown}, "
            f"settings want {spec.bind_address}:{spec.port}"
        )
    if state.data_volume != spec.volume:
        if state.data_volume is None:
            have = f"no volume at {REGISTRY_DATA}"
        elif state.data_volume_anonymous:
            have = f"an anonymous volume ({state.data_volume[:12]}) at {REGISTRY_DATA}"
        else:
            have = f"{state.data_volume!r} at {REGISTRY_DATA}"
        differences.append(f"data is in {have}, settings want the volume {spec.volume!r}")
    if DELETE_ENABLED not in state.env:
        differences.append("the delete API is off (REGISTRY_STORAGE_DELETE_ENABLED unset)")
    if state.restart_policy != "always":
        differences.append(f"restart policy is {state.restart_policy or 'no'!r}, wanted 'always'")
    return differences + _secure_drift(spec, state) + _proxy_drift(spec, state)


def _proxy_drift(spec: RegistrySpec, state: ContainerState) -> list[str]:
    """A mirror's upstream, debug server and login; a registry must not be a proxy."""
    env = dict(item.split("=", 1) for item in state.env if "=" in item)
    if not spec.proxy_url:
        if PROXY_URL in env:
            return [f"it is a pull-through cache of {env[PROXY_URL]} (a proxy refuses pushes)"]
        return []
    if spec.offline:
        if PROXY_URL in env or READ_ONLY not in state.env:
            return ["it is a mirror of its upstream; cache.offline wants it serving its cache"]
        return []
    if READ_ONLY in state.env:
        return ["it serves its cache offline (cache.offline); settings want a mirror again"]
    differences = []
    if env.get(PROXY_URL) != spec.proxy_url:
        differences.append(
            f"it mirrors {env.get(PROXY_URL) or 'nothing'}, settings want {spec.proxy_url}"
        )
    if DEBUG_ENV not in state.env or not state.debug_published:
        differences.append(f"its debug server (:{DEBUG_PORT}, the hit counters) is not published")
    wanted = spec.run_env
    if [env.get(name, "") for name in PROXY_SECRETS] != [wanted.get(n, "") for n in PROXY_SECRETS]:
        differences.append("its upstream login differs from the settings (values not shown)")
    return differences


def _secure_drift(spec: RegistrySpec, state: ContainerState) -> list[str]:
    differences = []
    for wanted, variables, what in ((spec.tls, TLS_ENV, "TLS"), (spec.auth, AUTH_ENV, "auth")):
        has = all(variable in state.env for variable in variables)
        if has != wanted:
            differences.append(
                f"{what} is {'off' if wanted else 'on'}, settings want it "
                f"{'on' if wanted else 'off'} (registry.{what.lower()})"
            )
    mounted = state.binds.get(SECURE_MOUNT)
    if spec.secure and mounted != spec.secure_dir:
        differences.append(
            f"{SECURE_MOUNT} comes from {mounted or 'nowhere'}, settings want {spec.secure_dir}"
        )
    return differences


@dataclass
class Plan:
    """Commands to run, in order, and what they achieve."""

    commands: list[list[str]] = field(default_factory=list)
    starts: bool = False  # the registry (re)starts: wait for its API afterwards
    needs_port: bool = False  # the host port must be free first
    changes: list[str] = field(default_factory=list)


def plan_create(
    spec: RegistrySpec,
    state: ContainerState | None,
    *,
    network_exists: bool,
    volume_exists: bool,
    recreate: bool = False,
) -> Plan:
    """From the current state to a running, connected registry; raises on unasked drift."""
    plan = Plan()
    if state is not None:
        differences = drift(spec, state)
        if differences and not recreate:
            raise StateError(_drift_message(spec, state, differences))
        if differences:
            plan.commands.append(["docker", "rm", "-f", spec.name])
            plan.changes.append("removed the old container (" + "; ".join(differences) + ")")
            state = None
    if state is None:
        if not volume_exists:
            plan.commands.append(volume_create_argv(spec))
            plan.changes.append(f"created volume {spec.volume}")
        plan.commands.append(run_argv(spec))
        plan.changes.append(f"started {spec.name} on {spec.bind_address}:{spec.port}")
        plan.starts = plan.needs_port = True
    elif state.status == "paused":
        plan.commands.append(["docker", "unpause", spec.name])
        plan.changes.append(f"unpaused {spec.name}")
        plan.starts = True
    elif not state.running:
        plan.commands.append(["docker", "start", spec.name])
        plan.changes.append(f"started the stopped {spec.name}")
        plan.starts = plan.needs_port = True
    attached = state is not None and spec.network in state.networks
    if network_exists and not attached:
        plan.commands.append(network_connect_argv(spec))
        plan.changes.append(f"connected {spec.name} to the {spec.network} network")
    return plan


def _drift_message(spec: RegistrySpec, state: ContainerState, differences: list[str]) -> str:
    keep = f"Its data stays in the volume {spec.volume!r}."
    if state.data_volume and state.data_volume != spec.volume:
        old = state.data_volume[:12] if state.data_volume_anonymous else state.data_volume
        keep = f"The old data volume ({old}) is kept, not copied: push the images again afterwards."
    return (
        f"The registry container {spec.name!r} exists but differs from the settings: "
        + "; ".join(differences)
        + f". Re-run with --recreate to replace the container. {keep} Or change the settings "
        "to match it (`invoke diag.config` shows where each value comes from)."
    )


def plan_purge(spec: RegistrySpec, state: ContainerState | None, volumes: list[str]) -> Plan:
    """Stop, remove and delete the data (the guide's clean-up); recreation is planned after."""
    plan = Plan()
    if state is not None:
        if state.running:
            plan.commands.append(["docker", "stop", spec.name])
        plan.commands.append(["docker", "rm", spec.name])
        plan.changes.append(f"removed {spec.name}")
    for volume in volumes:
        plan.commands.append(["docker", "volume", "rm", volume])
        plan.changes.append(f"deleted the volume {volume}")
    return plan


def data_volumes(spec: RegistrySpec, state: ContainerState | None, existing: set[str]) -> list[str]:
    """Volumes purge deletes: the container's data volume and the configured one."""
    found = []
    if state is not None and state.data_volume and state.data_volume in existing:
        found.append(state.data_volume)
    if spec.volume in existing and spec.volume not in found:
        found.append(spec.volume)
    return found

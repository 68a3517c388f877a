"""What the cluster's files say: kind config, containerd patches, hosts.toml, KEP-1755 ConfigMap.

Pure text generation (ruamel.yaml for YAML, so a user's kind config keeps its
comments); nothing here touches the machine.
"""

from __future__ import annotations

import io
import json
import tomllib
from dataclasses import dataclass, field

from stagingkub.errors import ConfigError, StateError

CERTS_DIR = "/etc/containerd/certs.d"
CA_NAME = "ca.crt"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CONFIG_PATH_PATCH = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CERTS_DIR}"'
KIND_API_VERSION = "kind.x-k8s.io/v1alpha4"
HELP_URL = "https://kind.sigs.k8s.io/docs/user/local-registry/"
# Where containerd reads its registry settings: the CRI plugin's registry table, named
# io.containerd.grpc.v1.cri in config version 2 and io.containerd.cri.v1.images in version 3.
_REGISTRY_TABLES = (
    ("plugins", "io.containerd.grpc.v1.cri", "registry"),
    ("plugins", "io.containerd.cri.v1.images", "registry"),
)


@dataclass(frozen=True)
class Wiring:
    """How containerd in the nodes reaches the registry."""

    registry_name: str  # the container name, resolvable on the kind network
    host_port: int  # the port in image names: localhost:<host_port>/...
    host: str = "localhost"
    mode: str = "hosts"  # hosts | mirrors
    tls: bool = False  # the registry speaks HTTPS with our CA (registry.tls)
    ca_file: str = ""  # that CA on this machine, copied next to each hosts.toml
    ca_pem: str = field(default="", repr=False, compare=False)  # its text, as ops read it
    auth_header: str = field(default="", repr=False, compare=False)  # "Basic ..." (registry.auth)
    username: str = ""  # for the --dry script, which reads the password from the environment
    mirrors: tuple[tuple[str, str, str], ...] = ()  # (upstream, remote_url, mirror endpoint)

    @property
    def pull_host(self) -> str:
        """The name in image references: localhost:5000."""
        return f"{self.host}:{self.host_port}"

    @property
    def endpoint(self) -> str:
        """Where containerd really goes: http://kind-registry:5000 (https with registry.tls)."""
        return f"{'https' if self.tls else 'http'}://{self.registry_name}:5000"

    @property
    def in_network_host(self) -> str:
        return f"{self.registry_name}:5000"

    def hosts_files(self, authorization: str | None = None) -> dict[str, str]:
        """certs.d sub-directory -> hosts.toml text, for every name the nodes may pull by.
        authorization replaces the real header (the --dry script's shell expansion)."""
        header = self.auth_header if authorization is None else authorization
        files = {
            name: hosts_toml(
                self.endpoint,
                ca=f"{CERTS_DIR}/{name}/{CA_NAME}" if self.tls else "",
                authorization=header if self.auth_header else "",
            )
            for name in self.registry_names
        }
        return files | self.mirror_files()

    @property
    def registry_names(self) -> list[str]:
        """certs.d names of the local registry: localhost:5000 and kind-registry:5000."""
        return list(dict.fromkeys([self.pull_host, self.in_network_host]))

    @property
    def mirror_names(self) -> list[str]:
        """The cache containers, by the names their endpoints use."""
        return [endpoint.split("//", 1)[1].rsplit(":", 1)[0] for _, _, endpoint in self.mirrors]

    def mirror_files(self) -> dict[str, str]:
        """certs.d/<upstream>/hosts.toml of each pull-through cache (cache.mirrors)."""
        from stagingkub.cache.plan import mirror_hosts_toml

        return {up: mirror_hosts_toml(remote, endpoint) for up, remote, endpoint in self.mirrors}

    def shell_authorization(self) -> str:
        """The header as the --dry script computes it: the password from the environment."""
        from stagingkub.registry.auth import shell_credentials

        return f"Basic {shell_credentials(self.username)}"

    def ca_files(self) -> dict[str, str]:
        """certs.d sub-directory -> the CA that hosts.toml's `ca` points at (registry.tls)."""
        if not self.tls:
            return {}
        if not self.ca_pem:
            raise StateError(
                f"registry.tls is on but its CA ({self.ca_file}) does not exist yet: run "
                "`invoke registry.create` first (cluster.create and deploy do)."
            )
        return {name: self.ca_pem for name in self.registry_names}

    def patch(self) -> str:
        """The containerdConfigPatches entry for this mode."""
        if self.mode == "mirrors":
            return (
                f'[plugins."io.containerd.grpc.v1.cri".registry.mirrors."{self.pull_host}"]\n'
                f'  endpoint = ["{self.endpoint}"]'
            )
        return CONFIG_PATH_PATCH


def hosts_toml(endpoint: str, ca: str = "", authorization: str = "") -> str:
    """containerd's hosts.toml: pull and resolve from the registry (over plain HTTP, or
    HTTPS trusting our CA), with a static Authorization header when it needs a login."""
    text = f'[host."{endpoint}"]\n  capabilities = ["pull", "resolve"]\n'
    if ca:
        text += f'  ca = "{ca}"\n'
    if authorization:
        text += f'  [host."{endpoint}".header]\n    authorization = ["{authorization}"]\n'
    return text


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


def dump(document) -> str:
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def kind_config(
    name: str, roles: list[str], wiring: Wiring, user_text: str = "", user_label: str = ""
) -> str:
    """The kind Cluster config: the user's (comments, nodes, ports, mounts kept) plus our patch."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import LiteralScalarString

    document = _load_user(user_text, user_label) if user_text else CommentedMap()
    document.setdefault("kind", "Cluster")
    document.setdefault("apiVersion", KIND_API_VERSION)
    if "name" in document:
        document["name"] = name
    else:
        document.insert(list(document).index("apiVersion") + 1, "name", name)
    if not document.get("nodes"):
        document["nodes"] = CommentedSeq([CommentedMap(role=role) for role in roles])
    patches = document.get("containerdConfigPatches") or CommentedSeq()
    _check_patches([str(p) for p in patches], wiring, user_label)
    if not any(_same_patch(str(p), wiring.patch()) for p in patches):
        patches.append(LiteralScalarString(wiring.patch() + "\n"))
    document["containerdConfigPatches"] = patches
    return dump(document)


def _load_user(text: str, label: str):
    from ruamel.yaml.error import YAMLError

    try:
        document = _yaml().load(text)
    except YAMLError as error:
        raise ConfigError(f"{label} is not valid YAML: {error}".replace("\n", " ")) from None
    if not hasattr(document, "get") or document.get("kind") != "Cluster":
        raise ConfigError(
            f"{label} is not a kind cluster config (it needs `kind: Cluster` and "
            f"`apiVersion: {KIND_API_VERSION}`). Point cluster.config_file at a kind config."
        )
    return document


def _same_patch(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _check_patches(patches: list[str], wiring: Wiring, label: str) -> None:
    for patch in patches:
        config_path, mirrors = _patch_settings(patch, label)
        if wiring.mode == "hosts" and mirrors:
            raise ConfigError(
                f"{label} has a containerd `registry.mirrors` patch, and cluster.wiring is "
                "'hosts' (config_path). containerd 2.x refuses both together. Remove the "
                "mirrors patch from your kind config (the hosts.toml wiring replaces it), or "
                "set cluster.wiring: mirrors for node images older than kind v0.20."
            )
        if config_path is not None and (wiring.mode == "mirrors" or config_path != CERTS_DIR):
            raise ConfigError(
                f"{label} sets containerd config_path = {config_path!r}; stagingkub needs "
                f"{CERTS_DIR!r} with cluster.wiring 'hosts' and no config_path with 'mirrors'. "
                "Remove that patch from your kind config."
            )


def _patch_settings(patch: str, label: str) -> tuple[str | None, bool]:
    return _registry_settings_of(patch, lambda error: ConfigError(
        f"{label} has a containerdConfigPatches entry that is not valid TOML ({error}); "
        "kind would fail to create the cluster with it. Fix or remove it."))  # fmt: skip


def _registry_settings_of(text: str, invalid) -> tuple[str | None, bool]:
    """registry_settings of TOML text; invalid(error) is raised when it does not parse."""
    try:
        return registry_settings(tomllib.loads(text))
    except tomllib.TOMLDecodeError as error:
        raise invalid(error) from None


def hosting(wiring: Wiring) -> str:
    """localRegistryHosting.v1 (KEP-1755): where tools push, and where the cluster pulls."""
    return (
        f'host: "{wiring.pull_host}"\n'
        f'hostFromContainerRuntime: "{wiring.in_network_host}"\n'
        f'hostFromClusterNetwork: "{wiring.in_network_host}"\n'
        f'help: "{HELP_URL}"\n'
    )


def registry_configmap(wiring: Wiring) -> str:
    """KEP-1755 ConfigMap so Tilt, Skaffold and others find the registry."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import LiteralScalarString

    document = CommentedMap(
        apiVersion="v1",
        kind="ConfigMap",
        metadata=CommentedMap(name="local-registry-hosting", namespace="kube-public"),
        data=CommentedMap({"localRegistryHosting.v1": LiteralScalarString(hosting(wiring))}),
    )
    return dump(document)


def configmap_data(configmap_json: str) -> str:
    """localRegistryHosting.v1 from a ConfigMap as `kubectl get -o json` prints it."""

    try:
        document = json.loads(configmap_json)
    except ValueError:
        return ""
    return ((document or {}).get("data") or {}).get("localRegistryHosting.v1") or ""


def containerd_registry_state(config_text: str) -> tuple[str | None, bool]:
    """(config_path or None, has a registry.mirrors table) of a node's containerd
    config.toml, read as TOML: comments and other tables never count."""
    return _registry_settings_of(config_text, lambda error: StateError(
        f"The node's {CONTAINERD_CONFIG} is not valid TOML ({error}), so its registry wiring "
        "is unknown; containerd cannot start with it either. `invoke cluster.delete` and "
        "`invoke cluster.create` make the cluster anew."))  # fmt: skip


def registry_settings(document: dict) -> tuple[str | None, bool]:
    config_path, mirrors = None, False
    for keys in _REGISTRY_TABLES:
        table: object = document
        for key in keys:
            table = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict):
            found = table.get("config_path")
            config_path = config_path or (found if isinstance(found, str) else None)
            mirrors = mirrors or bool(table.get("mirrors"))
    return config_path, mirrors


def predicted_node_names(name: str, roles: list[str]) -> list[str]:
    """kind's node container names, for --dry before the cluster exists."""
    names, seen = [], {"control-plane": 0, "worker": 0}
    for role in roles:
        seen[role] += 1
        names.append(f"{name}-{role}" + (str(seen[role]) if seen[role] > 1 else ""))
    return names

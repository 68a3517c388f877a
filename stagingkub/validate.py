"""Validators for every value that can reach a command line.

Each takes the raw value and a label saying where it came from (a flag, a key, a
variable), and returns the value or raises InputError with the fix.
"""

from __future__ import annotations

import re

from stagingkub.errors import InputError
from stagingkub.references import (  # noqa: F401 (image_reference, repository, tag: validators)
    image_reference,
    is_domain,
    is_ip,
    repository,
    tag,
)

# Docker's own rule for container, volume and network names.
_DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")
# Kubernetes DNS-1123 label (namespaces) and kind's cluster name rule.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_KEY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def docker_name(value: str, what: str) -> str:
    """A container, volume or network name."""
    if not isinstance(value, str) or not _DOCKER_NAME.fullmatch(value):
        raise InputError(
            f"{what} is {_shown(value)}, which is not a valid Docker name. Use 1 to 128 "
            "characters from letters, digits, '_', '.' and '-', starting with a letter or "
            "a digit (for example 'kind-registry')."
        )
    return value


def port(value: object, what: str) -> int:
    """A TCP port, 1-65535."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError(f"{what} is {_shown(value)}; a port is a whole number from 1 to 65535.")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise InputError(f"{what} is {value!r}; a port is a whole number from 1 to 65535.")
    return int(text)


def bind_address(value: str, what: str) -> str:
    """An IP literal Docker can publish a port on (127.0.0.1, 0.0.0.0, ::1...)."""
    if not isinstance(value, str) or not is_ip(value):
        raise InputError(
            f"{what} is {_shown(value)}, which is not an IP address. Docker publishes ports "
            "on an address, not a host name: use 127.0.0.1 (this machine only, the default), "
            "0.0.0.0 (every interface) or another address of this host."
        )
    return value


def host_name(value: str, what: str) -> str:
    """The registry host as clients write it in image names (localhost, harbor.example.com)."""
    if not isinstance(value, str) or not (is_domain(value) or is_ip(value)):
        raise InputError(
            f"{what} is {_shown(value)}, which is not a host name (for example 'localhost')."
        )
    return value


def namespace(value: str, what: str) -> str:
    """A Kubernetes namespace (DNS-1123 label, at most 63 characters)."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise InputError(
            f"{what} is {_shown(value)}; a Kubernetes namespace is 1 to 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit."
        )
    return value


def cluster_name(value: str, what: str) -> str:
    """A kind cluster name (its node containers are named '<name>-control-plane')."""
    if not isinstance(value, str) or len(value) > 50 or not _RELEASE.fullmatch(value):
        raise InputError(
            f"{what} is {_shown(value)}; a kind cluster name is lowercase letters, digits, "
            "'-' and '.', at most 50 characters (for example 'rhdemo')."
        )
    return value


def release_name(value: str, what: str) -> str:
    """A Helm release name (DNS-1123 subdomain, at most 53 characters)."""
    if not isinstance(value, str) or len(value) > 53 or not _RELEASE.fullmatch(value):
        raise InputError(
            f"{what} is {_shown(value)}; a Helm release name is at most 53 lowercase letters, "
            "digits, '-' and '.', starting and ending with a letter or digit."
        )
    return value


_PATH = re.compile(r"[A-Za-z0-9._/~+@:=,-]+")


def path(value: str, what: str) -> str:
    """A file or directory path that will appear on a command line: portable characters
    only (letters, digits, . _ / ~ + @ : = , -), not starting with '-'. Relative paths such
    as ../rhdemo-api are fine: the app often sits beside this repository."""
    if not isinstance(value, str) or not _PATH.fullmatch(value) or value.startswith("-"):
        raise InputError(
            f"{what} is {_shown(value)}; give a non-empty path of letters, digits and "
            ". _ / ~ + @ : = , - that does not start with '-' (for example './helm/rhdemo' or "
            "'../rhdemo-api'): no spaces, shell characters or line breaks."
        )
    return value


def labels(value: dict[str, str], what: str) -> dict[str, str]:
    """Docker labels: keys in reverse-DNS form, values without line breaks."""
    for key, label_value in value.items():
        if not isinstance(key, str) or not _LABEL_KEY.fullmatch(key):
            raise InputError(
                f"{what} has the label key {key!r}; use lowercase reverse-DNS keys such as "
                "'com.example.team'."
            )
        if not isinstance(label_value, str) or any(ch in label_value for ch in "\n\r\0"):
            raise InputError(f"{what}: the label {key!r} needs a one-line string value.")
    return value


def seconds(value: object, what: str) -> float:
    """A positive duration in seconds."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not 0 < number <= 3600:
        raise InputError(f"{what} is {value!r}; give a number of seconds from 0 to 3600.")
    return number


def count(value: object, what: str) -> int:
    """A whole number of lines, items... (0 or more)."""
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise InputError(f"{what} is {value!r}; give a whole number such as 100.")
    return int(text)


NODE_ROLES = ("control-plane", "worker")


def node_roles(value: list, what: str) -> list[str]:
    """kind node roles: at least one control-plane, then any workers."""
    if not value or any(role not in NODE_ROLES for role in value) or "control-plane" not in value:
        raise InputError(
            f"{what} is {value!r}; list kind node roles, each 'control-plane' or 'worker', "
            "with at least one control-plane (for example [control-plane, worker])."
        )
    return list(value)


_DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+")


def duration(value: str, what: str) -> str:
    """A Go duration as kind and helm take it: 90s, 5m, 1m30s."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise InputError(f"{what} is {_shown(value)}; give a duration such as 120s, 5m or 1m30s.")
    return value


def choice(*allowed: str):
    """A validator accepting one of `allowed`."""

    def check(value: str, what: str) -> str:
        if value not in allowed:
            raise InputError(f"{what} is {_shown(value)}; use one of: {', '.join(allowed)}.")
        return value

    return check


def kube_context(value: str, what: str) -> str:
    """A kubeconfig context name (kind-rhdemo, arn:aws:eks:...:cluster/x)."""
    if (
        not isinstance(value, str)
        or not value
        or value.startswith("-")
        or any(ch.isspace() or not ch.isprintable() for ch in value)
    ):
        raise InputError(
            f"{what} is {_shown(value)}; a kube context name has no spaces and does not start "
            "with '-' (see `kubectl config get-contexts`)."
        )
    return value


def maven_args(value: list, what: str) -> list[str]:
    """Extra Maven arguments: one-line strings (each becomes one argv entry, never a shell)."""
    for item in value:
        if not isinstance(item, str) or not item or any(ch in item for ch in "\n\r\0"):
            raise InputError(
                f"{what} has {_shown(item)}; each Maven argument is a one-line string such as "
                "'-DskipTests'."
            )
    return list(value)


def forward(value: str, what: str) -> str:
    """[LOCAL:]PORT: two port numbers, or one for both."""
    parts = value.split(":")
    if len(parts) > 2 or not all(p.isdigit() and 0 < int(p) < 65536 for p in parts):
        raise InputError(
            f"{what} is {value!r}; give [LOCAL:]PORT with ports 1-65535, for example 8080 "
            "(localhost:8080 to the pod's 8080) or 9090:8080."
        )
    return value


def command(value: list, what: str) -> list[str]:
    """A command as argv entries (never a shell line): one-line strings, empty for none."""
    for item in value:
        if not isinstance(item, str) or not item or any(ch in item for ch in "\n\r\0"):
            raise InputError(
                f"{what} has {_shown(item)}; give the command one argument per entry, "
                "for example [./mvnw, -B, -q, package, -DskipTests]."
            )
    return list(value)


_BUILD_ARG = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def build_args(value: dict, what: str) -> dict[str, str]:
    """docker build --build-arg NAME=VALUE pairs: shell-style names, one-line values."""
    for name, arg_value in value.items():
        if not isinstance(name, str) or not _BUILD_ARG.fullmatch(name):
            raise InputError(
                f"{what} has the build argument name {name!r}; use a name such as "
                "'APP_VERSION' (letters, digits, '_', not starting with a digit)."
            )
        if not isinstance(arg_value, str) or any(ch in arg_value for ch in "\n\r\0"):
            raise InputError(f"{what}: the build argument {name!r} needs a one-line value.")
    return dict(value)


def boolean(value: object, what: str) -> bool:
    """true/false, yes/no, 1/0, on/off."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise InputError(f"{what} is {value!r}; use true or false.")


def gigabytes(value: object, what: str) -> float:
    """A size in GB, 0 or more."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or number < 0:
        raise InputError(f"{what} is {value!r}; give a number of gigabytes such as 5.")
    return number


def chart_path(value: str, what: str) -> str:
    """The Helm chart directory: a path inside this repository (no '..'), or an absolute one."""
    path(value, what)
    if ".." in value.split("/"):
        raise InputError(
            f"{what} is {value!r}; a relative chart path stays inside this repository (no "
            "'..'): give an absolute path for a chart that lives elsewhere."
        )
    return value


_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+$-]{0,127}")
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def username(value: str, what: str) -> str:
    """A registry user name: letters, digits and . _ @ + - $ (Harbor's robot accounts are
    robot$project+name; every command line quotes it, htpasswd forbids ':')."""
    if not isinstance(value, str) or not _USERNAME.fullmatch(value):
        raise InputError(
            f"{what} is {_shown(value)}; a registry user name is 1 to 128 letters, digits "
            "and . _ @ + - $, starting with a letter or digit (Harbor: robot$project+name)."
        )
    return value


def severities(value: str, what: str) -> str:
    """trivy --severity: a comma-separated subset of UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL."""
    parts = value.split(",") if isinstance(value, str) else [None]
    if not parts or any(part not in SEVERITIES for part in parts):
        raise InputError(
            f"{what} is {_shown(value)}; give a comma-separated list of "
            f"{', '.join(SEVERITIES)} (for example 'HIGH,CRITICAL')."
        )
    return value


_MIRROR_KEYS = {"upstream", "remote_url"}  # and port, optional
_REMOTE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?")


def mirrors(value: list, what: str) -> list[dict]:
    """cache.mirrors: [{upstream: docker.io, remote_url: https://registry-1.docker.io,
    port: 5101}, ...], each upstream and port once; a port left out stays None (the cache
    package gives it its upstream's usual one)."""
    found = [_mirror(entry, f"entry {number} of {what}") for number, entry in
             enumerate(value, 1)]  # fmt: skip
    for key in ("upstream", "port"):
        seen = [entry[key] for entry in found if entry[key] is not None]
        twice = sorted({str(item) for item in seen if seen.count(item) > 1})
        if twice:
            raise InputError(f"{what} names the {key} {', '.join(twice)} more than once.")
    return found


def _mirror(entry, where: str) -> dict:
    """One checked entry; its port None when not given."""
    if not isinstance(entry, dict) or not _MIRROR_KEYS <= set(entry) <= _MIRROR_KEYS | {"port"}:
        got = sorted(entry) if isinstance(entry, dict) else repr(entry)
        raise InputError(
            f"{where} is {got}; each mirror is a mapping of upstream and remote_url, and "
            "optionally port (for example `- {upstream: docker.io, remote_url: "
            "https://registry-1.docker.io, port: 5101}`; config/cache.yaml has the usual "
            "four). Mirrors are set in a profile file, not in .env."
        )
    upstream = host_name(str(entry["upstream"]).split(":")[0], f"the upstream of {where}")
    if ":" in str(entry["upstream"]):
        upstream += ":" + str(port(str(entry["upstream"]).split(":", 1)[1], where))
    remote = str(entry["remote_url"])
    if not _REMOTE_URL.fullmatch(remote):
        raise InputError(
            f"the remote_url of {where} is {remote!r}; give the upstream's registry API as "
            "http(s)://host[:port] (Docker Hub's is https://registry-1.docker.io)."
        )
    given = entry.get("port")
    return {"upstream": upstream, "remote_url": remote.rstrip("/"),
            "port": None if given is None else port(given, f"the port of {where}")}  # fmt: skip


def image_references(value: list, what: str) -> list[str]:
    """A list of full image references (cache.warm_images)."""
    return [image_reference(item, f"entry {n} of {what}") for n, item in enumerate(value, 1)]

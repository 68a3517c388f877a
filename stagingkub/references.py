"""Image references checked against the distribution reference grammar (tags, repository
paths, domains, digests), as the docker CLI and registries parse them."""

from __future__ import annotations

import ipaddress
import re

from stagingkub.errors import InputError

# The distribution reference grammar (github.com/distribution/reference, regexp.go).
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = re.compile(r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")

MAX_NAME_LENGTH = 255


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_domain(text: str) -> bool:
    """Dot-separated domain components (localhost, harbor.example.com)."""
    return all(_DOMAIN_COMPONENT.fullmatch(c) for c in text.split("."))


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def tag(value: str, what: str) -> str:
    """An image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}."""
    if not isinstance(value, str) or not _TAG.fullmatch(value):
        length = f" ({len(value)} characters)" if isinstance(value, str) else ""
        raise InputError(
            f"{what} is {_shown(value)}{length}, which is not a valid image tag. A tag is 1 to "
            "128 characters from letters, digits, '_', '.' and '-', and does not start with "
            "'.' or '-' (for example '1.1.0-SNAPSHOT')."
        )
    return value


def repository(value: str, what: str) -> str:
    """A repository path without a tag: lowercase components separated by '/'."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} is empty; give a repository name such as 'rhdemo-api'.")
    _check_name(value, what)
    return value


def image_reference(value: str, what: str) -> str:
    """A full image reference: [domain[:port]/]path[:tag][@digest]."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} is empty; give an image reference such as 'registry:2'.")
    name, digest = value, None
    if "@" in value:
        name, digest = value.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InputError(
                f"{what} is {value!r}: the digest after '@' must look like 'sha256:<64 hex>'."
            )
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag_part = name.rsplit(":", 1)
        tag(tag_part, f"the tag of {what} ({value!r})")
    _check_name(name, what)
    return value


def _check_name(name: str, what: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"{what} is longer than {MAX_NAME_LENGTH} characters.")
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        _check_domain(first, name, what)
        parts = parts[1:]
    for part in parts:
        if _PATH_COMPONENT.fullmatch(part):
            continue
        if _PATH_COMPONENT.fullmatch(part.lower()):
            raise InputError(
                f"{what} is {name!r}: repository names must be lowercase (use {name.lower()!r})."
            )
        raise InputError(
            f"{what} is {name!r}, which is not a valid repository name. Each '/'-separated "
            "part uses lowercase letters and digits, joined by '.', '_', '__' or '-' "
            "(for example 'localhost:5000/rhdemo-api')."
        )


def _check_domain(domain: str, name: str, what: str) -> None:
    if domain.startswith("[") and "]" in domain:
        host, port_part = domain[: domain.index("]") + 1], domain[domain.index("]") + 1 :]
        ok = port_part == "" or port_part.startswith(":")
        port_part = port_part[1:]
    else:
        host, _, port_part = domain.partition(":")
        ok = True
    if host.startswith("["):
        ok = ok and host.endswith("]") and is_ip(host[1:-1])
    else:
        ok = ok and all(_DOMAIN_COMPONENT.fullmatch(c) for c in host.split("."))
    if port_part and not (port_part.isascii() and port_part.isdigit()):
        ok = False
    if not ok:
        raise InputError(
            f"{what} is {name!r}: {domain!r} is not a valid registry host[:port] "
            "(for example 'localhost:5000' or 'harbor.example.com')."
        )

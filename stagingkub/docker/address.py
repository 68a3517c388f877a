"""Where the Docker engine is, chosen the way the docker CLI chooses it.

DOCKER_HOST, else DOCKER_CONTEXT, else config.json's currentContext, else the default
socket. TLS as the CLI turns it on: DOCKER_TLS_VERIFY (any non-empty value) for TLS with
verification, DOCKER_TLS for TLS without it; DOCKER_CERT_PATH only says where the
ca.pem/cert.pem/key.pem are (default ~/.docker) and alone turns nothing on. A context's
TLS material lives under contexts/tls/<sha256 of its name>/docker, its SkipTLSVerify in
its meta.json.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from stagingkub.errors import DockerUnavailable

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class EngineAddress:
    host: str
    source: str  # what chose it: "DOCKER_HOST", "context <name>", "default"
    tls: bool = False
    verify: bool = True
    cert_dir: Path | None = None  # ca.pem, cert.pem, key.pem


def docker_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def engine_address() -> EngineAddress:
    """The engine's address and TLS, or DockerUnavailable for one we cannot speak to."""
    if os.environ.get("DOCKER_HOST"):
        address = _from_environment(os.environ["DOCKER_HOST"])
    else:
        address = _from_context(_context_name())
    _check_scheme(address)
    return address


def _from_environment(host: str) -> EngineAddress:
    verify = bool(os.environ.get("DOCKER_TLS_VERIFY"))
    tls = verify or bool(os.environ.get("DOCKER_TLS")) or urlsplit(host).scheme == "https"
    cert_dir = Path(os.environ.get("DOCKER_CERT_PATH") or docker_dir()) if tls else None
    unverified = bool(os.environ.get("DOCKER_TLS")) and not verify  # the CLI's --tls alone
    return EngineAddress(host, "DOCKER_HOST", tls=tls, verify=not unverified, cert_dir=cert_dir)


def _context_name() -> str:
    name = os.environ.get("DOCKER_CONTEXT")
    if name:
        return name
    try:
        return json.loads((docker_dir() / "config.json").read_text()).get("currentContext") or ""
    except (OSError, ValueError, AttributeError):
        return ""


def _from_context(name: str) -> EngineAddress:
    if not name or name == "default":
        return EngineAddress(DEFAULT_HOST, "default")
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta_file = docker_dir() / "contexts" / "meta" / digest / "meta.json"
    try:
        endpoint = json.loads(meta_file.read_text())["Endpoints"]["docker"]
    except (OSError, ValueError, KeyError, TypeError):
        raise DockerUnavailable(
            f"The docker context {name!r} (DOCKER_CONTEXT or config.json's currentContext) "
            f"has no readable endpoint in {meta_file}. List the contexts with "
            "`docker context ls` and choose one with `docker context use <name>`, or set "
            "DOCKER_HOST."
        ) from None
    tls_dir = docker_dir() / "contexts" / "tls" / digest / "docker"
    tls = tls_dir.is_dir() or urlsplit(endpoint.get("Host", "")).scheme == "https"
    return EngineAddress(
        endpoint.get("Host") or DEFAULT_HOST,
        f"context {name}",
        tls=tls,
        verify=not endpoint.get("SkipTLSVerify", False),
        cert_dir=tls_dir if tls_dir.is_dir() else None,
    )


def _check_scheme(address: EngineAddress) -> None:
    scheme = urlsplit(address.host).scheme
    if scheme == "ssh":
        raise DockerUnavailable(
            f"The Docker engine is set to {address.host} ({address.source}), an ssh:// host; "
            "stagingkub talks to the engine's API itself and does not run ssh. Forward the "
            "remote socket and point DOCKER_HOST at it (`ssh -nNT -L "
            "/tmp/docker.sock:/var/run/docker.sock user@host &` then "
            "`export DOCKER_HOST=unix:///tmp/docker.sock`), or use a `docker context` whose "
            "endpoint is tcp:// with TLS (`docker context create`)."
        )
    if scheme not in ("unix", "tcp", "http", "https"):
        raise DockerUnavailable(
            f"The Docker engine is set to {address.host!r} ({address.source}), which uses "
            f"{scheme or 'no scheme'}; stagingkub speaks unix:// and tcp:// (with TLS from "
            "DOCKER_TLS_VERIFY). Set DOCKER_HOST to one of those."
        )

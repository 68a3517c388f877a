"""How stagingkub authenticates to a registry: TLS trust, Basic credentials, Bearer tokens.

htpasswd registries (the local one with registry.auth, ECR, Harbor's /v2/) take
Basic credentials; token registries (GHCR, Docker Hub, Harbor's token service)
answer 401 with a Bearer challenge, and the token comes from their realm.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
from urllib.parse import urlsplit

from stagingkub.errors import StateError


class RegistryHTTPError(StateError):
    """The registry could not be reached or answered with an error."""


class RegistryUnauthorized(RegistryHTTPError):
    """The registry (or its token service) wants credentials it did not get or refused."""


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Verify the registry's certificate against the system's CAs, plus ours when given."""
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


def connect(url: str, timeout: float, cafile: str | None = None) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=tls_context(cafile)
        )
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def bearer_challenge(headers: dict[str, str]) -> dict[str, str] | None:
    """realm, service and scope of a `WWW-Authenticate: Bearer ...` answer, else None."""
    value = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
    if not value.lower().startswith("bearer "):
        return None
    return dict(_CHALLENGE_PARAM.findall(value))


def fetch_token(challenge: dict[str, str], authorization: str, timeout: float, cafile) -> str:
    """GET realm?service=...&scope=... (with Basic credentials when given): the token."""
    from urllib.error import URLError
    from urllib.parse import urlencode
    from urllib.request import Request, urlopen

    realm = challenge.get("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise RegistryHTTPError(f"The registry asked for a token from {realm!r}, not a URL.")
    query = urlencode({k: v for k, v in challenge.items() if k in ("service", "scope")})
    request = Request(f"{realm}?{query}" if query else realm)
    if authorization:
        request.add_header("Authorization", authorization)
    context = tls_context(cafile) if realm.startswith("https://") else None
    try:
        with urlopen(request, timeout=timeout, context=context) as response:
            document = json.loads(response.read() or b"{}")
    except (URLError, OSError, ValueError) as error:
        reason = getattr(error, "code", None) or getattr(error, "reason", None) or error
        refused = " (check registry.username and STAGINGKUB_REGISTRY_PASSWORD)" * (reason == 401)
        kind = RegistryUnauthorized if reason in (401, 403) else RegistryHTTPError
        raise kind(
            f"The registry's token service {realm} refused or failed: {reason}{refused}."
        ) from None
    token = document.get("token") or document.get("access_token")
    if not token:
        raise RegistryHTTPError(f"The token service {realm} answered without a token.")
    return str(token)


def unauthorized(url: str, sent: bool) -> str:
    if sent:
        return (
            f"The registry at {url} refused the credentials (401). Check registry.username "
            "and STAGINGKUB_REGISTRY_PASSWORD (.env or the environment)."
        )
    return (
        f"The registry at {url} asks for credentials (401). Set registry.username and "
        "STAGINGKUB_REGISTRY_PASSWORD (.env or the environment)."
    )


def shell_b64(expression: str) -> str:
    """$(EXPRESSION | base64) on one line: for --dry scripts that compute secrets at run time."""
    return f"$({expression} | base64 | tr -d '\\n')"


def shell_credentials(username: str) -> str:
    """base64 of user:$STAGINGKUB_REGISTRY_PASSWORD, computed by the shell (printf is a builtin:
    the password is never an argument of a program)."""
    return shell_b64(f"printf '%s:%s' '{username}' \"$STAGINGKUB_REGISTRY_PASSWORD\"")

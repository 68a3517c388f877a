"""How stagingkub authenticates to a registry: Basic credentials and Bearer tokens.

htpasswd registries (the local one with registry.auth, ECR, Harbor's /v2/) take
Basic credentials; token registries (GHCR, Docker Hub, Harbor's token service)
answer 401 with a Bearer challenge, and the token comes from their realm.
"""

from __future__ import annotations

import base64
import http.client
import re
from urllib.parse import urlencode, urlsplit

from stagingkub.answers import NotJSON, decode
from stagingkub.errors import StateError
from stagingkub.registry.transport import connect


class RegistryHTTPError(StateError):
    """The registry could not be reached or answered with an error."""


class RegistryUnauthorized(RegistryHTTPError):
    """The registry (or its token service) wants credentials it did not get or refused."""


# Where the credentials a RegistryAPI sends come from, as its 401 messages name them.
REGISTRY_CREDENTIALS = "registry.username and STAGINGKUB_REGISTRY_PASSWORD"


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


def fetch_token(
    challenge: dict[str, str], authorization: str, timeout: float, cafile,
    credentials: str = REGISTRY_CREDENTIALS,
) -> tuple[str, float]:  # fmt: skip
    """GET realm?service=...&scope=... (with Basic credentials when given): (the token, its
    lifetime in seconds: `expires_in`, else the 60 s the token specification assumes)."""

    realm = challenge.get("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise RegistryHTTPError(f"The registry asked for a token from {realm!r}, not a URL.")
    query = urlencode({k: v for k, v in challenge.items() if k in ("service", "scope")})
    parts = urlsplit(realm)
    path = (parts.path or "/") + (f"?{query}" if query else "")
    status, body = _token_request(realm, path, authorization, timeout, cafile)
    if status != 200:
        refused = f" (check {credentials})" * (status == 401)
        kind = RegistryUnauthorized if status in (401, 403) else RegistryHTTPError
        raise kind(f"The registry's token service {realm} refused or failed: {status}{refused}.")
    try:
        document = decode(body, f"The registry's token service {realm}", empty={})
        token = document.get("token") or document.get("access_token")
        lifetime = float(document.get("expires_in") or 60)
    except (NotJSON, AttributeError, TypeError, ValueError):
        raise RegistryHTTPError(
            f"The registry's token service {realm} answered something that is not a token "
            f"(JSON with a token expected, got {body[:60]!r})."
        ) from None
    if not token:
        raise RegistryHTTPError(f"The token service {realm} answered without a token.")
    return str(token), lifetime


def _token_request(realm: str, path: str, authorization: str, timeout: float, cafile):
    connection = connect(realm, timeout, cafile)
    try:
        headers = {"Authorization": authorization} if authorization else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        raise RegistryHTTPError(
            f"The registry's token service {realm} does not answer ({type(error).__name__}: "
            f"{error})."
        ) from None
    finally:
        connection.close()


def unauthorized(url: str, sent: bool, credentials: str = REGISTRY_CREDENTIALS) -> str:
    if sent:
        return (
            f"The registry at {url} refused the credentials (401). Check {credentials} "
            "(.env or the environment)."
        )
    return (
        f"The registry at {url} asks for credentials (401). Set {credentials} "
        "(.env or the environment)."
    )


def shell_b64(expression: str) -> str:
    """$(EXPRESSION | base64) on one line: for --dry scripts that compute secrets at run time."""
    return f"$({expression} | base64 | tr -d '\\n')"


def shell_credentials(username: str) -> str:
    """base64 of user:$STAGINGKUB_REGISTRY_PASSWORD, computed by the shell (printf is a builtin:
    the password is never an argument of a program)."""
    return shell_b64(f"printf '%s:%s' '{username}' \"$STAGINGKUB_REGISTRY_PASSWORD\"")

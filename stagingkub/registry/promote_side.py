"""The two ends of a copy between registries, what the copy did, and how an answer that
is not the one expected becomes one paragraph: the registry, the request, the registry's
own words, and the fix."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from dataclasses import dataclass, field

from stagingkub.registry.api import RegistryAPI
from stagingkub.registry.auth import RegistryHTTPError, RegistryUnauthorized
from stagingkub.registry.transport import tls_failure

RESUME = (
    "Nothing half-sent is tagged: re-run the same command once that is fixed; it skips the "
    "blobs the target holds already and sends the rest."
)


class CopyFailed(RegistryHTTPError):
    """The copy stopped: a registry refused, changed, or broke off what was sent."""


@dataclass
class Tally:
    """What a copy did: blobs sent, found there already, or mounted; bytes sent."""

    sent: int = 0
    present: int = 0
    mounted: int = 0
    bytes_sent: int = 0
    manifests: int = 0
    started: float = field(default_factory=time.monotonic)
    progress: object = None  # called with (digest, done, size) while a blob streams


@dataclass(frozen=True)
class Side:
    """One end of a copy: its API client and the repository path in it."""

    api: RegistryAPI
    repository: str

    @property
    def credentials(self) -> str:
        """Where this side's login comes from, as a 401 names it."""
        return self.api.credentials


def registry_words(body: bytes) -> str:
    """The registry's own error text: `CODE: message` of each entry of a distribution
    error body, else the start of what it sent (an HTML page is named as one)."""
    try:
        errors = json.loads(body).get("errors") or []
        said = [f"{e.get('code', '?')}: {e.get('message', '')}".strip() for e in errors]
    except (ValueError, AttributeError):
        said = []
    if said:
        return "; ".join(said)
    text = body[:300].decode(errors="replace").strip()
    if text.lstrip().lower().startswith(("<!doctype html", "<html")):
        return "an HTML page, not the registry's API (a proxy or a login page in the way?)"
    return repr(text) if text else "an empty body"


def check(status: int, side: Side, what: str, body: bytes, ok: tuple[int, ...] = (200,)) -> None:
    """Nothing when status is one of ok; else CopyFailed (or RegistryUnauthorized) saying
    who answered what, in the registry's words, and what to do."""
    if status in ok:
        return
    if status == 401:
        raise RegistryUnauthorized(
            f"{side.api.url} refused the credentials for {what} (401): check "
            f"{side.credentials} (.env or the environment)."
        )
    if status == 403:
        raise RegistryUnauthorized(
            f"{side.api.url} accepted the login but forbids {what} on {side.repository} "
            "(403): the account needs push rights on that project (a Harbor robot account "
            "with push, for example)."
        )
    raise CopyFailed(
        f"{side.api.url} answered {status} to {what}: {registry_words(body)}. Check that "
        f"the profile names that registry, and re-run. {RESUME}"
    )


def broke_off(side: Side, what: str, error: BaseException) -> CopyFailed:
    """A connection that failed mid-transfer, as one paragraph with the fix."""
    if isinstance(error, ssl.SSLCertVerificationError):
        cause = tls_failure(side.api.url, error)
    elif isinstance(error, ssl.SSLError):
        reason = getattr(error, "reason", "") or error
        cause = f"The TLS connection to {side.api.url} failed ({reason})."
    elif isinstance(error, TimeoutError):
        cause = f"{side.api.url} sent or took nothing for too long ({error or 'timed out'})."
    elif isinstance(error, (ConnectionError, http.client.HTTPException)):
        cause = f"{side.api.url} broke off the connection ({type(error).__name__}: {error})."
    else:
        cause = f"{side.api.url} could not be reached ({type(error).__name__}: {error})."
    return CopyFailed(
        f"The copy stopped during {what} of {side.repository}: {cause} Check the network "
        f"and the registry (or the proxy between). {RESUME}"
    )

"""Is the registry up: one GET /v2/ (quick_ping), and the bounded wait until it answers."""

from __future__ import annotations

import http.client

from stagingkub.console import progress
from stagingkub.errors import StateError
from stagingkub.registry.transport import connect
from stagingkub.waiting import poll

API_HEADER = "Docker-Distribution-Api-Version"


def quick_ping(url: str, timeout: float = 2.0, cafile: str | None = None) -> tuple[bool, str]:
    """GET /v2/ once, on a fresh connection: (healthy, what was seen).

    401 with the API header is healthy: a registry with auth answers so without credentials.
    """
    connection = connect(url, timeout, cafile)
    try:
        connection.request("GET", "/v2/")
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as error:
        return False, f"{type(error).__name__}: {error}".rstrip(": ")
    finally:
        connection.close()
    header = response.getheader(API_HEADER)
    healthy = response.status in (200, 401) and header is not None
    return healthy, f"HTTP {response.status}, {API_HEADER}: {header or 'missing'}"


def wait_healthy(
    url: str,
    timeout: float,
    interval: float = 0.2,
    cafile: str | None = None,
    progress_every: float = 10.0,
) -> None:
    """Poll /v2/ until healthy, at most `timeout` seconds, saying so every progress_every."""
    seen = [quick_ping(url, cafile=cafile)]
    if seen[-1][0]:
        return

    def healthy() -> bool:
        seen.append(quick_ping(url, cafile=cafile))
        return seen[-1][0]

    with progress(f"the registry at {url}/v2/", progress_every):
        if poll(healthy, seconds=timeout, every=interval):
            return
    raise StateError(
        f"The registry did not answer at {url}/v2/ within {timeout:g} s (last: {seen[-1][1]}). "
        "Look at `invoke registry.logs`; raise registry.health_timeout if the host is just slow."
    )

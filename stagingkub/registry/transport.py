"""Connections to a registry: TLS trust, corporate proxies, case-insensitive headers.

Proxies are chosen as curl and the docker daemon choose them: HTTPS_PROXY for https://
registries (a CONNECT tunnel), HTTP_PROXY for http:// ones (absolute-URI requests), and
NO_PROXY's hosts, domains (.corp.example) and `*` go direct. Loopback, `localhost` and
single-label names (the kind network's `kind-registry`) are never proxied: no proxy can
reach them.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import ssl
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment


class Headers(dict):
    """Response headers by lower-case name: headers["Link"] and headers["link"] agree."""

    def __init__(self, pairs=()) -> None:
        super().__init__((str(k).lower(), v) for k, v in dict(pairs).items())

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(str(name).lower())

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Verify the registry's certificate against the system's CAs, plus ours when given."""
    context = ssl.create_default_context()
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


def never_proxied(host: str) -> bool:
    """Loopback, localhost and names without a dot (Docker network aliases)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return "." not in host


def proxy_for(url: str) -> str | None:
    """The proxy URL a request to url goes through, or None for a direct connection."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if never_proxied(host):
        return None
    proxies = getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if not proxy:
        return None
    target = f"{host}:{parts.port}" if parts.port else host
    if proxy_bypass_environment(target, proxies) or proxy_bypass_environment(host, proxies):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _proxy_headers(proxy) -> dict[str, str]:
    if not proxy.username:
        return {}
    pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


class _AbsoluteURIConnection(http.client.HTTPConnection):
    """Plain http through a proxy: the request line names the whole URL."""

    def __init__(self, proxy, target: str, timeout: float) -> None:
        super().__init__(proxy.hostname, proxy.port or 80, timeout=timeout)
        self.target = target
        self.proxy_headers = _proxy_headers(proxy)

    def putrequest(self, method, url, skip_host=False, skip_accept_encoding=False):
        super().putrequest(method, f"http://{self.target}{url}", True, skip_accept_encoding)
        self.putheader("Host", self.target)
        for name, value in self.proxy_headers.items():
            self.putheader(name, value)


def connect(url: str, timeout: float, cafile: str | None = None) -> http.client.HTTPConnection:
    """A connection to the registry at url (not yet opened), through the proxy if any."""
    parts = urlsplit(url)
    proxy_url = proxy_for(url)
    if parts.scheme == "https":
        if proxy_url is None:
            return http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=tls_context(cafile)
            )
        proxy = urlsplit(proxy_url)
        connection = http.client.HTTPSConnection(
            proxy.hostname, proxy.port or 80, timeout=timeout, context=tls_context(cafile)
        )
        connection.set_tunnel(parts.hostname, parts.port or 443, _proxy_headers(proxy))
        return connection
    if proxy_url is None:
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    target = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return _AbsoluteURIConnection(urlsplit(proxy_url), target, timeout)


def tls_failure(url: str, error: ssl.SSLError) -> str:
    """What a failed TLS handshake means, in words, with its fix: an unknown CA, a name the
    certificate does not carry, or HTTPS spoken to a registry that speaks plain HTTP."""
    reason = f"{getattr(error, 'reason', '') or ''} {error}".upper()
    code = getattr(error, "verify_code", None)
    if "WRONG_VERSION_NUMBER" in reason or "RECORD LAYER FAILURE" in reason:
        return (
            f"{url} does not speak TLS: HTTPS was sent to a registry that answers plain HTTP "
            "(the handshake read an HTTP reply). For the local registry, registry.tls is on "
            "but the container runs without it: `invoke registry.create --recreate` applies "
            "it; or set registry.tls: false. For an external one, use its HTTPS port."
        )
    if code == 62 or "HOSTNAME MISMATCH" in reason or "IP ADDRESS MISMATCH" in reason:
        return (
            f"The certificate of {url} does not name this host "
            f"({error.verify_message if code == 62 else error}). "
            "Use the host name its certificate was issued for (registry.host), or, for the "
            "local registry, `invoke registry.create --recreate` makes one that names it."
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"The certificate of {url} is not signed by a CA this machine trusts "
            f"({error.verify_message or error}). For the local registry with registry.tls "
            "on, `invoke registry.create` writes its CA (registry.ca_file in `invoke "
            "diag.config`); for an external registry, set registry.ca_file to its CA."
        )
    return f"The TLS handshake with {url} failed ({error.reason or error})."

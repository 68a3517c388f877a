"""A small client for the registry's HTTP API v2: the tasks' questions (catalog, tags,
manifests), and the writes that have no CLI (registry.prune's deletes, image.promote's
uploads through registry/copy.py).

It runs on the standard library's http.client with one keep-alive connection per
thread: measured over 2,000 tags, httpx spent 3.0 s of CPU where this spends 0.7 s,
and the CPU, not the registry, was the bound (bench/, registry.ls).
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from stagingkub.answers import NotJSON, decode
from stagingkub.registry.auth import (
    REGISTRY_CREDENTIALS,
    RegistryHTTPError,
    RegistryUnauthorized,
    basic_auth,
    bearer_challenge,
    fetch_token,
    unauthorized,
)
from stagingkub.registry.transport import Headers, connect, tls_failure

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
PAGE_SIZE = 1000  # the registry rejects n > 1000 on /v2/_catalog
REDIRECTS = 5  # blob storage behind a registry (S3, a CDN) answers with 307s
TOKEN_MARGIN = 5.0  # seconds before expires_in that a token counts as expired


@dataclass(frozen=True)
class Usage:
    """What a registry holds: repositories, tags and the bytes of its unique blobs."""

    repositories: int
    tags: int
    unique_bytes: int
    total_bytes: int = 0  # as if every tag stored all its layers


@dataclass(frozen=True)
class TagInfo:
    repository: str
    tag: str
    digest: str
    blobs: dict[str, int]
    index: bool = False  # a multi-arch manifest list / OCI index

    @property
    def size(self) -> int:
        return sum(self.blobs.values())


NOT_THE_API = "A proxy, login page or another server answers there, not the registry's API."


def base_url(host: str, port: int, scheme: str = "http") -> str:
    """http(s)://host:port for an address the registry is published on."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class RegistryAPI:
    """Requests to one registry, concurrently safe; every call has a timeout.

    auth is (username, password) for a registry behind htpasswd (HTTP basic);
    cafile is the CA that signed its certificate when that is not a public one;
    credentials names where auth comes from, for the messages of a 401.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        auth: tuple[str, str] | None = None,
        cafile: str | None = None,
        credentials: str = REGISTRY_CREDENTIALS,
    ) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self._cafile = cafile
        self._auth = basic_auth(*auth) if auth and auth[0] else ""
        self.timeout = timeout
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}  # token, expiry

    @property
    def cafile(self) -> str | None:
        return self._cafile

    def close(self) -> None:
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()

    def __enter__(self) -> RegistryAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None or fresh:
            connection = connect(self.url, self.timeout, self._cafile)
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def get(self, path: str, accept: str = "") -> tuple[int, Headers, bytes]:
        return self.request("GET", path, accept)

    def request(
        self, method: str, path: str, accept: str = "", *, data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Headers, bytes]:  # fmt: skip
        """(status, headers, body), data sent as the body. A registry with token auth (GHCR,
        Docker Hub, Harbor's token service) answers 401 with a Bearer challenge: the token is
        fetched with the credentials, cached by scope until its expires_in, and the request
        sent again with it; a 401 to a cached token fetches a new one once. The
        Authorization that was sent is kept for this thread (authorization())."""
        headers = {**({"Accept": accept} if accept else {}), **(headers or {})}
        if self._auth:
            headers["Authorization"] = self._auth
        status, answer, body = self._follow(method, path, headers, data)
        challenge = bearer_challenge(answer) if status == 401 else None
        for fresh in (False, True):
            if challenge is None:
                break
            headers["Authorization"] = "Bearer " + self._token(challenge, fresh)
            status, answer, body = self._follow(method, path, headers, data)
            challenge = bearer_challenge(answer) if status == 401 else None
        self._local.authorization = headers.get("Authorization", "")
        return status, answer, body

    def authorization(self) -> str:
        """The Authorization header this thread's last request was sent with ('' if none):
        for a streamed request on its own connection, after a request that settled it."""
        return getattr(self._local, "authorization", "")

    def authorization_for(self, url: str) -> str:
        """The Authorization for a request to url on another host (an upload Location the
        registry sent): none unless a GET there answers 401 with a challenge; then a token
        from the challenge's realm (Bearer), or these credentials when it asks for Basic.
        This registry's credentials never go to another host unasked."""
        status, answer, _ = self._elsewhere("GET", url, {})
        if status != 401:
            return ""
        challenge = bearer_challenge(answer)
        if challenge is not None:
            return "Bearer " + self._token(challenge)
        asked = (answer.get("WWW-Authenticate") or "").lower().startswith("basic")
        return self._auth if asked else ""

    def _token(self, challenge: dict[str, str], fresh: bool = False) -> str:
        key = (challenge.get("realm", ""), challenge.get("service", ""), challenge.get("scope", ""))
        with self._lock:
            token, expiry = self._tokens.get(key, ("", 0.0))
        if fresh or not token or time.monotonic() >= expiry:
            token, lifetime = fetch_token(challenge, self._auth, self.timeout, self._cafile,
                                          self.credentials)  # fmt: skip
            with self._lock:
                self._tokens[key] = (token, time.monotonic() + lifetime - TOKEN_MARGIN)
        return token

    def _follow(
        self, method: str, path: str, headers: dict[str, str], data: bytes | None = None
    ) -> tuple[int, Headers, bytes]:
        """_send, following 3xx redirects (at most REDIRECTS); another host gets a fresh
        connection and no Authorization header."""
        status, answer, body = self._send(method, path, headers, data)
        base = self.url + path
        for _ in range(REDIRECTS):
            if status not in (301, 302, 303, 307, 308):
                return status, answer, body
            location = answer.get("Location")
            if not location:
                raise RegistryHTTPError(
                    f"The registry at {self.url} answered {status} to {method} {path} "
                    "without a Location to follow."
                )
            base = urljoin(base, location)
            status, answer, body = self._elsewhere(method, base, headers)
        if status in (301, 302, 303, 307, 308):
            raise RegistryHTTPError(
                f"The registry at {self.url} redirected {method} {path} more than {REDIRECTS} "
                f"times (last to {answer.get('Location')}): a proxy or login page in the way?"
            )
        return status, answer, body

    def _elsewhere(
        self, method: str, url: str, headers: dict[str, str]
    ) -> tuple[int, Headers, bytes]:
        parts, own = urlsplit(url), urlsplit(self.url)
        if (parts.scheme, parts.netloc) == (own.scheme, own.netloc):
            return self._send(method, url[len(self.url) :] or "/", headers)
        connection = connect(url, self.timeout, self._cafile)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        others = {k: v for k, v in headers.items() if k != "Authorization"}
        try:
            connection.request(method, target or "/", headers=others)
            response = connection.getresponse()
            return response.status, Headers(response.getheaders()), response.read()
        except (OSError, http.client.HTTPException) as error:
            raise RegistryHTTPError(
                f"{url} (where the registry at {self.url} redirected) does not answer "
                f"({type(error).__name__}: {error})."
            ) from None
        finally:
            connection.close()

    def _send(
        self, method: str, path: str, headers: dict[str, str], data: bytes | None = None
    ) -> tuple[int, Headers, bytes]:
        """One request; a keep-alive connection the server closed is retried once."""
        for attempt in (1, 2):
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request(method, path, body=data, headers=headers)
                response = connection.getresponse()
                return response.status, Headers(response.getheaders()), response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                connection.close()
                if attempt == 2:
                    raise RegistryHTTPError(
                        f"The registry at {self.url} closed the connection."
                    ) from None
            except ssl.SSLError as error:
                connection.close()
                self._local.connection = None
                raise RegistryHTTPError(tls_failure(self.url, error)) from None
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self._local.connection = None
                raise RegistryHTTPError(
                    f"The registry at {self.url} does not answer ({type(error).__name__}: "
                    f"{error}). `invoke registry.status` tells whether it runs."
                ) from None
        raise AssertionError("unreachable")

    def get_json(self, path: str, accept: str = "") -> tuple[Headers, Any] | None:
        """(headers, decoded body), None for 404; other errors raise RegistryHTTPError."""
        status, headers, body = self.get(path, accept)
        if status == 404:
            return None
        if status == 401:
            raise RegistryUnauthorized(unauthorized(self.url, bool(self._auth), self.credentials))
        if status >= 400:
            raise RegistryHTTPError(f"The registry answered {status} to GET {path}: {body[:200]!r}")
        kind = headers.get("Content-Type") or "no Content-Type"
        try:
            return headers, decode(body, f"{self.url}{path} ({status}, {kind})", NOT_THE_API, {})
        except NotJSON as error:
            raise RegistryHTTPError(str(error)) from None

    def _paged(self, path: str, key: str) -> list[str]:
        items: list[str] = []
        next_path: str | None = f"{path}?n={PAGE_SIZE}"
        while next_path:
            answer = self.get_json(next_path)
            if answer is None:
                return items
            headers, document = answer
            items.extend(document.get(key) or [])
            next_path = _next_link(headers.get("Link", ""), path)
        return items

    def catalog(self) -> list[str]:
        return self._paged("/v2/_catalog", "repositories")

    def tags(self, repository: str) -> list[str]:
        return self._paged(f"/v2/{repository}/tags/list", "tags")

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any]] | None:
        """(digest, manifest) of a tag or digest, None when absent."""
        answer = self.get_json(f"/v2/{repository}/manifests/{reference}", MANIFEST_TYPES)
        if answer is None:
            return None
        headers, document = answer
        return headers.get("Docker-Content-Digest", ""), document

    def digests(self, repository: str, reference: str) -> tuple[str, str] | None:
        """(manifest digest, config digest) of a tag, or None when the registry lacks it."""
        found = self.manifest(repository, reference)
        if found is None:
            return None
        digest, document = found
        return digest, (document.get("config") or {}).get("digest", "")

    def blobs(self, repository: str, reference: str) -> dict[str, int]:
        """digest -> size of every blob a tag uses (config and layers, all platforms)."""
        found = self.manifest(repository, reference)
        return _blob_sizes(self, repository, found[1]) if found else {}

    def created(self, repository: str, document: dict[str, Any]) -> str:
        """The image's creation time (RFC 3339 text, '' when unknown) from its config blob;
        for an index, from its first platform's."""
        if "manifests" in document:
            children = document.get("manifests") or []
            found = self.manifest(repository, children[0]["digest"]) if children else None
            return self.created(repository, found[1]) if found else ""
        config = (document.get("config") or {}).get("digest")
        answer = self.get_json(f"/v2/{repository}/blobs/{config}") if config else None
        return str((answer[1] if answer else {}).get("created") or "")

    def delete_manifest(self, repository: str, digest: str) -> None:
        """DELETE a manifest by digest: every tag pointing at it goes with it."""
        status, _, body = self.request("DELETE", f"/v2/{repository}/manifests/{digest}")
        if status in (202, 404):
            return
        if status == 405:
            raise RegistryHTTPError(
                f"The registry at {self.url} refuses deletes (405: storage delete is off). "
                "`invoke registry.create --recreate` recreates it with "
                "REGISTRY_STORAGE_DELETE_ENABLED=true (the data is kept)."
            )
        if status == 401:
            raise RegistryUnauthorized(unauthorized(self.url, bool(self._auth), self.credentials))
        raise RegistryHTTPError(
            f"The registry answered {status} to DELETE {repository}@{digest}: {body[:200]!r}"
        )

    def pairs(self, pool, repositories: list[str] | None = None) -> list[tuple[str, str]]:
        """(repository, tag) of every tag of these repositories (default: the catalog),
        the tag lists fetched concurrently on pool."""
        repositories = self.catalog() if repositories is None else repositories
        tag_lists = list(pool.map(self.tags, repositories))
        return [(r, t) for r, tags in zip(repositories, tag_lists, strict=True) for t in tags]

    def all_tags(self, workers: int = 16) -> list[TagInfo]:
        """Every repository:tag with its manifest digest and size, fetched concurrently."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda pair: self.tag_info(*pair), self.pairs(pool)))

    def tag_info(self, repository: str, tag: str) -> TagInfo:
        found = self.manifest(repository, tag)
        if found is None:  # deleted between the tag list and now
            return TagInfo(repository, tag, "", {})
        digest, document = found
        index = _is_index(document)
        return TagInfo(repository, tag, digest, _blob_sizes(self, repository, document), index)

    def usage(self, workers: int = 8) -> Usage:
        """Repositories, tags, and bytes counting each shared layer once."""
        repositories = self.catalog()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pairs = self.pairs(pool, repositories)
            blob_maps = list(pool.map(lambda pair: self.blobs(*pair), pairs))
        unique: dict[str, int] = {}
        for blob_map in blob_maps:
            unique.update(blob_map)
        total = sum(sum(blob_map.values()) for blob_map in blob_maps)
        return Usage(len(repositories), len(pairs), sum(unique.values()), total)


def _is_index(document: dict) -> bool:
    """A multi-arch manifest list / OCI index (it names manifests, not layers)."""
    return document.get("mediaType") in INDEX_TYPES or "manifests" in document


def _blob_sizes(api: RegistryAPI, repository: str, document: dict) -> dict[str, int]:
    """digest -> size of the config and layers of a manifest; an index counts all platforms."""
    if _is_index(document):
        sizes: dict[str, int] = {}
        for child in document.get("manifests") or []:
            sizes.update(api.blobs(repository, child["digest"]))
        return sizes
    parts = [document.get("config") or {}, *(document.get("layers") or [])]
    return {part["digest"]: int(part.get("size", 0)) for part in parts if "digest" in part}


def _next_link(header: str, path: str) -> str | None:
    """The next page from an RFC 5988 Link header: </v2/_catalog?last=x&n=1000>; rel="next"."""
    for part in header.split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            target = part[part.index("<") + 1 : part.index(">")]
            return urljoin(path, target)
    return None

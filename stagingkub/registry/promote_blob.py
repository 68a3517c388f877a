"""One blob of a promote, from the source registry to the target: skipped when the target
has it, mounted from another repository of the same registry, else streamed from a GET
into a PUT. The bytes are hashed on the way, and the last chunk is held back until the
digest is known: a source that sends other bytes than the digest names never completes
an upload. An upload Location on another host is followed, with credentials only where
that host's challenge asks for them."""

from __future__ import annotations

import hashlib
import http.client
import io
from urllib.parse import urljoin, urlsplit

from stagingkub.registry.api import REDIRECTS
from stagingkub.registry.promote_side import CopyFailed, Side, Tally, broke_off, check
from stagingkub.registry.transport import connect

BLOB_TIMEOUT = 120.0  # seconds without a byte before a blob transfer counts as failed
CHUNK = 1 << 20
WRONG = (
    "not the bytes the digest names (a broken registry, or a proxy that changes what "
    "passes). Nothing was stored for it on the target; fix the source (or the proxy "
    "between) and re-run."
)
NETWORK = (OSError, http.client.HTTPException)  # ssl.SSLError and TimeoutError are OSErrors


class _SourceBroke(Exception):
    """The source's connection failed while the target was being sent its bytes."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _WrongBytes(Exception):
    """The source's bytes are not what the digest names."""


def copy_blob(source: Side, target: Side, digest: str, size: int, tally: Tally) -> None:
    """Skip a blob the target has, mount it within one registry, else stream it across."""
    status, _, body = target.api.request("HEAD", f"/v2/{target.repository}/blobs/{digest}")
    if status == 200:
        tally.present += 1
        return
    check(status, target, f"HEAD blob {digest[:19]}", body, (200, 404))
    location = _start_upload(source, target, digest, tally)
    if location:
        _stream(source, target, location, digest, size, tally)


def put_blob(target: Side, data: bytes) -> str:
    """A small blob (a promotion record's config) uploaded whole, unless there; its digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, _, body = target.api.request("HEAD", f"/v2/{target.repository}/blobs/{digest}")
    if status == 200:
        return digest
    check(status, target, f"HEAD blob {digest[:19]}", body, (200, 404))
    location = _start_upload(target, target, digest, Tally())
    joiner = "&" if "?" in location else "?"
    try:
        status, answer = _put(target, f"{location}{joiner}digest={digest}", io.BytesIO(data),
                              len(data), _upload_authorization(target, location))  # fmt: skip
    except NETWORK as error:
        raise broke_off(target, f"the upload of blob {digest[:19]}", error) from None
    check(status, target, f"PUT blob {digest[:19]}", answer, (201,))
    return digest


def same_registry(source: Side, target: Side) -> bool:
    return source.api.url == target.api.url and source.repository != target.repository


def _start_upload(source: Side, target: Side, digest: str, tally: Tally) -> str:
    """The upload URL to PUT the blob to; '' when the registry mounted it instead."""
    uploads = f"/v2/{target.repository}/blobs/uploads/"
    if same_registry(source, target):
        status, headers, body = target.api.request(
            "POST", f"{uploads}?mount={digest}&from={source.repository}"
        )
        if status == 201:
            tally.mounted += 1
            return ""
    else:
        status, headers, body = target.api.request("POST", uploads)
    check(status, target, f"POST blob upload ({digest[:19]})", body, (202,))
    if not headers.get("Location"):
        raise CopyFailed(
            f"{target.api.url} opened an upload for {digest[:19]} without a Location to send "
            "it to: that is not a registry's answer (a proxy in the way?)."
        )
    return urljoin(target.api.url + uploads, headers["Location"])


def _stream(source: Side, target: Side, location: str, digest: str, size: int,
            tally: Tally) -> None:  # fmt: skip
    """GET the blob from the source and PUT it to the upload location as it arrives."""
    authorization = _upload_authorization(target, location)
    reader = _open_blob(source, digest)
    try:
        body = _Verified(reader, digest, size, tally)
        joiner = "&" if "?" in location else "?"
        url = f"{location}{joiner}digest={digest}"
        status, answer = _put(target, url, body, size, authorization)
    except _SourceBroke as broke:
        raise broke_off(source, f"the GET of blob {digest[:19]}", broke.error) from None
    except _WrongBytes as wrong:
        raise CopyFailed(f"{source.api.url} {wrong}") from None
    except NETWORK as error:
        raise broke_off(target, f"the upload of blob {digest[:19]}", error) from None
    finally:
        reader.close()
    check(status, target, f"PUT blob {digest[:19]}", answer, (201,))
    tally.sent += 1
    tally.bytes_sent += size


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _upload_authorization(target: Side, location: str) -> str:
    """The target's own credentials for its own host (the POST settled them); for another
    host, only what its challenge asks for."""
    if _origin(location) == _origin(target.api.url):
        return target.api.authorization()
    return target.api.authorization_for(location)


def _open_blob(source: Side, digest: str) -> http.client.HTTPResponse:
    """The source's answer to GET of the blob, its body not yet read (redirects followed,
    to another host without credentials)."""
    path = f"/v2/{source.repository}/blobs/{digest}"
    source.api.request("HEAD", path)  # settles the credentials to send
    url, auth = source.api.url + path, source.api.authorization()
    for _ in range(REDIRECTS + 1):
        try:
            connection = connect(url, BLOB_TIMEOUT, source.api.cafile)
            parts = urlsplit(url)
            connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                               headers={"Authorization": auth} if auth else {})  # fmt: skip
            response = connection.getresponse()
        except NETWORK as error:
            raise broke_off(source, f"the GET of blob {digest[:19]}", error) from None
        if response.status not in (301, 302, 303, 307, 308) or not response.getheader("Location"):
            break
        following = urljoin(url, response.getheader("Location"))
        auth = auth if _origin(following) == _origin(url) else ""
        url = following
        connection.close()
    if response.status != 200:
        body = response.read(2000)
        connection.close()
        check(response.status, source, f"GET blob {digest[:19]}", body, (200,))
    return response


def _put(target: Side, url: str, body, size: int, authorization: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = connect(url, BLOB_TIMEOUT, target.api.cafile)
    connection.blocksize = CHUNK
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    headers.update({"Authorization": authorization} if authorization else {})
    try:
        connection.request("PUT", f"{parts.path}?{parts.query}", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(2000)
    finally:
        connection.close()


class _Verified:
    """The source's blob as a file for http.client: read in chunks, hashed and counted; the
    last chunk is handed over only once the whole blob proved to be what its digest names,
    so wrong bytes leave the upload short (the target never stores them)."""

    def __init__(self, response, digest: str, size: int, tally: Tally) -> None:
        self.response, self.digest, self.size, self.tally = response, digest, size, tally
        self.hash, self.done, self.held, self.ended = hashlib.sha256(), 0, b"", False

    def read(self, amount: int = CHUNK) -> bytes:
        while not self.ended:
            chunk = self._next(amount)
            if not chunk:
                self.ended = True
                self._verify()
                return self.held
            handed, self.held = self.held, chunk
            if handed:
                return handed
        return b""

    def _next(self, amount: int) -> bytes:
        try:
            chunk = self.response.read(amount)
        except NETWORK as error:
            raise _SourceBroke(error) from None
        self.hash.update(chunk)
        self.done += len(chunk)
        if self.done > self.size:
            raise _WrongBytes(f"sent more than the {self.size} bytes of blob {self.digest[:19]}: "
                              + WRONG)  # fmt: skip
        if self.tally.progress is not None:
            self.tally.progress(self.digest, self.done, self.size)
        return chunk

    def _verify(self) -> None:
        if self.done < self.size:  # http.client ends a short answer without an error
            ended = f"the answer ended after {self.done} of {self.size} bytes"
            raise _SourceBroke(ConnectionError(ended))
        found = "sha256:" + self.hash.hexdigest()
        if found != self.digest:
            raise _WrongBytes(
                f"sent {self.done} bytes hashing to {found[:19]} for blob {self.digest[:19]}: "
                + WRONG
            )

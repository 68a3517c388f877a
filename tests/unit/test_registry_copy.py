"""The copier's refusals against a STAND-IN registry API on loopback (http.server): a login
refused (401) and a login without push rights (403) are told apart; a registry that refuses
a manifest's media type or an immutable tag says so in its words; a connection reset, a
timeout, a TLS failure or an HTML page mid-copy is one paragraph, never a traceback;
wrong bytes are refused; an upload elsewhere gets credentials only when it asks."""

import hashlib
import json
import ssl

import pytest

from stagingkub.registry import promote_blob
from stagingkub.registry.api import RegistryAPI
from stagingkub.registry.auth import RegistryHTTPError, RegistryUnauthorized
from stagingkub.registry.copy import CopyFailed, Side, Tally, copy_image, put_manifest
from tests.support.http_standin import serving

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "refused the credentials"), (403, "accepted the login but forbids PUT manifest")],
)
def test_a_refused_login_and_missing_push_rights_are_told_apart(status, words):
    with serving(lambda *a: (status, {}, b'{"errors": []}')) as (url, _):
        target = Side(RegistryAPI(url, 5, auth=("ci", "pw")), "team/app")
        with pytest.raises(
            RegistryUnauthorized, match=words.replace("(", r"\(").replace(")", r"\)")
        ):
            put_manifest(target, "1.0", b"{}", "application/vnd.oci.image.manifest.v1+json",
                         DIGEST, Tally())  # fmt: skip


def test_a_refused_media_type_is_named_with_what_to_do():
    body = b'{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}'
    with serving(lambda *a: (400, {}, body)) as (url, _):
        target = Side(RegistryAPI(url, 5), "team/app")
        with pytest.raises(RegistryHTTPError) as refused:
            put_manifest(target, "1.0", b"{}", "application/vnd.oci.image.index.v1+json",
                         DIGEST, Tally())  # fmt: skip
    assert "refuses the media type application/vnd.oci.image.index.v1+json" in str(refused.value)
    assert "would change its digest" in str(refused.value)


def test_a_target_that_stores_another_digest_fails_naming_both():
    stored = "sha256:" + "b" * 64
    with serving(lambda *a: (201, {"Docker-Content-Digest": stored}, b"")) as (url, _):
        target = Side(RegistryAPI(url, 5), "team/app")
        with pytest.raises(RegistryHTTPError) as changed:
            put_manifest(target, "1.0", b"{}", "application/vnd.oci.image.manifest.v1+json",
                         DIGEST, Tally())  # fmt: skip
    assert f"as {stored}, not {DIGEST}" in str(changed.value)


# --- issue 31: no traceback mid-copy, digests checked, uploads elsewhere, immutable tags ---

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image(layer: bytes = b"layer bytes " * 100) -> tuple[bytes, dict[str, bytes]]:
    config = b'{"architecture":"amd64","os":"linux"}'
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": _sha(config), "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": _sha(layer), "size": len(layer)}]}  # fmt: skip
    return json.dumps(document).encode(), {_sha(config): config, _sha(layer): layer}


def _source(raw: bytes, blobs: dict[str, bytes], blob_answer=None):
    """A source registry: the manifest by tag or digest, each blob (or blob_answer's)."""

    def routes(method, path, headers):
        if "/manifests/" in path:
            return 200, {"Content-Type": OCI_MANIFEST}, raw
        digest = path.rsplit("/", 1)[1]
        if blob_answer is not None and method == "GET" and digest != next(iter(blobs)):
            return blob_answer(digest)
        return 200, {}, blobs[digest]

    return routes


def _target(location: str = "/v2/team/app/blobs/uploads/1?state=x", digests=()):
    """A target registry that lacks every blob, accepts uploads at location, and stores each
    manifest as one of digests (what it answers the PUT with)."""

    def routes(method, path, headers):
        if method == "HEAD":
            return 404, {}, b""
        if method == "POST":
            return 202, {"Location": location}, b""
        if method == "PUT" and "/manifests/" in path:
            reference = path.rsplit("/", 1)[1]
            stored = reference if reference.startswith("sha256:") else next(iter(digests), "")
            return 201, {"Docker-Content-Digest": stored}, b""
        return 201, {}, b""

    return routes, None


def _copy(source_url: str, target_url: str, reference: str = "1.0", auth=None) -> Tally:
    tally = Tally()
    source = Side(RegistryAPI(source_url, 5), "app")
    target = Side(RegistryAPI(target_url, 5, auth=auth), "team/app")
    copy_image(source, target, reference, "1.0", tally)
    return tally


def _refusal(source_routes, target_routes=None) -> tuple[str, str]:
    """(the CopyFailed text, the source's URL) of a copy between two loopback stand-ins."""
    target = target_routes if target_routes is not None else _target()[0]
    with (
        serving(source_routes) as (source_url, _),
        serving(target) as (target_url, _),
        pytest.raises(CopyFailed) as failed,
    ):
        _copy(source_url, target_url)
    return str(failed.value), source_url


def test_a_source_that_resets_the_blob_get_is_one_paragraph_naming_it():
    raw, blobs = _image()
    text, source_url = _refusal(_source(raw, blobs, blob_answer=lambda digest: "reset"))
    assert source_url in text and "blob sha256:" in text and "re-run" in text.lower()


def test_a_source_that_hangs_mid_blob_times_out_in_one_paragraph(monkeypatch):
    monkeypatch.setattr(promote_blob, "BLOB_TIMEOUT", 0.5)
    raw, blobs = _image()
    routes = _source(raw, blobs, blob_answer=lambda digest: "hang")
    target, _ = _target()
    with (
        serving(routes) as (source_url, _),
        serving(target) as (target_url, _),
        pytest.raises(CopyFailed, match="for too long") as failed,
    ):
        _copy(source_url, target_url)
    assert source_url in str(failed.value) and "re-run the same command" in str(failed.value)


class _BreaksMidway:
    """A blob answer whose connection fails after its first chunk (here: a TLS record)."""

    def __init__(self, data: bytes, error: Exception) -> None:
        self.data, self.error, self.reads = data, error, 0

    def read(self, amount: int) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise self.error
        return self.data[: len(self.data) // 2]

    def close(self) -> None:
        pass


def test_a_tls_failure_mid_blob_is_named_with_the_registry_and_the_blob(monkeypatch):
    raw, blobs = _image()
    layer = list(blobs.values())[1]
    error = ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad record mac")
    real = promote_blob._open_blob

    def opened(source, digest):
        return _BreaksMidway(layer, error) if digest == _sha(layer) else real(source, digest)

    monkeypatch.setattr(promote_blob, "_open_blob", opened)
    target, _ = _target()
    source = serving(_source(raw, blobs))
    with (
        source as (source_url, _),
        serving(target) as (target_url, _),
        pytest.raises(CopyFailed) as failed,
    ):
        _copy(source_url, target_url)
    text = str(failed.value)
    assert "TLS connection" in text and "bad record mac" in text and "blob sha256:" in text
    assert source_url in text and "re-run the same command" in text
    assert "Traceback" not in text


def test_a_source_that_sends_other_bytes_is_refused_before_the_last_chunk_leaves():
    data = b"x" * (3 * promote_blob.CHUNK + 10)

    class Answer:
        def __init__(self):
            self.left = b"y" + data[1:]  # same size, other content

        def read(self, amount):
            chunk, self.left = self.left[:amount], self.left[amount:]
            return chunk

    body = promote_blob._Verified(Answer(), _sha(data), len(data), Tally())
    handed = []
    with pytest.raises(promote_blob._WrongBytes, match="not the bytes the digest names"):
        while chunk := body.read(promote_blob.CHUNK):
            handed.append(chunk)
    assert sum(map(len, handed)) < len(data)  # the upload stays short: never stored


def test_a_blob_with_wrong_bytes_is_a_clear_refusal():
    raw, blobs = _image()
    config, layer = blobs
    lying = {config: blobs[config], layer: b"X" * len(blobs[layer])}
    target, _ = _target()
    source = serving(_source(raw, lying))
    with (
        source as (source_url, _),
        serving(target) as (target_url, _),
        pytest.raises(CopyFailed, match="not the bytes the digest names") as failed,
    ):
        _copy(source_url, target_url)
    assert source_url in str(failed.value)


def test_an_index_child_with_wrong_bytes_is_refused():
    child_raw, _ = _image()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": OCI_MANIFEST, "digest": _sha(child_raw),
                            "size": len(child_raw)}]}  # fmt: skip
    index_raw = json.dumps(index).encode()

    def routes(method, path, headers):
        if path.endswith("/manifests/1.0"):
            return 200, {"Content-Type": index["mediaType"]}, index_raw
        return 200, {"Content-Type": OCI_MANIFEST}, child_raw.replace(b": 2", b":2")

    text, _ = _refusal(routes)
    assert f"manifest app@{_sha(child_raw)}" in text
    assert "not what the digest names" in text


def test_an_html_page_instead_of_a_manifest_is_named_not_a_traceback():
    page = b"<!DOCTYPE html><html><body>Please log in</body></html>"
    answer = serving(lambda *a: (200, {"Content-Type": "text/html"}, page))
    with answer as (url, _), pytest.raises(CopyFailed) as failed:
        _copy(url, url)
    assert "not JSON" in str(failed.value) and "proxy" in str(failed.value)


def test_an_html_page_instead_of_an_upload_is_named():
    raw, blobs = _image()
    page = b"<html><body>Proxy error</body></html>"
    proxy_error = lambda m, p, h: (404, {}, b"") if m == "HEAD" else (502, {}, page)  # noqa: E731
    text, _ = _refusal(_source(raw, blobs), proxy_error)
    assert "HTML page" in text and "502" in text


@pytest.mark.parametrize("stored_same", [True, False])
def test_a_target_without_a_digest_header_is_read_back(stored_same):
    raw = b'{"schemaVersion": 2}'
    stored = raw if stored_same else raw + b" "

    def routes(method, path, headers):
        if method == "PUT":
            return 201, {}, b""
        return 200, {"Content-Type": OCI_MANIFEST}, stored

    with serving(routes) as (url, seen):
        target = Side(RegistryAPI(url, 5), "team/app")
        if stored_same:
            assert put_manifest(target, "1.0", raw, OCI_MANIFEST, _sha(raw), Tally()) == _sha(raw)
        else:
            with pytest.raises(CopyFailed, match=f"as {_sha(stored)}, not {_sha(raw)}"):
                put_manifest(target, "1.0", raw, OCI_MANIFEST, _sha(raw), Tally())
    assert ("GET", "/v2/team/app/manifests/1.0") in [(m, p) for m, p, _ in seen]


@pytest.mark.parametrize(
    ("status", "body"),
    [(412, b'{"errors":[{"code":"PRECONDITION","message":"tag 1.0 is immutable, cannot be '
           b'overwritten"}]}'),
     (403, b'{"errors":[{"code":"DENIED","message":"The tag 1.0 is immutable"}]}'),
     (400, b'{"errors":[{"code":"TAG_IMMUTABLE","message":"tag is immutable"}]}')],
)  # fmt: skip
def test_an_immutable_tag_is_told_in_the_registrys_words(status, body):
    with serving(lambda *a: (status, {}, body)) as (url, _):
        target = Side(RegistryAPI(url, 5, auth=("ci", "pw")), "team/app")
        with pytest.raises(CopyFailed) as refused:
            put_manifest(target, "1.0", b"{}", OCI_MANIFEST, DIGEST, Tally())
    text = str(refused.value)
    assert "immutable" in text and json.loads(body)["errors"][0]["message"] in text
    assert f"answered {status}" not in text and "--to-tag" in text


def test_an_upload_location_on_another_host_gets_no_credentials_unasked():
    raw, blobs = _image()
    with serving(lambda m, p, h: (204, {}, b"") if m == "GET" else (201, {}, b"")) as (
        other, other_seen):  # fmt: skip
        target, _ = _target(location=f"{other}/upload/abc?state=1", digests=[_sha(raw)])
        with serving(_source(raw, blobs)) as (source_url, _), serving(target) as (target_url, _):
            tally = _copy(source_url, target_url, auth=("ci", "secret-pw"))
    puts = [h for m, p, h in other_seen if m == "PUT"]
    assert tally.sent == 2 and len(puts) == 2
    assert all("authorization" not in h for _, _, h in other_seen)
    assert all(p.startswith("/upload/abc?state=1&digest=sha256:") for m, p, _ in other_seen
               if m == "PUT")  # fmt: skip


def test_an_upload_location_on_another_host_gets_the_token_its_challenge_asks_for():
    raw, blobs = _image()
    with serving(lambda *a: (200, {}, b'{"token": "other-host-token"}')) as (realm, _):

        def other_routes(method, path, headers):
            if headers.get("authorization") == "Bearer other-host-token":
                return 201, {}, b""
            challenge = f'Bearer realm="{realm}/token",service="storage"'
            return 401, {"WWW-Authenticate": challenge}, b""

        with serving(other_routes) as (other, other_seen):
            target, _ = _target(location=f"{other}/upload/abc", digests=[_sha(raw)])
            with serving(_source(raw, blobs)) as (source_url, _), serving(target) as (
                target_url, _):  # fmt: skip
                tally = _copy(source_url, target_url, auth=("ci", "secret-pw"))
    assert tally.sent == 2
    puts = [h for m, _, h in other_seen if m == "PUT"]
    assert [h.get("authorization") for h in puts] == ["Bearer other-host-token"] * 2
    assert not any(h.get("authorization", "").startswith("Basic") for _, _, h in other_seen)

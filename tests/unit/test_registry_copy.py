"""The copier's refusals against a STAND-IN registry API on loopback (http.server): a login
refused (401) and a login without push rights (403) are told apart; a registry that refuses
a manifest's media type says so, and nothing claims success."""

import pytest

from stagingkub.registry.api import RegistryAPI
from stagingkub.registry.auth import RegistryHTTPError, RegistryUnauthorized
from stagingkub.registry.copy import Side, Tally, put_manifest
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

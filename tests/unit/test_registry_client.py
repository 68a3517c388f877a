"""The registry client against a STAND-IN registry API on loopback (http.server): header
names in any case, redirects followed, non-JSON answers named, Bearer tokens refreshed;
and the proxy rules (tests/integration/test_external_profile.py runs a real CONNECT)."""

from __future__ import annotations

import json

import pytest

from stagingkub.registry.api import RegistryAPI
from stagingkub.registry.auth import RegistryHTTPError
from stagingkub.registry.transport import proxy_for
from tests.support.http_standin import serving

JSON = {"Content-Type": "application/json"}
API = {"Docker-Distribution-Api-Version": "registry/2.0"}


def test_pagination_follows_a_lower_case_link_header():
    def answers(method, path, headers):
        if "last=b" in path:
            return 200, JSON, json.dumps({"repositories": ["c"]}).encode()
        link = {"link": '</v2/_catalog?last=b&n=2>; rel="next"'}
        return 200, {**JSON, **link}, json.dumps({"repositories": ["a", "b"]}).encode()

    with serving(answers) as (url, _), RegistryAPI(url, 2) as api:
        assert api.catalog() == ["a", "b", "c"]


def test_a_redirect_is_followed_and_credentials_stay_with_the_registry():
    def storage(method, path, headers):
        assert "authorization" not in headers
        return 200, JSON, b'{"created": "2026-01-02T03:04:05Z"}'

    with serving(storage) as (elsewhere, seen):

        def registry(method, path, headers):
            return 307, {"Location": f"{elsewhere}/blob-data?sig=x"}, b""

        with serving(registry) as (url, _), RegistryAPI(url, 2, auth=("ci", "pw")) as api:
            document = {"config": {"digest": "sha256:" + "a" * 64}}
            assert api.created("app", document) == "2026-01-02T03:04:05Z"
    assert seen[0][1] == "/blob-data?sig=x"


def test_a_redirect_loop_is_reported_not_parsed():
    def loop(method, path, headers):
        return 302, {"Location": "/v2/again"}, b"<html>moved</html>"

    with (
        serving(loop) as (url, _),
        RegistryAPI(url, 2) as api,
        pytest.raises(RegistryHTTPError, match="redirected GET /v2/_catalog"),
    ):
        api.catalog()


def test_an_html_page_is_a_clear_error_naming_the_url_and_status():
    def portal(method, path, headers):
        return 200, {"Content-Type": "text/html"}, b"<html>Sign in to the proxy</html>"

    with (
        serving(portal) as (url, _),
        RegistryAPI(url, 2) as api,
        pytest.raises(RegistryHTTPError) as error,
    ):
        api.tags("app")
    message = str(error.value)
    assert f"{url}/v2/app/tags/list" in message and "(200, text/html)" in message
    assert "not JSON ('<html>Sign in" in message and "not the registry's API" in message


def token_registry(lifetime: int, revoke_first: bool = False):
    """A registry with a token service: tokens t1, t2... living `lifetime` seconds."""
    issued: list[str] = []

    def answers(method, path, headers):
        if path.startswith("/token"):
            issued.append(f"t{len(issued) + 1}")
            return 200, JSON, json.dumps({"token": issued[-1], "expires_in": lifetime}).encode()
        sent = headers.get("authorization", "")
        valid = issued[1:] if revoke_first else issued
        if sent.removeprefix("Bearer ") not in valid or not sent:
            realm = f'Bearer realm="{answers.url}/token",service="reg",scope="repository:app:pull"'
            return 401, {**API, "WWW-Authenticate": realm}, b"{}"
        return 200, JSON, b'{"tags": ["1.0.0"]}'

    return answers, issued


@pytest.mark.parametrize(("lifetime", "fetches"), [(300, 1), (5, 3)])
def test_a_token_is_reused_until_it_expires(lifetime, fetches):
    answers, issued = token_registry(lifetime)
    with serving(answers) as (url, _), RegistryAPI(url, 2) as api:
        answers.url = url
        for _ in range(3):
            assert api.tags("app") == ["1.0.0"]
    assert len(issued) == fetches  # 5 s is within the refresh margin: expired at once


def test_a_401_to_a_cached_token_fetches_a_new_one():
    answers, issued = token_registry(300, revoke_first=True)
    with serving(answers) as (url, _), RegistryAPI(url, 2) as api:
        answers.url = url
        assert api.tags("app") == ["1.0.0"]
    assert issued == ["t1", "t2"]


@pytest.mark.parametrize(
    ("url", "no_proxy", "expected"),
    [
        ("https://ghcr.io/v2/", "", "http://proxy.corp:3128"),
        ("http://harbor.corp.example:8080/v2/", "", "http://plain.corp:3128"),
        ("https://harbor.corp.example/v2/", ".corp.example", None),
        ("https://harbor.corp.example/v2/", "harbor.corp.example", None),
        ("https://ghcr.io/v2/", "*", None),
        ("http://127.0.0.1:5000/v2/", "", None),
        ("http://[::1]:5000/v2/", "", None),
        ("http://localhost:5000/v2/", "", None),
        ("http://kind-registry:5000/v2/", "", None),
    ],
)
def test_which_requests_go_through_the_proxy(monkeypatch, url, no_proxy, expected):
    for name in ("https_proxy", "http_proxy", "no_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "plain.corp:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert proxy_for(url) == expected


def _tls_server_context(tmp_path, names):
    """A server certificate for `names`, signed by a test CA no client here trusts."""
    import ssl

    from stagingkub.registry.tls_ops import ensure_ca, ensure_server

    _, ca_cert, ca_key = ensure_ca(tmp_path, "test registry CA")
    ensure_server(tmp_path, names, ca_cert, ca_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    return context


def _tls_error(url: str, cafile: str | None = None) -> str:
    api = RegistryAPI(url, timeout=5, cafile=cafile)
    with pytest.raises(RegistryHTTPError) as raised:
        api.catalog()
    return str(raised.value)


def test_a_certificate_from_an_unknown_ca_says_so(tmp_path):
    from stagingkub.registry.tls import Names

    context = _tls_server_context(tmp_path, Names(dns=("localhost",), ips=("127.0.0.1",)))
    with serving(lambda *a: (200, {}, b"{}"), tls=context) as (url, _):
        text = _tls_error(url)
    assert "not signed by a CA this machine trusts" in text and "registry.ca_file" in text


def test_a_certificate_for_another_name_says_so(tmp_path):
    from stagingkub.registry.tls import Names

    context = _tls_server_context(tmp_path, Names(dns=("registry.example.com",), ips=()))
    with serving(lambda *a: (200, {}, b"{}"), tls=context) as (url, _):
        text = _tls_error(url, cafile=str(tmp_path / "ca.crt"))  # the CA is trusted here
    assert "does not name this host" in text and "registry.host" in text
    assert "not signed by a CA" not in text


def test_https_spoken_to_a_plain_http_registry_says_so():
    with serving(lambda *a: (200, {}, b"{}")) as (url, _):
        text = _tls_error(url.replace("http://", "https://"))
    assert "does not speak TLS" in text and "registry.tls" in text
    assert "not signed by a CA" not in text

"""An external registry with token auth (how GHCR, Docker Hub and Harbor's token service work).

A real registry runs with `auth: token` and TLS on 127.0.0.2; the token service is a
small one in this file (a STAND-IN for GHCR's or Harbor's: it checks the Basic
credentials and signs an ES256 JWT with the certificate the registry trusts). The
Docker CLI pushes through it, and stagingkub's API client must follow the Bearer
challenge to check the pushed digest and to skip an unchanged push.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from stagingkub.registry import tls, tls_ops
from tests.support.stack import Stack, docker, echoed, free_port

pytestmark = pytest.mark.integration

HOST, SERVICE, ISSUER = "127.0.0.2", "stagingkub-test", "stagingkub-test-issuer"
USER, PASSWORD = "ci", "Token-pw-31337"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """Basic credentials in, a signed JWT for the asked scope out."""

    def __init__(self, directory) -> None:
        from cryptography.hazmat.primitives import serialization

        _, self.cert, self.key = tls_ops.ensure_ca(directory / "token", "token signer")
        (directory / "token.crt").write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.port = free_port()
        self.requests: list[str] = []
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.requests.append(self.path)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                query = parse_qs(urlsplit(self.path).query)
                body = json.dumps({"token": service.sign(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sign(self, scopes: list[str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for scope in " ".join(scopes).split():
            kind, name, actions = scope.split(":")[0], scope.split(":")[1], scope.split(":")[2]
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": USER, "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}  # fmt: skip
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.x5c]}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_registry(tmp_path, registry_image):
    files = tmp_path / "token-registry"
    files.mkdir()
    tokens = TokenService(files)
    _, ca_cert, ca_key = tls_ops.ensure_ca(files, "token registry")
    names = tls.Names(dns=("localhost",), ips=(HOST,))
    tls_ops.ensure_server(files, names, ca_cert, ca_key)
    registry = Stack(tmp=files, image=registry_image)
    env = {
        "REGISTRY_HTTP_TLS_CERTIFICATE": "/certs/server.crt",
        "REGISTRY_HTTP_TLS_KEY": "/certs/server.key",
        "REGISTRY_AUTH": "token",
        "REGISTRY_AUTH_TOKEN_REALM": f"http://127.0.0.1:{tokens.port}/token",
        "REGISTRY_AUTH_TOKEN_SERVICE": SERVICE,
        "REGISTRY_AUTH_TOKEN_ISSUER": ISSUER,
        "REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE": "/certs/token.crt",
    }
    docker("run", "-d", "--name", registry.name, *registry.label_args(),
           "-p", f"{HOST}:{registry.port}:5000", "-v", f"{files}:/certs:ro",
           *[a for k, v in env.items() for a in ("-e", f"{k}={v}")], registry_image)  # fmt: skip
    registry.ca = files / "ca.crt"
    registry.tokens = tokens
    _wait_up(registry)
    yield registry
    registry.cleanup()
    tokens.close()


def _wait_up(registry: Stack) -> None:
    import httpx

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"https://{HOST}:{registry.port}/v2/", verify=False, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the token registry did not start")


def test_push_and_verify_through_a_token_registry(stack, token_registry):
    s = stack
    app = f"{s.prefix}-app"
    s.base["image"] = {"name": app}
    s.write_profile(mode="external", host=HOST, port=token_registry.port, project="team",
                    username=USER, ca_file=str(token_registry.ca))  # fmt: skip
    from tests.support import images
    from tests.support.stack import LABELS

    images.build_app_image(f"{app}:1.0.0", LABELS, content=f"{app} token")
    env = {"STAGINGKUB_REGISTRY_PASSWORD": PASSWORD, "DOCKER_CONFIG": str(s.tmp / "dc")}
    pushed = s.invoke("image.push", "--version", "1.0.0", **env)
    assert pushed.returncode == 0, pushed.stderr
    assert f"Pushed {HOST}:{token_registry.port}/team/{app}:1.0.0@sha256:" in pushed.stderr
    assert any("scope=repository" in r for r in token_registry.tokens.requests)
    again = s.invoke("image.push", "--version", "1.0.0", **env)
    assert again.returncode == 0 and "push skipped" in again.stderr
    assert not [c for c in echoed(again.stdout) if c.startswith("docker push")]
    assert PASSWORD not in pushed.stdout + pushed.stderr + again.stdout + again.stderr


def test_wrong_credentials_for_a_token_registry_are_explained(stack, token_registry):
    s = stack
    s.write_profile(mode="external", host=HOST, port=token_registry.port, username=USER,
                    ca_file=str(token_registry.ca))  # fmt: skip
    result = s.invoke("diag.registry", STAGINGKUB_REGISTRY_PASSWORD="wrong")
    assert result.returncode == 0, result.stdout  # /v2/ answers 401 with a challenge: healthy
    from stagingkub.registry.api import RegistryAPI, RegistryHTTPError

    api = RegistryAPI(f"https://{HOST}:{token_registry.port}", 5, auth=(USER, "wrong"),
                      cafile=str(token_registry.ca))  # fmt: skip
    with pytest.raises(RegistryHTTPError, match=r"token service .* refused"):
        api.catalog()


def test_after_a_manual_docker_login_the_push_goes_on_unverified(stack, token_registry):
    s = stack
    app = f"{s.prefix}-app"
    s.base["image"] = {"name": app}
    s.write_profile(mode="external", host=HOST, port=token_registry.port,
                    ca_file=str(token_registry.ca))  # fmt: skip
    from tests.support import images
    from tests.support.stack import LABELS

    images.build_app_image(f"{app}:2.0.0", LABELS, content=f"{app} manual login")
    env = {"DOCKER_CONFIG": str(s.tmp / "dc")}
    docker("login", f"{HOST}:{token_registry.port}", "--username", USER, "--password-stdin",
           env=env, stdin=PASSWORD)  # fmt: skip
    result = s.invoke("image.push", "--version", "2.0.0", **env)
    assert result.returncode == 0, result.stderr
    assert "assuming `docker login` was done already" in result.stderr
    assert "pushing without checking" in result.stderr and "not verified" in result.stderr

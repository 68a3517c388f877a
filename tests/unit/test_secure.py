"""The secure registry's generated files, and the --dry scripts that carry secrets (no daemon)."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from stagingkub.cluster.kind_config import Wiring
from stagingkub.registry import tls, tls_ops
from stagingkub.registry.auth import basic_auth
from stagingkub.release.helm import ReleaseSpec, pull_secret_manifest, pull_secret_shell

NAMES = tls.Names.for_registry("kind-registry", "localhost", "127.0.0.1")


def _openssl_verify(directory: Path) -> str:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", directory / "ca.crt", directory / "server.crt"],
        capture_output=True, text=True, timeout=10,
    ).stdout  # fmt: skip


def test_ca_and_server_certificate_are_made_once_and_verify(tmp_path):
    made, ca_cert, ca_key = tls_ops.ensure_ca(tmp_path, "kind-registry")
    assert made and tls_ops.ensure_server(tmp_path, NAMES, ca_cert, ca_key)
    assert "OK" in _openssl_verify(tmp_path)
    again, ca_cert2, ca_key2 = tls_ops.ensure_ca(tmp_path, "kind-registry")
    assert not again and not tls_ops.ensure_server(tmp_path, NAMES, ca_cert2, ca_key2)
    for private in ("ca.key", "server.key"):
        assert stat.S_IMODE(os.stat(tmp_path / private).st_mode) == 0o600


def test_the_server_certificate_names_the_registry_everywhere_it_is_reached():
    assert {"localhost", "kind-registry"} <= set(NAMES.dns)
    assert {"127.0.0.1", "::1"} <= set(NAMES.ips)
    lan = tls.Names.for_registry("kind-registry", "registry.lan", "192.168.1.5")
    assert "registry.lan" in lan.dns and "192.168.1.5" in lan.ips


def test_a_new_name_or_a_new_ca_renews_the_server_certificate(tmp_path):
    _, ca_cert, ca_key = tls_ops.ensure_ca(tmp_path, "r")
    tls_ops.ensure_server(tmp_path, NAMES, ca_cert, ca_key)
    other = tls.Names.for_registry("other-registry", "localhost", "127.0.0.1")
    assert tls_ops.ensure_server(tmp_path, other, ca_cert, ca_key)
    (tmp_path / "ca.key").unlink()
    made, ca_cert, ca_key = tls_ops.ensure_ca(tmp_path, "r")
    assert made and tls_ops.ensure_server(tmp_path, other, ca_cert, ca_key)
    assert "OK" in _openssl_verify(tmp_path)


def test_htpasswd_is_bcrypt_and_follows_the_password(tmp_path):
    assert tls_ops.ensure_htpasswd(tmp_path, "ci", "first")
    text = (tmp_path / "htpasswd").read_text()
    assert text.startswith("ci:$2") and "first" not in text
    assert stat.S_IMODE(os.stat(tmp_path / "htpasswd").st_mode) == 0o600
    assert not tls_ops.ensure_htpasswd(tmp_path, "ci", "first")
    assert tls_ops.ensure_htpasswd(tmp_path, "ci", "second")
    assert tls.htpasswd_matches((tmp_path / "htpasswd").read_text(), "ci", "second")


def _bash(script: str, password: str) -> str:
    env = {**os.environ, "STAGINGKUB_REGISTRY_PASSWORD": password}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                          timeout=10).stdout  # fmt: skip


USERS = pytest.mark.parametrize("user", ["ci", "robot$rhdemo+ci"])  # Harbor robot accounts


@USERS
def test_the_dry_hosts_toml_computes_the_same_header_from_the_environment(user):
    wiring = Wiring("kind-registry", 5000, tls=True, ca_file="/x",
                    auth_header=basic_auth(user, "pw-123"), username=user)  # fmt: skip
    shown = wiring.hosts_files(wiring.shell_authorization())["localhost:5000"]
    assert "pw-123" not in shown and basic_auth(user, "pw-123") not in shown
    rendered = _bash(f"cat <<STAGINGKUB_EOF\n{shown}STAGINGKUB_EOF\n", "pw-123")
    assert rendered == wiring.hosts_files()["localhost:5000"]


@USERS
def test_the_dry_pull_secret_builds_the_same_manifest_from_the_environment(user):
    spec = ReleaseSpec(
        "rhdemo", Path("/c"), "ns", "ctx", "5m", True, (Path("/v"),), "localhost:5000/x", "1",
        pull_secret="rhdemo-registry", pull_server="localhost:5000", pull_username=user,
        pull_password="pw-123",
    )  # fmt: skip
    script = pull_secret_shell(spec)
    assert "pw-123" not in script
    assert _bash(script, "pw-123") == pull_secret_manifest(spec)

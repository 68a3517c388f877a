"""The engine client: its address rules (DOCKER_HOST, contexts, TLS, ssh) as the docker
CLI has them, and its reading of answers against a STAND-IN engine API on a unix socket:
404 is absent, every other failure an error, a timeout a timeout."""

from __future__ import annotations

import hashlib
import json

import pytest

from stagingkub.docker.address import DEFAULT_HOST, engine_address
from stagingkub.docker.engine import Engine
from stagingkub.errors import DockerUnavailable, StateError
from tests.support.http_standin import serving

ENV = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH")


@pytest.fixture
def docker_dir(tmp_path, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return tmp_path


def add_context(folder, name: str, host: str, tls: bool = False, skip_verify: bool = False):
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = folder / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": skip_verify}
    meta.joinpath("meta.json").write_text(
        json.dumps({"Name": name, "Endpoints": {"docker": endpoint}})
    )
    if tls:
        (folder / "contexts" / "tls" / digest / "docker").mkdir(parents=True)


def test_nothing_set_is_the_default_socket(docker_dir):
    address = engine_address()
    assert (address.host, address.tls, address.source) == (DEFAULT_HOST, False, "default")


def test_docker_cert_path_alone_does_not_turn_tls_on(docker_dir, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2375")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(docker_dir / "certs"))
    assert engine_address().tls is False


def test_docker_tls_verify_turns_on_verified_tls_with_the_cert_path(docker_dir, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(docker_dir / "certs"))
    address = engine_address()
    assert (address.tls, address.verify, address.cert_dir) == (True, True, docker_dir / "certs")


def test_docker_tls_verify_without_a_cert_path_uses_the_docker_folder(docker_dir, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    assert engine_address().cert_dir == docker_dir


def test_docker_tls_alone_is_tls_without_verification(docker_dir, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2376")
    monkeypatch.setenv("DOCKER_TLS", "1")
    address = engine_address()
    assert (address.tls, address.verify) == (True, False)


def test_the_current_context_of_config_json_chooses_the_engine(docker_dir):
    add_context(docker_dir, "colima", "unix:///home/me/.colima/docker.sock")
    (docker_dir / "config.json").write_text(json.dumps({"currentContext": "colima"}))
    address = engine_address()
    assert (address.host, address.source) == (
        "unix:///home/me/.colima/docker.sock",
        "context colima",
    )


def test_docker_context_beats_config_json_and_docker_host_beats_both(docker_dir, monkeypatch):
    add_context(docker_dir, "remote", "tcp://build:2376", tls=True, skip_verify=True)
    add_context(docker_dir, "colima", "unix:///c.sock")
    (docker_dir / "config.json").write_text(json.dumps({"currentContext": "colima"}))
    monkeypatch.setenv("DOCKER_CONTEXT", "remote")
    address = engine_address()
    assert (address.host, address.tls, address.verify) == ("tcp://build:2376", True, False)
    assert address.cert_dir and address.cert_dir.name == "docker"
    monkeypatch.setenv("DOCKER_HOST", "unix:///other.sock")
    assert engine_address().host == "unix:///other.sock"


def test_an_unknown_context_is_named(docker_dir, monkeypatch):
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    with pytest.raises(DockerUnavailable, match=r"context 'gone'.*docker context ls"):
        engine_address()


@pytest.mark.parametrize("source", ["DOCKER_HOST", "context"])
def test_an_ssh_host_names_the_alternatives(docker_dir, monkeypatch, source):
    if source == "context":
        add_context(docker_dir, "far", "ssh://me@build")
        monkeypatch.setenv("DOCKER_CONTEXT", "far")
    else:
        monkeypatch.setenv("DOCKER_HOST", "ssh://me@build")
    with pytest.raises(DockerUnavailable) as error:
        engine_address()
    assert "ssh://me@build" in str(error.value)
    assert "ssh -nNT -L" in str(error.value) and "docker context" in str(error.value)


JSON = {"Content-Type": "application/json"}
MISSING = b'{"message":"No such container: missing"}'
BROKEN = b'{"message":"error reading from overlay: input/output error"}'


# The engine API stand-in answers per path.
def _engine_answers(method, path, headers):
    if path.startswith("/_ping"):
        return 200, {}, b"OK"
    if "/containers/missing/" in path:
        return (
            404,
            {"Content-Type": "application/json"},
            b'{"message":"No such container: missing"}',
        )
    if path.startswith("/containers/slow/"):
        return "hang"
    if path.startswith("/containers/cut/"):
        return "reset"
    if path.startswith("/containers/broken/"):
        return (
            500,
            {"Content-Type": "application/json"},
            b'{"message":"error reading from overlay: input/output error"}',
        )
    if path.startswith("/containers/weird/"):
        return 200, {"Content-Type": "text/html"}, b"<html>proxy login</html>"
    return 404, {}, b"{}"


@pytest.fixture
def engine(tmp_path, docker_dir, monkeypatch):
    with serving(_engine_answers, unix_path=str(tmp_path / "engine.sock")) as (host, _):
        monkeypatch.setenv("DOCKER_HOST", host)
        yield Engine(timeout=0.5)


def test_404_is_absent(engine):
    assert engine.container("missing") is None
    assert engine.stat("missing", "/etc/x") is None and not engine.has_file("missing", "/etc/x")
    assert engine.read_tree("missing", "/etc/containerd") == {}
    assert engine.walk("missing", "/var/lib/registry") == []


@pytest.mark.parametrize(
    "call",
    [
        lambda e: e.container("broken"),
        lambda e: e.has_file("broken", "/etc/distribution/config.yml"),
        lambda e: e.stat("broken", "/var/lib/registry/x"),
        lambda e: e.walk("broken", "/var/lib/registry"),
        lambda e: e.read_tree("broken", "/etc/containerd"),
    ],
)
def test_any_other_error_is_an_error_with_the_engines_message(engine, call):
    with pytest.raises(StateError, match="answered 500") as error:
        call(engine)
    if "HEAD" not in str(error.value):  # a HEAD answer has no body to quote
        assert "input/output error" in str(error.value)


def test_a_timeout_is_reported_as_a_timeout_not_as_start_docker(engine):
    with pytest.raises(DockerUnavailable) as error:
        engine.container("slow")
    assert "did not answer within 0.5 s" in str(error.value)
    assert "Start Docker" not in str(error.value)


def test_a_reset_is_an_error(engine):
    with pytest.raises(DockerUnavailable, match="dropped the connection"):
        engine.container("cut")


def test_a_body_that_is_not_json_is_a_clear_error(engine):
    with pytest.raises(StateError, match=r"not JSON.*DOCKER_HOST"):
        engine.container("weird")


def test_nothing_listening_says_start_docker(tmp_path, docker_dir, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(DockerUnavailable, match="Start Docker"):
        Engine(timeout=0.5).ping()


def test_gc_fails_closed_when_it_cannot_check_for_uploads(engine):
    from stagingkub.registry.gc import uploads

    with pytest.raises(StateError, match="could not check broken for uploads in progress"):
        uploads(engine, "broken")
    assert uploads(engine, "missing") == []  # no repositories folder: no uploads


def test_a_failed_node_read_does_not_advise_recreating_the_cluster(engine, monkeypatch):
    from stagingkub.cluster import ops
    from stagingkub.docker import state as docker_state

    running = type("S", (), {"status": "running"})()
    monkeypatch.setattr(docker_state, "container", lambda e, name: running)
    with pytest.raises(StateError) as error:
        ops.read_node(engine, "broken", spec=None)
    message = str(error.value)
    assert "unknown (not wrong)" in message and "input/output error" in message
    assert "cluster.delete" not in message and "Recreate" not in message


@pytest.fixture
def tls_engine(tmp_path, docker_dir):
    """A STAND-IN engine API behind TLS, its certificate for 127.0.0.1 signed by a test CA."""
    import shutil
    import ssl

    from stagingkub.registry.tls import Names
    from stagingkub.registry.tls_ops import ensure_ca, ensure_server

    certs = tmp_path / "certs"
    _, ca_cert, ca_key = ensure_ca(certs, "test engine CA")
    ensure_server(certs, Names(dns=("localhost",), ips=("127.0.0.1",)), ca_cert, ca_key)
    shutil.copy(certs / "ca.crt", certs / "ca.pem")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server.crt", certs / "server.key")
    with serving(_engine_answers, tls=context) as (url, _):
        yield "tcp://" + url.split("://", 1)[1], certs


def test_docker_tls_verify_reaches_a_tls_engine_with_the_cert_path_ca(tls_engine, monkeypatch):
    host, certs = tls_engine
    monkeypatch.setenv("DOCKER_HOST", host)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    Engine(timeout=2).ping()


def test_a_tls_engine_with_an_unknown_ca_is_a_tls_error(tls_engine, monkeypatch, tmp_path):
    host, _ = tls_engine
    monkeypatch.setenv("DOCKER_HOST", host)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path / "empty"))
    with pytest.raises(DockerUnavailable, match="TLS to the Docker engine"):
        Engine(timeout=2).ping()


def test_without_docker_tls_verify_the_cert_path_is_not_used(tls_engine, monkeypatch):
    host, certs = tls_engine
    monkeypatch.setenv("DOCKER_HOST", host)
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs))
    with pytest.raises(DockerUnavailable):  # plain HTTP to a TLS port, as the CLI would
        Engine(timeout=2).ping()

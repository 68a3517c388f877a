"""image.promote on a bad day, between real registries (issue 31): the stack's plain-HTTP
local registry (the source) and a TLS + htpasswd registry on 127.0.0.2 (the target, as
Harbor would be), with a loopback TCP proxy between that resets the connection in the
middle of a blob, or logs every request. A STAND-IN (http.server) answers HTML pages
where a login page would. Staging is not deployed here: every run is --unverified."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import ssl
import struct
import threading

import httpx
import pytest

from stagingkub.settings import load
from tests.integration.test_external_profile import HOST, PASSWORD, external_registry
from tests.support.http_standin import serving
from tests.support.stack import free_port

pytestmark = pytest.mark.integration

VERSION = "1.0.0"
APP = "rhdemo-api"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = 4 << 20
EMPTY_DIGEST = "sha256:" + hashlib.sha256(b"{}").hexdigest()


@pytest.fixture
def external(tmp_path, registry_image):
    ext = external_registry(tmp_path / "external", registry_image, HOST)
    yield ext
    ext.cleanup()


def push_image(client: httpx.Client, repository: str, tag: str, layer_size: int = LAYER) -> str:
    """An OCI image (a config and one random layer) pushed through the API; its digest."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    parts = [put_blob(client, repository, data) for data in (config, os.urandom(layer_size))]
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **parts[0]},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            **parts[1]}]}  # fmt: skip
    return put_manifest(client, repository, tag, document)


def put_blob(client: httpx.Client, repository: str, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = client.post(f"/v2/{repository}/blobs/uploads/")
    location = httpx.URL(str(client.base_url)).join(start.headers["Location"])
    assert client.put(location.copy_add_param("digest", digest), content=data).status_code == 201
    return {"digest": digest, "size": len(data)}


def put_manifest(client: httpx.Client, repository: str, tag: str, document: dict) -> str:
    raw = json.dumps(document).encode()
    answer = client.put(f"/v2/{repository}/manifests/{tag}", content=raw,
                        headers={"Content-Type": OCI_MANIFEST})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def target_client(ext) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(ext.ca))
    return httpx.Client(base_url=f"https://{HOST}:{ext.port}", auth=("ci", PASSWORD),
                        verify=trust, timeout=30)  # fmt: skip


def target_digest(ext, tag: str, repository: str = f"team/{APP}") -> str:
    with target_client(ext) as client:
        answer = client.get(f"/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
    return (
        "" if answer.status_code == 404 else "sha256:" + hashlib.sha256(answer.content).hexdigest()
    )


def write_target(s, port: int) -> None:
    s.target.write_text(
        f"registry:\n  mode: external\n  host: '{HOST}'\n  port: {port}\n  project: team\n"
        f"  ca_file: '{s.ext.ca}'\ncluster:\n  name: {s.cluster}\n  files_dir: "
        f"'{s.tmp / 'target-files'}'\n"
    )


@pytest.fixture
def pair(stack, external):
    """The source registry holding rhdemo-api:1.0.0 (a 4 MiB layer); a target profile whose
    login is STAGINGKUB_PROMOTE_USERNAME / _PASSWORD."""
    s = stack
    assert s.invoke("registry.create").returncode == 0
    with httpx.Client(base_url=s.url, timeout=30) as client:
        s.digest = push_image(client, APP, VERSION)
    s.ext, s.target = external, s.tmp / "target.yaml"
    write_target(s, external.port)
    s.extra_env.update(STAGINGKUB_PROMOTE_USERNAME="ci", STAGINGKUB_PROMOTE_PASSWORD=PASSWORD)
    return s


def promote(s, *args: str, timeout: str = "120", **env: str):
    return s.invoke("image.promote", "--version", VERSION, "--to", str(s.target),
                    "--unverified", *args, timeout=float(timeout), **env)  # fmt: skip


def _reset(sock: socket.socket) -> None:
    """Close with a RST (linger 0); SHUT_RD first wakes the other thread's recv, which
    would otherwise keep the socket open (and the RST unsent)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    sock.close()


@contextlib.contextmanager
def tcp_proxy(listen: str, upstream: tuple[str, int], reset_after: int = 0):
    """A loopback TCP proxy: (its port, the request lines it saw when plain HTTP). With
    reset_after, a connection that carried that many bytes (either way) is reset (RST)."""
    server = socket.create_server((listen, free_port()))
    seen: list[str] = []
    stop = threading.Event()

    def pipe(a: socket.socket, b: socket.socket, count: list[int]) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                if data[:8].split(b" ")[0] in (b"GET", b"HEAD", b"POST", b"PUT", b"PATCH"):
                    seen.append(data.split(b"\r\n", 1)[0].decode(errors="replace"))
                count[0] += len(data)
                if reset_after and count[0] > reset_after:
                    _reset(a), _reset(b)
                    return
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                client, _ = server.accept()
                remote, count = socket.create_connection(upstream, timeout=30), [0]
                for a, b in ((client, remote), (remote, client)):
                    threading.Thread(target=pipe, args=(a, b, count), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        server.close()


@pytest.mark.parametrize("side", ["source", "target"])
def test_a_connection_reset_mid_blob_is_one_paragraph_and_the_next_run_finishes(pair, side):
    s = pair
    listen, upstream = ("127.0.0.1", s.port) if side == "source" else (HOST, s.ext.port)
    with tcp_proxy(listen, (listen, upstream), reset_after=LAYER // 2) as (port, _):
        if side == "source":
            s.write_profile(port=port)  # the source's registry.port: the proxy
        else:
            write_target(s, port)
        failed = promote(s)
    s.write_profile()
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr and failed.stderr.count("stagingkub:") == 1
    assert f":{port}" in failed.stderr and "blob sha256:" in failed.stderr, failed.stderr
    assert "re-run the same command" in failed.stderr
    assert target_digest(s.ext, VERSION) == ""  # no tag names half an image
    write_target(s, s.ext.port)
    again = promote(s)
    assert again.returncode == 0, again.stderr
    assert target_digest(s.ext, VERSION) == s.digest


def test_an_html_page_where_the_registry_should_be_is_one_paragraph(pair):
    s = pair
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    with serving(lambda *a: (200, {"Content-Type": "text/html"}, page)) as (url, _):
        s.write_profile(port=int(url.rsplit(":", 1)[1]))  # a login page, not the registry
        failed = promote(s)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "stagingkub:" in failed.stderr and "not JSON" in failed.stderr
    assert "Sign in" in failed.stderr and "proxy" in failed.stderr


def test_a_tag_naming_another_image_is_refused_unless_overwrite(pair):
    s = pair
    assert promote(s).returncode == 0
    with httpx.Client(base_url=s.url, timeout=30) as client:
        newer = push_image(client, APP, VERSION, layer_size=1024)
    refused = promote(s)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"names {s.digest} already, not {newer}" in refused.stderr
    assert "--overwrite" in refused.stderr and target_digest(s.ext, VERSION) == s.digest
    forced = promote(s, "--overwrite")
    assert forced.returncode == 0, forced.stderr
    assert target_digest(s.ext, VERSION) == newer


def test_the_promotion_is_recorded_in_the_target_registry_for_every_machine(pair, monkeypatch):
    from stagingkub.release.image import ImageSpec
    from stagingkub.release.promotion_record import promoted, tested

    s = pair
    assert promote(s).returncode == 0
    assert target_digest(s.ext, f"{VERSION}.promoted")  # the record tag
    local = s.tmp / "target-files" / "promotions.json"
    assert (
        json.loads(local.read_text())[f"{HOST}:{s.ext.port}/team/{APP}:{VERSION}"]["digest"]
        == s.digest
    )
    local.unlink()  # another Jenkins agent: a workspace that never promoted anything
    environ = {"STAGINGKUB_ENV_FILE": str(s.tmp / "absent.env"),
               "STAGINGKUB_REGISTRY_USERNAME": "ci",
               "STAGINGKUB_REGISTRY_PASSWORD": PASSWORD}  # fmt: skip
    deploying = load(profile=str(s.target), environ=environ)
    image = ImageSpec.from_settings(deploying, VERSION)
    assert promoted(image)["digest"] == s.digest
    said = tested(deploying, image.remote_ref, s.digest)
    assert said.startswith("This is the digest staging tested (promoted from ")
    assert tested(deploying, image.remote_ref, "sha256:" + "0" * 64) == ""


def test_within_one_registry_the_task_mounts_and_uploads_no_blob_bytes(pair):
    s = pair
    release = s.tmp / "release.yaml"  # the same registry, another repository
    with tcp_proxy("127.0.0.1", ("127.0.0.1", s.port)) as (port, seen):
        s.write_profile(port=port)  # both ends through the proxy, which logs each request
        text = s.profile.read_text().replace("registry:\n", "registry:\n  project: release\n", 1)
        release.write_text(text)
        result = s.invoke("image.promote", "--version", VERSION, "--to", str(release),
                          "--unverified")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 blobs, 0 already there, 2 mounted, 0 B" in result.stderr
    assert [line for line in seen if "?mount=" in line and line.startswith("POST")]
    uploads = [line for line in seen if line.startswith(("PATCH", "PUT")) and "/blobs/" in line]
    record = "digest=" + EMPTY_DIGEST  # the promotion record's 2-byte `{}`, not the image's
    assert [line for line in uploads if record not in line] == []  # the image's were mounted
    with httpx.Client(base_url=s.url, timeout=30) as client:
        answer = client.get(
            f"/v2/release/{APP}/manifests/{VERSION}", headers={"Accept": OCI_MANIFEST}
        )
    assert "sha256:" + hashlib.sha256(answer.content).hexdigest() == s.digest

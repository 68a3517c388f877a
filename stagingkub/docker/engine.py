"""A small read-only client for the Docker Engine API, on the standard library.

The docker SDK costs about 0.3 s to import (requests, urllib3...), twice the whole
budget of a converged `registry.create` (DESIGN.md); these few GETs, the archive
read and exec are all the tool asks the engine. Mutations stay CLI commands.
It finds the engine the way the docker CLI does: DOCKER_HOST, else the current
`docker context`, else /var/run/docker.sock; TLS from DOCKER_CERT_PATH.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import socket
import ssl
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from stagingkub.errors import DockerUnavailable, StateError

DEFAULT_HOST = "unix:///var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def _docker_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def engine_address() -> tuple[str, Path | None]:
    """(host URL, TLS material folder or None), as the docker CLI would choose them."""
    if os.environ.get("DOCKER_HOST"):
        tls = os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH")
        return os.environ["DOCKER_HOST"], Path(
            os.environ.get("DOCKER_CERT_PATH") or _docker_dir()
        ) if tls else None
    name = os.environ.get("DOCKER_CONTEXT")
    if not name:
        try:
            name = json.loads((_docker_dir() / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError):
            name = None
    if name and name != "default":
        digest = hashlib.sha256(name.encode()).hexdigest()
        try:
            meta = json.loads(
                (_docker_dir() / "contexts" / "meta" / digest / "meta.json").read_text()
            )
            endpoint = meta["Endpoints"]["docker"]
        except (OSError, ValueError, KeyError):
            endpoint = {}
        if endpoint.get("Host"):
            tls = _docker_dir() / "contexts" / "tls" / digest / "docker"
            return endpoint["Host"], tls if tls.is_dir() else None
    return DEFAULT_HOST, None


class Engine:
    """GET (and exec) against the Docker Engine API; every call has a timeout."""

    def __init__(self, timeout: float = 15.0) -> None:
        self.host, self.tls = engine_address()
        self.timeout = timeout
        url = urlsplit(self.host)
        if url.scheme not in ("unix", "tcp", "http", "https"):
            raise DockerUnavailable(
                f"DOCKER_HOST/context {self.host!r} uses {url.scheme}://, which stagingkub does "
                "not speak. Use a unix:// socket or tcp:// address (for example through "
                "`ssh -L` to the remote engine)."
            )
        self._url = url

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        timeout = timeout or self.timeout
        if self._url.scheme == "unix":
            return _UnixConnection(self._url.path, timeout)
        port = self._url.port or (2376 if self.tls else 2375)
        if self.tls is None and self._url.scheme != "https":
            return http.client.HTTPConnection(self._url.hostname, port, timeout=timeout)
        context = ssl.create_default_context(cafile=str(self.tls / "ca.pem") if self.tls else None)
        if self.tls and (self.tls / "cert.pem").exists():
            context.load_cert_chain(self.tls / "cert.pem", self.tls / "key.pem")
        return http.client.HTTPSConnection(
            self._url.hostname, port, timeout=timeout, context=context
        )

    def request(
        self, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> tuple[int, bytes]:
        connection = self._connection(timeout)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            connection.request(
                method, path, body=json.dumps(body) if body is not None else None, headers=headers
            )
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise DockerUnavailable(
                f"Cannot reach the Docker engine at {self.host}: {error}. Start Docker "
                "(`sudo systemctl start docker`, or Docker Desktop), check that your user may "
                "use it (`docker info`), or set DOCKER_HOST to the engine's address."
            ) from None
        finally:
            connection.close()

    def get(self, path: str, **params: Any) -> Any:
        """The decoded JSON of a GET, or None for 404."""
        query = f"?{urlencode(params)}" if params else ""
        status, data = self.request("GET", path + query)
        if status == 404:
            return None
        if status >= 400:
            raise StateError(f"The Docker engine answered {status} to GET {path}: {data[:300]!r}")
        return json.loads(data) if data else None

    def ping(self) -> None:
        status, _ = self.request("GET", "/_ping")
        if status != 200:
            raise DockerUnavailable(
                f"The Docker engine at {self.host} answered {status} to /_ping."
            )

    def container(self, name: str) -> dict | None:
        return self.get(f"/containers/{quote(name, safe='')}/json")

    def containers(self, all: bool = False, label: str = "") -> list[dict]:
        params: dict[str, Any] = {"all": "1" if all else "0"}
        if label:
            params["filters"] = json.dumps({"label": [label]})
        return self.get("/containers/json", **params) or []

    def network(self, name: str) -> dict | None:
        return self.get(f"/networks/{quote(name, safe='')}")

    def volume(self, name: str) -> dict | None:
        return self.get(f"/volumes/{quote(name, safe='')}")

    def volume_names(self) -> set[str]:
        return {v["Name"] for v in (self.get("/volumes") or {}).get("Volumes") or []}

    def image(self, reference: str) -> dict | None:
        return self.get(f"/images/{quote(reference, safe='')}/json")

    def df(self) -> dict:
        """`docker system df`; the engine refuses while another one runs: wait for that one."""
        import time

        for _ in range(40):
            status, data = self.request("GET", "/system/df", timeout=60)
            if status < 400 or b"already running" not in data:
                break
            time.sleep(0.25)
        if status >= 400:
            raise StateError(
                f"The Docker engine answered {status} to GET /system/df: {data[:200]!r}"
            )
        return json.loads(data or b"{}")

    def version(self) -> dict:
        return self.get("/version") or {}

    def info(self) -> dict:
        return self.get("/info") or {}

    def has_file(self, container: str, path: str) -> bool:
        """Whether path exists in the container (a stat through the archive API, no exec)."""
        status, _ = self.request(
            "HEAD", f"/containers/{quote(container, safe='')}/archive?path={quote(path)}"
        )
        return status == 200

    def stat(self, container: str, path: str) -> dict | None:
        """{name, size, mode, mtime, linkTarget} of a path in a container (running or not),
        from the archive API's stat header; None when it does not exist."""
        connection = self._connection()
        try:
            connection.request(
                "HEAD", f"/containers/{quote(container, safe='')}/archive?path={quote(path)}"
            )
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()
        header = response.getheader("X-Docker-Container-Path-Stat")
        if response.status != 200 or not header:
            return None
        return json.loads(base64.b64decode(header))

    def walk(self, container: str, folder: str) -> list[tuple[str, int, float]]:
        """(path below folder's parent, size, mtime) of every file below folder, streamed:
        file contents pass through without being kept."""
        connection = self._connection(timeout=120)
        try:
            connection.request(
                "GET", f"/containers/{quote(container, safe='')}/archive?path={quote(folder)}"
            )
            response = connection.getresponse()
            if response.status != 200:
                response.read()
                return []
            with tarfile.open(fileobj=response, mode="r|") as archive:
                return [(m.name, m.size, float(m.mtime)) for m in archive if m.isfile()]
        except (OSError, http.client.HTTPException, tarfile.TarError) as error:
            raise StateError(f"Cannot read {folder} in {container}: {error}") from None
        finally:
            connection.close()

    def read_tree(self, container: str, folder: str) -> dict[str, str]:
        """Every file below folder in a container, by absolute path, in one archive request."""
        status, data = self.request(
            "GET", f"/containers/{quote(container, safe='')}/archive?path={quote(folder)}"
        )
        if status != 200:
            return {}
        files = {}
        parent = folder.rstrip("/").rsplit("/", 1)[0]
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    files[f"{parent}/{member.name}"] = extracted.read().decode(errors="replace")
        return files

    def exec(self, container: str, argv: list[str], timeout: float = 30.0) -> tuple[int, str]:
        """Run argv in a running container: (exit code, stdout and stderr together)."""
        status, data = self.request(
            "POST",
            f"/containers/{quote(container, safe='')}/exec",
            {"Cmd": argv, "AttachStdout": True, "AttachStderr": True, "Tty": True},
        )
        if status != 201:
            raise StateError(
                f"Cannot exec in {container}: {json.loads(data or b'{}').get('message', status)}"
            )
        exec_id = json.loads(data)["Id"]
        _, output = self.request(
            "POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": True}, timeout
        )
        code = (self.get(f"/exec/{exec_id}/json") or {}).get("ExitCode")
        text = output.decode(errors="replace").replace("\r\n", "\n")
        return (code if code is not None else 126), text

"""A small read-only client for the Docker Engine API, on the standard library.

The docker SDK costs about 0.24 s to import (requests, urllib3...), more than the whole
0.15 s a converged `registry.create` may add to start-up (docs/architecture.md has the
measures); these few GETs, the archive read and exec are all the tool asks the engine.
Mutations stay CLI commands.
The engine is found as the docker CLI finds it (docker/address.py). Answers are read
strictly: 404 means absent, any other non-2xx, a timeout or a reset is an error that
carries the engine's own message, never "absent".
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import ssl
import tarfile
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from stagingkub.answers import decode
from stagingkub.docker.address import EngineAddress, engine_address
from stagingkub.errors import DockerUnavailable, StateError
from stagingkub.waiting import poll


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


ENGINE_CHECK = "Is DOCKER_HOST pointing at the engine's API?"


def engine_message(status: int, data: bytes) -> str:
    """The engine's {"message": ...} for an error status, else the start of the body."""
    try:
        message = json.loads(data).get("message")
    except (ValueError, AttributeError):
        message = None
    return message or data[:200].decode(errors="replace").strip() or f"status {status}"


def demultiplex(data: bytes) -> bytes:
    """The payload of a non-TTY attach/logs stream: frames of an 8-byte header (stream,
    0, 0, 0, big-endian length) and the bytes; text that is not framed is returned as is."""
    out, at = bytearray(), 0
    while at + 8 <= len(data) and data[at] in (0, 1, 2) and data[at + 1 : at + 4] == b"\0\0\0":
        length = int.from_bytes(data[at + 4 : at + 8], "big")
        out += data[at + 8 : at + 8 + length]
        at += 8 + length
    return bytes(out) + data[at:]


def tls_context(address: EngineAddress) -> ssl.SSLContext:
    """Verification as the CLI does it: the folder's ca.pem (else the system's), a client
    certificate when cert.pem is there; DOCKER_TLS without _VERIFY skips the check."""
    folder = address.cert_dir
    ca = folder / "ca.pem" if folder and (folder / "ca.pem").exists() else None
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if not address.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if folder and (folder / "cert.pem").exists():
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class Engine:
    """GET (and exec) against the Docker Engine API; every call has a timeout."""

    def __init__(self, timeout: float = 15.0, address: EngineAddress | None = None) -> None:
        self.address = address or engine_address()
        self.host = self.address.host
        self.timeout = timeout
        self._url = urlsplit(self.host)

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        timeout = timeout or self.timeout
        if self._url.scheme == "unix":
            return _UnixConnection(self._url.path, timeout)
        port = self._url.port or (2376 if self.address.tls else 2375)
        if not self.address.tls:
            return http.client.HTTPConnection(self._url.hostname, port, timeout=timeout)
        return http.client.HTTPSConnection(
            self._url.hostname, port, timeout=timeout, context=tls_context(self.address)
        )

    def _failure(self, error: Exception, timeout: float) -> DockerUnavailable:
        if isinstance(error, TimeoutError | socket.timeout):
            return DockerUnavailable(
                f"The Docker engine at {self.host} did not answer within {timeout:g} s. It is "
                "running but busy or stuck: check `docker info` and the daemon's log "
                "(`journalctl -u docker`), then re-run."
            )
        if isinstance(error, ssl.SSLError):
            return DockerUnavailable(
                f"TLS to the Docker engine at {self.host} failed: {error}. Check "
                "DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY, or the "
                "context's TLS material (`docker context inspect`)."
            )
        if isinstance(error, ConnectionResetError | http.client.HTTPException):
            return DockerUnavailable(
                f"The Docker engine at {self.host} dropped the connection ({error}). Check "
                "`docker info`; a proxy or a restarting daemon does this. Re-run when it answers."
            )
        return DockerUnavailable(
            f"Cannot reach the Docker engine at {self.host} ({self.address.source}): {error}. "
            "Start Docker (`sudo systemctl start docker`, or Docker Desktop), check that "
            "your user may use it (`docker info`), or set DOCKER_HOST to the engine's address."
        )

    def request(
        self, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> tuple[int, bytes]:
        response, data = self._exchange(method, path, body, timeout)
        return response.status, data

    def _exchange(
        self, method: str, path: str, body: Any = None, timeout: float | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        connection = self._connection(timeout)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            connection.request(
                method, path, body=json.dumps(body) if body is not None else None, headers=headers
            )
            response = connection.getresponse()
            return response, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise self._failure(error, timeout or self.timeout) from None
        finally:
            connection.close()

    def _refused(self, method: str, path: str, status: int, data: bytes) -> StateError:
        return StateError(
            f"The Docker engine answered {status} to {method} {path.split('?')[0]}: "
            f"{engine_message(status, data)}. Check `docker info` and re-run."
        )

    def get(self, path: str, **params: Any) -> Any:
        """The decoded JSON of a GET, or None for 404; any other failure raises."""
        query = f"?{urlencode(params)}" if params else ""
        status, data = self.request("GET", path + query)
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise self._refused("GET", path, status, data)
        return decode(data, f"The Docker engine at {self.host} (GET {path})", ENGINE_CHECK)

    def ping(self) -> None:
        status, data = self.request("GET", "/_ping")
        if status != 200:
            raise DockerUnavailable(
                f"The Docker engine at {self.host} answered {status} to /_ping "
                f"({engine_message(status, data)}): check `docker info`."
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
        answers = []

        def answered() -> bool:
            answers.append(self.request("GET", "/system/df", timeout=60))
            return answers[-1][0] < 400 or b"already running" not in answers[-1][1]

        poll(answered, seconds=10, every=0.25)
        status, data = answers[-1]
        if status >= 400:
            raise self._refused("GET", "/system/df", status, data)
        return decode(data, f"The Docker engine at {self.host} (GET /system/df)", empty={})

    def version(self) -> dict:
        return self.get("/version") or {}

    def info(self) -> dict:
        return self.get("/info") or {}

    def _archive(self, container: str, path: str) -> str:
        return f"/containers/{quote(container, safe='')}/archive?path={quote(path)}"

    def stat(self, container: str, path: str) -> dict | None:
        """{name, size, mode, mtime, linkTarget} of a path in a container (running or not),
        from the archive API's stat header; None when it does not exist (404)."""
        response, data = self._exchange("HEAD", self._archive(container, path))
        if response.status == 404:
            return None
        header = response.getheader("X-Docker-Container-Path-Stat")
        if response.status != 200 or not header:
            raise self._refused("HEAD", f"{container}:{path}", response.status, data)
        return json.loads(base64.b64decode(header))

    def has_file(self, container: str, path: str) -> bool:
        """Whether path exists in the container (a stat through the archive API, no exec)."""
        return self.stat(container, path) is not None

    def walk(self, container: str, folder: str) -> list[tuple[str, int, float]]:
        """(path below folder's parent, size, mtime) of every file below folder, streamed:
        file contents pass through without being kept. [] when folder does not exist."""
        connection = self._connection(timeout=120)
        try:
            connection.request("GET", self._archive(container, folder))
            response = connection.getresponse()
            if response.status != 200:
                data = response.read()
                if response.status == 404:
                    return []
                raise self._refused("GET", f"{container}:{folder}", response.status, data)
            with tarfile.open(fileobj=response, mode="r|") as archive:
                return [(m.name, m.size, float(m.mtime)) for m in archive if m.isfile()]
        except (OSError, http.client.HTTPException) as error:
            raise self._failure(error, 120) from None
        except tarfile.TarError as error:
            raise StateError(f"Cannot read {folder} in {container}: {error}") from None
        finally:
            connection.close()

    def read_tree(self, container: str, folder: str) -> dict[str, str]:
        """Every file below folder in a container, by absolute path, in one archive request;
        {} when folder does not exist."""
        status, data = self.request("GET", self._archive(container, folder))
        if status == 404:
            return {}
        if status != 200:
            raise self._refused("GET", f"{container}:{folder}", status, data)
        files = {}
        parent = folder.rstrip("/").rsplit("/", 1)[0]
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                for member in archive.getmembers():
                    extracted = archive.extractfile(member) if member.isfile() else None
                    if extracted is not None:
                        text = extracted.read().decode(errors="replace")
                        files[f"{parent}/{member.name}"] = text
        except tarfile.TarError as error:
            raise StateError(f"Cannot read {folder} in {container}: {error}") from None
        return files

    def logs(self, container: str, tail: int = 20) -> str:
        """The last lines a container wrote (stdout and stderr), '' when it is gone."""
        status, data = self.request(
            "GET", f"/containers/{quote(container, safe='')}/logs?stdout=1&stderr=1&tail={tail}"
        )
        if status != 200:
            return ""
        return demultiplex(data).decode(errors="replace")

    def exec(self, container: str, argv: list[str], timeout: float = 30.0) -> tuple[int, str]:
        """Run argv in a running container: (exit code, stdout and stderr together)."""
        status, data = self.request(
            "POST",
            f"/containers/{quote(container, safe='')}/exec",
            {"Cmd": argv, "AttachStdout": True, "AttachStderr": True, "Tty": True},
        )
        if status != 201:
            raise StateError(f"Cannot exec in {container}: {engine_message(status, data)}")
        exec_id = (decode(data, f"The Docker engine at {self.host} (exec)", ENGINE_CHECK,
                          empty={}) or {}).get("Id")  # fmt: skip
        if not exec_id:
            raise StateError(f"Cannot exec in {container}: the engine gave no exec ID.")
        _, output = self.request(
            "POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": True}, timeout
        )
        code = (self.get(f"/exec/{exec_id}/json") or {}).get("ExitCode")
        text = output.decode(errors="replace").replace("\r\n", "\n")
        return (code if code is not None else 126), text

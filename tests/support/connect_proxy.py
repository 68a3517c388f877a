"""A small HTTP CONNECT proxy on loopback: a STAND-IN for a corporate proxy. It records
every tunnel asked for and routes names it is given (no DNS needed) to loopback
addresses; anything else is refused with 502."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def connect_proxy(routes: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    """(proxy URL, tunnels asked for as host:port); routes maps a host name to an address."""
    tunnels: list[str] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request = self.rfile.readline().decode(errors="replace").split()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            if len(request) < 2 or request[0] != "CONNECT":
                self.wfile.write(b"HTTP/1.1 405 CONNECT only\r\nContent-Length: 0\r\n\r\n")
                return
            tunnels.append(request[1])
            host, _, port = request[1].rpartition(":")
            if host not in routes:
                self.wfile.write(b"HTTP/1.1 502 Unknown host\r\nContent-Length: 0\r\n\r\n")
                return
            upstream = socket.create_connection((routes[host], int(port)), timeout=10)
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = threading.Thread(target=_pipe, args=(upstream, self.connection), daemon=True)
            back.start()
            _pipe(self.connection, upstream)
            back.join(10)
            upstream.close()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tunnels
    finally:
        server.shutdown()
        server.server_close()

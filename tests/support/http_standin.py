"""Small HTTP servers on loopback or a unix socket, for client tests: a STAND-IN for the
Docker engine's API and a registry's, answering whatever a test's routes say."""

from __future__ import annotations

import contextlib
import http.server
import socketserver
import threading
from collections.abc import Callable, Iterator

# A route answers (status, headers, body); "hang" sleeps past any client timeout and
# "reset" closes the connection without an answer.
Answer = tuple[int, dict[str, str], bytes] | str
Routes = Callable[[str, str, dict[str, str]], Answer]


def handler_for(
    routes: Routes, seen: list[tuple[str, str, dict[str, str]]], stop: threading.Event
) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.append((self.command, self.path, headers))
            answer = routes(self.command, self.path, headers)
            if answer == "hang":
                stop.wait(10)  # until the server stops
                return
            if answer == "reset":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, extra, body = answer
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _answer

    return Handler


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("unix", 0)


class _TCPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


@contextlib.contextmanager
def serving(routes: Routes, unix_path: str = "", tls=None) -> Iterator[tuple[str, list]]:
    """(address, requests seen): unix:///path for a socket, else http://127.0.0.1:port
    (https:// with tls, an ssl.SSLContext holding the server's certificate)."""
    seen: list[tuple[str, str, dict[str, str]]] = []
    stop = threading.Event()
    handler = handler_for(routes, seen, stop)
    server = _UnixServer(unix_path, handler) if unix_path else _TCPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        if unix_path:
            yield f"unix://{unix_path}", seen
        else:
            scheme = "https" if tls is not None else "http"
            yield f"{scheme}://127.0.0.1:{server.server_address[1]}", seen
    finally:
        stop.set()
        server.shutdown()
        server.server_close()

"""Pieces of the `invoke --dry` script, run for real under `bash -euo pipefail`: the bounded
wait for the registry (against a local http.server) and the script's first lines."""

import http.server
import subprocess
import threading

import pytest

from stagingkub.registry.ops import wait_script
from stagingkub.runner import SCRIPT_HEADER
from tests.support.stack import free_port


def bash(script: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd,
                          capture_output=True, text=True, timeout=30)  # fmt: skip


@pytest.fixture
def answering():
    """A loopback server answering GET /v2/ with the status in `answering.status`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(server.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.status = 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.mark.parametrize("status", [200, 401])
def test_the_wait_ends_as_soon_as_the_registry_answers(answering, status):
    answering.status = status
    url = f"http://127.0.0.1:{answering.server_address[1]}"
    ran = bash(wait_script(url, 10) + "\necho ready")
    assert ran.returncode == 0 and ran.stdout.strip() == "ready", ran.stderr


def test_the_wait_fails_the_script_when_nothing_answers_in_time():
    url = f"http://127.0.0.1:{free_port()}"
    ran = bash(wait_script(url, 2) + "\necho never")
    assert ran.returncode == 1 and "never" not in ran.stdout
    assert f"the registry at {url}/v2/ did not answer within 2 s" in ran.stderr


def test_a_500_is_not_an_answer(answering):
    answering.status = 500
    ran = bash(wait_script(f"http://127.0.0.1:{answering.server_address[1]}", 1))
    assert ran.returncode == 1


def test_the_header_moves_to_the_checkout_root_or_stops(tmp_path):
    (tmp_path / "stagingkub").mkdir()
    (tmp_path / "tasks.py").write_text("")
    assert bash(SCRIPT_HEADER + "\npwd", cwd=tmp_path).stdout.strip() == str(tmp_path)
    elsewhere = tmp_path / "nowhere"
    elsewhere.mkdir()
    ran = bash(SCRIPT_HEADER + "\necho never", cwd=elsewhere)
    assert ran.returncode == 1 and "root of the stagingkub checkout" in ran.stderr

"""Port holder lookup from /proc and registry API pagination, without a daemon."""

import os
import socket

import pytest

from stagingkub import ports
from stagingkub.registry.api import _next_link, base_url

TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"


def fake_proc(tmp_path, port, inode="4242", state="0A"):
    (tmp_path / "net").mkdir()
    line = (
        f"   0: 0100007F:{port:04X} 00000000:0000 {state} 00000000:00000000 "
        f"00:00000000 00000000 0 0 {inode} 1\n"
    )
    (tmp_path / "net" / "tcp").write_text(TCP_HEADER + line)
    (tmp_path / "net" / "tcp6").write_text(TCP_HEADER)
    process = tmp_path / "321"
    (process / "fd").mkdir(parents=True)
    (process / "comm").write_text("nginx\n")
    os.symlink(f"socket:[{inode}]", process / "fd" / "7")
    return tmp_path


def test_process_holding_reads_the_listener_from_proc(tmp_path):
    assert ports.process_holding(5000, proc=fake_proc(tmp_path, 5000)) == "pid 321 (nginx)"


def test_only_listening_sockets_count(tmp_path):
    assert ports.process_holding(5000, proc=fake_proc(tmp_path, 5000, state="01")) is None


def test_another_port_is_not_reported(tmp_path):
    assert ports.process_holding(5001, proc=fake_proc(tmp_path, 5000)) is None


def test_port_in_use_sees_a_real_listener_on_loopback():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ports.port_in_use("127.0.0.1", port)
        holder = ports.process_holding(port)
        assert holder is not None and f"pid {os.getpid()}" in holder
    assert not ports.port_in_use("127.0.0.1", port)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('</v2/_catalog?last=b&n=1000>; rel="next"', "/v2/_catalog?last=b&n=1000"),
        ("", None),
        (
            '<https://r/v2/x/tags/list?n=2&last=t>; rel="next"',
            "https://r/v2/x/tags/list?n=2&last=t",
        ),
    ],
)
def test_next_link(header, expected):
    assert _next_link(header, "/v2/_catalog") == expected


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:5000"),
        ("0.0.0.0", "http://127.0.0.1:5000"),
        ("::", "http://[::1]:5000"),
        ("::1", "http://[::1]:5000"),
    ],
)
def test_health_url_uses_an_address_that_answers(address, url):
    assert base_url(address, 5000) == url


def test_without_proc_the_holder_comes_from_lsof(tmp_path, monkeypatch):
    lsof = tmp_path / "bin" / "lsof"  # a STAND-IN printing what `lsof -Fpc` prints on macOS
    lsof.parent.mkdir()
    lsof.write_text("#!/bin/sh\nprintf 'p412\\ncControlCenter\\nf5\\n'\n")
    lsof.chmod(0o755)
    monkeypatch.setenv("PATH", f"{lsof.parent}:/usr/bin:/bin")
    holder = ports.process_holding(5000, proc=tmp_path / "no-proc")
    assert holder == "pid 412 (ControlCenter)"
    assert "registry.port: 5001" in ports.holder_advice(holder)
    assert ports.holder_advice("pid 9 (nginx)") == ""

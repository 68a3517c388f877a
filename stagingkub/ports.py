"""Is a host port free, and if not, who holds it (Linux /proc; a hint elsewhere)."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import subprocess
from pathlib import Path


def port_in_use(address: str, port: int) -> bool:
    """True when binding address:port fails because something already listens there."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as error:
            # EADDRNOTAVAIL: the address is not on this host; Docker will say so itself.
            return error.errno == errno.EADDRINUSE
    return False


def process_holding(port: int, proc: Path = Path("/proc")) -> str | None:
    """'pid 123 (nginx)' for the process listening on port, from /proc, or from lsof where
    there is no /proc (macOS)."""
    if not (proc / "net").is_dir():
        return lsof_holder(port)
    inodes = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    if not inodes:
        return None
    return _owner(inodes, proc)


def _owner(inodes: set[str], proc: Path) -> str | None:
    targets = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in targets:
                    command = (entry / "comm").read_text().strip()
                    return f"pid {entry.name} ({command})"
        except OSError:
            continue
    return None


def lsof_holder(port: int, lsof: str = "lsof") -> str | None:
    """The listener lsof names (`lsof -nP -iTCP:<port> -sTCP:LISTEN`), bounded to 5 s."""

    try:
        found = subprocess.run(
            [lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"],
            capture_output=True, text=True, timeout=5,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = {line[0]: line[1:] for line in reversed(found.splitlines()) if line[:1] in "pc"}
    if "p" not in fields:
        return None
    return f"pid {fields['p']} ({fields.get('c', '?')})"


AIRPLAY = ("airplay", "controlcenter", "airtunes")


def holder_advice(holder: str) -> str:
    """A sentence for a holder we know: macOS's AirPlay Receiver listens on 5000."""
    if any(name in holder.lower() for name in AIRPLAY):
        return (
            " That is macOS's AirPlay Receiver (Control Center), which listens on 5000 and "
            "7000: turn it off in System Settings > General > AirDrop & Handoff, or set "
            "registry.port: 5001 (what kind's own registry guide uses)."
        )
    return ""


def holder_hint(port: int) -> str:
    """How the user can find the holder themselves."""
    return f"`sudo lsof -nP -iTCP:{port} -sTCP:LISTEN` or `sudo ss -ltnp 'sport = :{port}'`"

"""Reading what other programs print: version numbers (kind, containerd, helm, kubectl,
Java) and Go durations (kind's --wait, helm's --timeout, dev's settings)."""

from __future__ import annotations

import re

_VERSION_NUMBER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """(0, 27, 0) from 'kind v0.27.0 go1.23.4 linux/amd64', 'containerd ... v2.0.2 ...' or
    java's 'openjdk version "17.0.15"': the first version number in a tool's own words."""
    match = _VERSION_NUMBER.search(text)
    return tuple(int(part) for part in match.groups()) if match else None  # type: ignore[return-value]


def seconds_of(duration: str) -> float:
    """A Go duration (5m, 1m30s, 90s, 1h) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", duration))

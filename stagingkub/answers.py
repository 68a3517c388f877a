"""One way to read a JSON answer (the engine, a registry, its token service, a mirror's
counters, a CLI's output): decoded, or one error shape naming who answered, what came
back, and what to check."""

from __future__ import annotations

import json
from typing import Any

from stagingkub.errors import StateError


class NotJSON(StateError):
    """An answer that should have been JSON was not."""


def decode(data: bytes | str | None, source: str, check: str = "", empty: Any = None) -> Any:
    """The JSON in data (`empty` when there is none); else NotJSON: '<source> answered
    something that is not JSON (<its start>). <check>'."""
    if not data:
        return empty
    try:
        return json.loads(data)
    except ValueError:
        start = data[:120] if isinstance(data, str) else data[:120].decode(errors="replace")
        raise NotJSON(
            f"{source} answered something that is not JSON ({start!r})."
            + (f" {check}" if check else "")
        ) from None

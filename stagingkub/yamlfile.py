"""Read a settings YAML file into plain entries with line numbers, cached by content.

ruamel.yaml gives the positions errors need, but costs ~0.1 s to import: a file
whose bytes are unchanged since the last run is read from a JSON cache instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stagingkub.errors import ConfigError

CACHE_VERSION = 1


def entries(path: Path, where: str, cache_dir: Path | None) -> dict[str, Any]:
    """{"mapping": bool, "sections": [[section, line, kind, [[key, line, value], ...]], ...]}."""
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"Cannot read {where}: {error.strerror}.") from None
    key = [CACHE_VERSION, str(path.resolve()), hashlib.sha256(content).hexdigest()]
    cached = _cache_file(cache_dir, key)
    if cached is not None:
        try:
            stored = json.loads(cached.read_text())
            if stored.get("key") == key:
                return stored["entries"]
        except (OSError, ValueError):
            pass
    parsed = _parse(content.decode("utf-8", errors="replace"), where)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps({"key": key, "entries": parsed}))
        except OSError:
            pass  # a read-only checkout just goes without the cache
    return parsed


def _cache_file(cache_dir: Path | None, key: list) -> Path | None:
    if cache_dir is None:
        return None
    return cache_dir / f"{hashlib.sha1(key[1].encode()).hexdigest()}.json"


def _parse(text: str, where: str) -> dict[str, Any]:

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="rt").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{where}{line} is not valid YAML ({getattr(error, 'problem', error)}). "
            "Fix the file's syntax."
        ) from None
    if document is None:
        return {"mapping": True, "sections": []}
    if not isinstance(document, Mapping):
        return {"mapping": False, "sections": []}
    sections = []
    for section, body in document.items():
        line = document.lc.key(section)[0] + 1
        if body is None or not isinstance(body, Mapping):
            sections.append([str(section), line, "null" if body is None else "other", []])
            continue
        keys = [[str(k), body.lc.key(k)[0] + 1, _plain(v)] for k, v in body.items()]
        sections.append([str(section), line, "map", keys])
    return {"mapping": True, "sections": sections}


def _plain(value: Any) -> Any:
    """ruamel's scalar and container types as plain JSON-able Python values."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)

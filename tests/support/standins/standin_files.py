"""What the STAND-INS share: their state files are written whole or not at all, since a
test (or another stand-in process) may read one while it is being written."""

from __future__ import annotations

import os
from pathlib import Path


def write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    os.replace(partial, path)

"""image.promote's copy and its progress: the signature tags first, then the image under
its tag (so a killed run never leaves a promoted tag unsigned), the blobs streaming on a
terminal line of their own, and one summary line."""

from __future__ import annotations

import sys
import time

from stagingkub.console import human_size, say
from stagingkub.registry.copy import Side, Tally, copy_image


def copy(source: Side, target: Side, digest: str, tag: str, signatures: list[str]) -> Tally:
    """source@digest to target:tag, each signature tag before it; what was moved."""
    tally = Tally()
    tally.progress = _progress(tally) if sys.stderr.isatty() else None
    try:
        for signature in signatures:
            copy_image(source, target, signature, signature, tally)
        copy_image(source, target, digest, tag, tally)
    except BaseException:
        if tally.progress is not None:
            sys.stderr.write("\r\033[K")  # the error's paragraph starts on a clean line
        raise
    return tally


def _progress(tally: Tally):
    """On a terminal: the blob streaming now, its bytes, and the total sent, in place."""
    last = [0.0]

    def show(digest: str, done: int, size: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2 or done == size:
            last[0] = now
            sys.stderr.write(f"\r  {digest[:19]}  {_mib(done)} of {_mib(size)}; "
                             f"{_mib(tally.bytes_sent + done)} sent in all\033[K")  # fmt: skip
            sys.stderr.flush()

    return show


def summary(source_ref: str, target_ref: str, digest: str, tally: Tally, tags: list[str]) -> None:
    """One line: what was promoted where, with what, how many blobs and bytes, how long."""
    if tally.progress is not None:
        sys.stderr.write("\r\033[K")
    blobs = tally.sent + tally.present + tally.mounted
    extra = f", {tally.mounted} mounted" if tally.mounted else ""
    signed = f" with {', '.join(tags)}" if tags else ""
    say(f"promoted {source_ref}@{digest} to {target_ref}{signed}: {blobs} blobs, "
        f"{tally.present} already there{extra}, {_mib(tally.bytes_sent)} in "
        f"{time.monotonic() - tally.started:.1f} s")  # fmt: skip


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB" if size >= 1 << 20 else human_size(size)

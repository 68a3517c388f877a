"""The watcher's probe: a file written in the watched folder is heard (native events), and
removed after; a folder whose events never arrive is found out within the probe's bound."""

import time

from stagingkub.dev.batch import PROBE_PREFIX, Rules
from stagingkub.dev.watch import Watcher


def test_the_probe_is_heard_in_a_watched_folder_and_removed(tmp_path):
    watcher = Watcher(Rules.of([tmp_path], tmp_path / ".stagingkub"), polling=False,
                      poll_interval=1.0).start()  # fmt: skip
    try:
        assert watcher.hears_probe(tmp_path) is True
    finally:
        watcher.stop()
    assert not list(tmp_path.glob(f"{PROBE_PREFIX}*"))
    assert watcher.changes.empty()  # the probe never triggers


def test_a_folder_whose_events_never_arrive_is_found_out_within_the_bound(tmp_path):
    # Written where this watcher does not look: no event arrives, as on WSL's /mnt.
    watched, silent = tmp_path / "watched", tmp_path / "silent"
    watched.mkdir()
    silent.mkdir()
    watcher = Watcher(Rules.of([watched], tmp_path / "x"), polling=False,
                      poll_interval=1.0).start()  # fmt: skip
    try:
        started = time.monotonic()
        assert watcher.hears_probe(silent, seconds=0.6) is False
        assert time.monotonic() - started < 3
    finally:
        watcher.stop()
    assert not list(silent.glob(f"{PROBE_PREFIX}*"))


def test_a_change_is_queued_with_its_time(tmp_path):
    watcher = Watcher(Rules.of([tmp_path], tmp_path / ".stagingkub"), polling=True,
                      poll_interval=0.1).start()  # fmt: skip
    try:
        time.sleep(0.3)
        before = time.monotonic()
        (tmp_path / "App.java").write_text("class App {}")
        (tmp_path / "App.java.swp").write_text("vim")
        at, found = watcher.changes.get(timeout=5)
    finally:
        watcher.stop()
    assert at >= before
    assert {path for _, path in found} == {str(tmp_path / "App.java")}
    assert watcher.backend == "polling every 0.1 s"


def test_a_folder_moved_in_names_its_files(tmp_path):
    # inotify reports the folder only: its files (moved in with it, or written before the
    # watch on a new folder starts, as in a git checkout) send no event of their own.
    watched, outside = tmp_path / "watched", tmp_path / "outside"
    (outside / "pages" / "target").mkdir(parents=True)
    watched.mkdir()
    for name in ("a.html", "b.html", "b.html.swp", "target/out.class"):
        (outside / "pages" / name).write_text(name)
    watcher = Watcher(Rules.of([watched], tmp_path / "x"), polling=False,
                      poll_interval=1.0).start()  # fmt: skip
    try:
        assert watcher.hears_probe(watched) is True
        (outside / "pages").rename(watched / "pages")
        _, found = watcher.changes.get(timeout=5)
    finally:
        watcher.stop()
    assert {path for _, path in found} == {str(watched / "pages" / n) for n in ("a.html", "b.html")}

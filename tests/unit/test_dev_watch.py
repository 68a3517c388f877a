"""The watcher's probe: a file written in the watched folder is heard (native events), and
removed after; a folder whose events never arrive is found out within the probe's bound."""

import os
import time
from pathlib import Path

from watchfiles import Change

from stagingkub.dev import watch
from stagingkub.dev.batch import PROBE_PREFIX, Rules
from stagingkub.dev.watch import Watcher
from stagingkub.release.image import ImageSpec


def rules_for(*roots: Path, files_dir: Path | None = None) -> Rules:
    """Rules watching roots[0] as app_dir and roots[1] (if any) as a Dockerfile context."""
    app = roots[0]
    spec = ImageSpec(name="app", version="1", strategy="dockerfile", app_dir=app,
                     maven_args=(), dockerfile=app / "Dockerfile",
                     context=roots[1] if len(roots) > 1 else app, registry_host="localhost",
                     registry_port=5000, files_dir=files_dir or app / ".stagingkub")  # fmt: skip
    return Rules.of(spec)


def test_the_probe_is_heard_in_a_watched_folder_and_removed(tmp_path):
    watcher = Watcher(rules_for(tmp_path), polling=False,
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
    watcher = Watcher(rules_for(watched, files_dir=tmp_path / "x"), polling=False,
                      poll_interval=1.0).start()  # fmt: skip
    try:
        started = time.monotonic()
        assert watcher.hears_probe(silent, seconds=0.6) is False
        assert time.monotonic() - started < 3
    finally:
        watcher.stop()
    assert not list(silent.glob(f"{PROBE_PREFIX}*"))


def test_a_change_is_queued_with_its_time(tmp_path):
    watcher = Watcher(rules_for(tmp_path), polling=True,
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
    (outside / "pages" / ".git").mkdir(parents=True)
    watched.mkdir()
    for name in ("a.html", "b.html", "b.html.swp", ".git/index"):
        (outside / "pages" / name).write_text(name)
    watcher = Watcher(rules_for(watched, files_dir=tmp_path / "x"), polling=False,
                      poll_interval=1.0).start()  # fmt: skip
    try:
        assert watcher.hears_probe(watched) is True
        (outside / "pages").rename(watched / "pages")
        _, found = watcher.changes.get(timeout=5)
    finally:
        watcher.stop()
    assert {path for _, path in found} == {str(watched / "pages" / n) for n in ("a.html", "b.html")}


def test_a_link_to_a_folder_outside_the_app_is_one_file_never_walked(tmp_path):
    # `ln -s ~ x` in the app: the link is what changed (the input record hashes its target),
    # not the files of a home folder.
    app, home = tmp_path / "app", tmp_path / "home"
    (home / "deep").mkdir(parents=True)
    (home / "deep" / "notes.txt").write_text("mine")
    (app / "pages").mkdir(parents=True)
    (app / "pages" / "index.html").write_text("<p>")
    os.symlink(home, app / "pages" / "x")
    os.symlink(home, app / "y")
    watcher = Watcher(rules_for(app), polling=False, poll_interval=1.0)  # not started
    added = {(Change.added, str(app / "pages")), (Change.added, str(app / "y"))}
    found = {path for _, path in watcher._files_of(added)}
    assert found == {str(app / "pages" / "index.html"), str(app / "pages" / "x"), str(app / "y")}


def test_every_watched_folder_is_probed_and_one_without_events_means_polling(tmp_path):
    app, context = tmp_path / "app", tmp_path / "context"
    app.mkdir()
    context.mkdir()
    rules = rules_for(app, context)
    assert rules.roots == (app, context)
    native = Watcher(rules, polling=False, poll_interval=1.0).start()
    try:
        assert watch.probe_roots(native, rules.roots) == ([], [])  # both heard
    finally:
        native.stop()
    # Probed where this watcher does not look: as a root whose events never arrive.
    only_app = Watcher(rules_for(app), polling=False, poll_interval=1.0).start()
    try:
        assert watch.probe_roots(only_app, (app, context)) == ([context], [])
    finally:
        only_app.stop()


def test_start_polls_when_the_second_folder_sends_no_events(tmp_path, monkeypatch):
    app, context = tmp_path / "app", tmp_path / "context"
    app.mkdir()
    context.mkdir()
    heard = Watcher.hears_probe
    monkeypatch.setattr(Watcher, "hears_probe",
                        lambda self, folder, seconds=0.5: heard(self, folder, seconds)
                        if folder == app else False)  # fmt: skip
    watcher, note = watch.start(rules_for(app, context), poll=False, poll_interval=0.1)
    try:
        assert watcher.polling
        assert note == f"no native file event arrived from {context.as_posix()} within 2 s"
    finally:
        watcher.stop()

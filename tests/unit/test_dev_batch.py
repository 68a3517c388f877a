"""invoke dev's pure decisions: which paths may start a cycle, and when a batch of changes is
complete. watchfiles' change sets are fed in directly, with the times they arrived."""

import queue
from pathlib import Path

import pytest
from watchfiles import Change

from stagingkub.dev.batch import PROBE_PREFIX, Batch, BuildWrites, Rules, summary
from stagingkub.dev.loop import drain

APP = Path("/src/app")
RULES = Rules.of([APP, Path("/src/shared-context")], APP / ".stagingkub")


@pytest.mark.parametrize(
    "path",
    [
        "src/main/java/App.java", "pom.xml", "Dockerfile", "www/index.html",
        "src/main/resources/build.properties", "docs/targets.md",
    ],
)  # fmt: skip
def test_app_files_may_trigger(path):
    assert RULES.may_trigger(str(APP / path))


@pytest.mark.parametrize(
    "path",
    [
        "target/app.jar", "target", "build/libs/app.jar", ".git/index", ".git/HEAD.lock",
        "node_modules/left-pad/index.js", "frontend/node_modules/x.js", ".stagingkub/values.yaml",
        "src/App.java.swp", "src/.App.java.swx", "src/App.java~", "src/.#App.java", "src/4913",
        "src/App.java___jb_tmp___", f"{PROBE_PREFIX}1234", ".DS_Store",
        ".venv/lib/python3.11/site-packages/x.py", "tools/__pycache__/x.cpython-311.pyc",
    ],
)  # fmt: skip
def test_build_output_tool_folders_and_editor_files_never_trigger(path):
    assert not RULES.may_trigger(str(APP / path))


def test_paths_outside_the_roots_and_the_files_dir_anywhere_never_trigger():
    assert not RULES.may_trigger("/elsewhere/App.java")
    assert RULES.may_trigger("/src/shared-context/lib.txt")  # a Dockerfile context root
    rules = Rules.of([APP], Path("/work/generated"))
    assert not rules.may_trigger("/work/generated/rhdemo/values-rhdemo.yaml")


def test_a_root_inside_a_folder_named_build_still_triggers():
    rules = Rules.of([Path("/home/me/build/app")], Path("/home/me/build/app/.stagingkub"))
    assert rules.may_trigger("/home/me/build/app/src/App.java")


def changes(*paths: str) -> set:
    return {(Change.modified, path) for path in paths}


def test_a_batch_is_complete_after_the_quiet_time():
    batch = Batch(debounce=0.3, max_wait=3.0)
    assert batch.wait(100.0) is None  # empty: nothing to wait for
    batch.add(100.0, changes("/a"))
    assert batch.wait(100.1) == pytest.approx(0.2)
    batch.add(100.2, changes("/b"))  # a new event restarts the quiet time
    assert batch.wait(100.4) == pytest.approx(0.1)
    assert batch.wait(100.5) == 0


def test_a_stream_of_events_is_cut_at_the_maximum_wait():
    batch = Batch(debounce=0.3, max_wait=3.0)
    for step in range(40):  # an event every 0.1 s: never quiet for 0.3 s
        batch.add(10.0 + step * 0.1, changes(f"/f{step}"))
        if 10.0 + step * 0.1 < 13.0:
            assert batch.wait(10.0 + step * 0.1) > 0
    assert batch.wait(13.0) == 0
    assert batch.events == 40 and len(batch.paths) == 40


def test_an_empty_change_set_does_not_start_a_batch():
    batch = Batch(debounce=0.3, max_wait=3.0)
    batch.add(1.0, set())
    assert batch.first is None and batch.wait(5.0) is None


def test_what_queued_during_a_cycle_is_one_batch():
    pending: queue.Queue = queue.Queue()
    for number in range(50):  # a git checkout during the last build
        pending.put((200.0 + number * 0.01, changes(f"/src/app/f{number}", "/src/app/f0")))
    batch = Batch(debounce=0.3, max_wait=3.0)
    drain(pending, batch)
    assert pending.empty()
    assert len(batch.paths) == 50 and batch.events == 99 and batch.first == 200.0
    assert batch.wait(201.0) == 0  # quiet for long enough already: one cycle, at once
    assert batch.relative(APP)[:2] == ["f0", "f1"]


def test_the_summary_names_five_then_counts():
    assert summary(["a", "b"]) == "a, b"
    assert summary([f"f{n}" for n in range(8)]) == "f0, f1, f2, f3, f4 and 3 more"


def batch_at(*arrivals: tuple[float, str]) -> Batch:
    batch = Batch(debounce=0.3, max_wait=3.0)
    for at, path in arrivals:
        batch.add(at, changes(path))
    return batch


def test_files_a_build_writes_twice_in_a_row_stop_triggering():
    writes = BuildWrites(window=(10.0, 20.0))
    first = batch_at((15.0, "/app/gen/Stamp.java"))
    assert writes.found_in(first) == set() and first.paths  # a suspect: this cycle runs
    writes.window = (30.0, 40.0)  # the next build, which wrote it again
    second = batch_at((35.0, "/app/gen/Stamp.java"))
    assert writes.found_in(second) == {"/app/gen/Stamp.java"} and not second.paths
    later = batch_at((50.0, "/app/gen/Stamp.java"), (50.0, "/app/App.java"))
    assert writes.found_in(later) == set()
    assert later.paths == {"/app/App.java"}  # a known output never triggers again


def test_a_save_after_the_build_or_a_different_file_is_no_build_output():
    writes = BuildWrites(window=(10.0, 20.0))
    assert writes.found_in(batch_at((15.0, "/app/a.txt"))) == set()
    writes.window = (30.0, 40.0)
    mixed = batch_at((35.0, "/app/a.txt"), (45.0, "/app/App.java"))  # one saved after
    assert writes.found_in(mixed) == set() and len(mixed.paths) == 2
    writes.window = (50.0, 60.0)
    assert writes.found_in(batch_at((55.0, "/app/b.txt"))) == set()  # another file: suspect
    assert writes.outputs == set()

"""invoke dev's pure decisions: which paths may start a cycle, and when a batch of changes is
complete. watchfiles' change sets are fed in directly, with the times they arrived."""

import queue
from pathlib import Path

import pytest
from watchfiles import Change

from stagingkub.dev.batch import (
    BUILD,
    ECHO,
    PROBE_PREFIX,
    UNCHANGED,
    Batch,
    Rules,
    Trigger,
    summary,
)
from stagingkub.dev.loop import drain
from stagingkub.release.image import ImageSpec

APP = Path("/src/app")


def image(app: Path = APP, strategy: str = "mvnw", context: Path | None = None,
          files_dir: Path | None = None) -> ImageSpec:  # fmt: skip
    return ImageSpec(name="rhdemo-api", version="1", strategy=strategy, app_dir=app,
                     maven_args=(), dockerfile=app / "Dockerfile", context=context or app,
                     registry_host="localhost", registry_port=5000,
                     files_dir=files_dir or app / ".stagingkub")  # fmt: skip


RULES = Rules.of(image())
DOCKERFILE_RULES = Rules.of(image(strategy="dockerfile", context=Path("/src/shared-context")))


@pytest.mark.parametrize(
    "path",
    [
        "src/main/java/App.java", "pom.xml", "Dockerfile", "www/index.html",
        "src/main/resources/build.properties", "docs/targets.md",
        "src/main/java/com/acme/build/Version.java", "src/main/java/com/acme/target/Aim.java",
        "modules/api/target/api.jar", "build/libs/app.jar",
    ],
)  # fmt: skip
def test_app_files_may_trigger(path):
    assert RULES.may_trigger(str(APP / path))


@pytest.mark.parametrize(
    "path",
    [
        "target/app.jar", "target", ".git/index", ".git/HEAD.lock",
        "node_modules/left-pad/index.js", "frontend/node_modules/x.js", ".stagingkub/values.yaml",
        "src/App.java.swp", "src/.App.java.swx", "src/App.java~", "src/.#App.java", "src/4913",
        "src/App.java___jb_tmp___", f"{PROBE_PREFIX}1234", ".DS_Store",
        ".venv/lib/python3.11/site-packages/x.py", "tools/__pycache__/x.cpython-311.pyc",
    ],
)  # fmt: skip
def test_mvnw_output_tool_folders_and_editor_files_never_trigger(path):
    assert not RULES.may_trigger(str(APP / path))


def test_with_a_dockerfile_the_apps_target_folder_triggers_as_it_is_an_input():
    # `COPY target/*.jar app.jar`: an IDE's `mvn package` must start a cycle.
    assert DOCKERFILE_RULES.may_trigger(str(APP / "target/app.jar"))
    assert DOCKERFILE_RULES.may_trigger(str(APP / "build/libs/app.jar"))
    assert not DOCKERFILE_RULES.may_trigger(str(APP / ".git/index"))


def test_paths_outside_the_roots_and_the_files_dir_anywhere_never_trigger():
    assert not DOCKERFILE_RULES.may_trigger("/elsewhere/App.java")
    assert DOCKERFILE_RULES.may_trigger("/src/shared-context/lib.txt")  # a context root
    rules = Rules.of(image(), Path("/work/generated"))
    assert not rules.may_trigger("/work/generated/rhdemo/values-rhdemo.yaml")


def test_a_root_inside_a_folder_named_build_still_triggers():
    rules = Rules.of(image(Path("/home/me/build/app")))
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


def arrivals(*pairs: tuple[float, str]) -> dict[str, float]:
    return {path: at for at, path in pairs}


def test_a_build_writing_new_bytes_into_its_inputs_costs_one_extra_cycle():
    trigger = Trigger()
    trigger.ran({}, "d0", (10.0, 20.0))  # the first deploy's build wrote Stamp.java
    stamp = arrivals((15.0, "/app/gen/Stamp.java"))
    assert trigger.decide(stamp, "d1") == BUILD  # it might be a save: built (the extra one)
    trigger.ran(stamp, "d1", (30.0, 40.0))  # ... and that build wrote it again
    again = arrivals((35.0, "/app/gen/Stamp.java"))
    assert trigger.decide(again, "d2") == ECHO  # the echo of an echo: no third build


def test_the_same_bytes_again_start_nothing_and_a_touch_starts_nothing():
    trigger = Trigger()
    trigger.ran(arrivals((5.0, "/app/App.java")), "d1", (10.0, 20.0))
    assert trigger.decide(arrivals((15.0, "/app/gen/Stamp.java")), "d1") == UNCHANGED
    assert trigger.decide(arrivals((50.0, "/app/App.java")), "d1") == UNCHANGED


def test_a_file_saved_during_two_builds_in_a_row_is_never_silenced_for_good():
    # The bug: saved while two builds ran, it was taken for build output, and from then
    # on saving it never started a cycle.
    trigger = Trigger()
    trigger.ran({}, "d0", (10.0, 20.0))
    first = arrivals((15.0, "/app/App.java"))
    assert trigger.decide(first, "d1") == BUILD
    trigger.ran(first, "d1", (30.0, 40.0))
    second = arrivals((35.0, "/app/App.java"))
    assert trigger.decide(second, "d2") == ECHO  # indistinguishable from a stamp, once
    later = arrivals((60.0, "/app/App.java"))  # saved again while no build runs
    assert trigger.decide(later, "d3") == BUILD
    trigger.ran(later, "d3", (70.0, 80.0))
    during = arrivals((75.0, "/app/App.java"))  # and saved during that build: built too
    assert trigger.decide(during, "d4") == BUILD


def test_a_save_after_the_build_or_another_file_is_built():
    trigger = Trigger()
    trigger.ran({}, "d0", (10.0, 20.0))
    stamp = arrivals((15.0, "/app/gen/Stamp.java"))
    trigger.ran(stamp, "d1", (30.0, 40.0))
    mixed = arrivals((35.0, "/app/gen/Stamp.java"), (45.0, "/app/App.java"))  # one after
    assert trigger.decide(mixed, "d2") == BUILD
    other = arrivals((35.0, "/app/gen/Stamp.java"), (36.0, "/app/App.java"))  # another file
    assert trigger.decide(other, "d2") == BUILD


def test_a_batch_waits_for_the_last_builds_late_events():
    trigger = Trigger()
    assert trigger.settled(5.0) == 0
    trigger.ran({}, "d0", (10.0, 20.5))
    assert trigger.settled(20.0) == pytest.approx(0.5)
    assert trigger.settled(21.0) == 0

"""invoke dev's loop: every failure ends a cycle, not dev. The inputs that cannot be read (a
file gone mid-read, the engine restarting), a build, push or helm read that fails: one
`dev ... failed` paragraph, and the loop goes on waiting. (A real dev process is run in
tests/integration/test_dev.py.)"""

import pytest
from invoke import MockContext

from stagingkub import pipeline
from stagingkub.dev.batch import BUILD, Batch
from stagingkub.dev.loop import Loop, _build_window
from stagingkub.errors import DockerUnavailable, StateError
from stagingkub.release import image_inputs
from stagingkub.release.image import ImageSpec
from stagingkub.runner import Interrupted, Runner
from stagingkub.settings import load

ENGINE_GONE = DockerUnavailable(
    "The Docker engine at unix:///var/run/docker.sock dropped the connection."
)


@pytest.fixture
def loop(tmp_path):
    settings = load(environ={"STAGINGKUB_ENV_FILE": "/nonexistent/.env"})
    app = tmp_path / "app"
    app.mkdir()
    (app / "pom.xml").write_text("<project/>")
    image = ImageSpec(name="app", version="1", strategy="mvnw", app_dir=app, maven_args=(),
                      dockerfile=app / "Dockerfile", context=app, registry_host="localhost",
                      registry_port=5000, files_dir=tmp_path / "files")  # fmt: skip
    made = Loop(Runner(MockContext()), settings, image, poll=True, logs=False)
    made.engine = object()
    made.baseline = image_inputs.BuildInputs({"pom.xml": "a"}, {}, {})
    made.trigger.ran({}, made.baseline.digest, None)
    made.running = "localhost:5000/app:1@sha256:1"
    return made


def saved(path: str = "/app/pom.xml", at: float = 1.0) -> Batch:
    batch = Batch(debounce=0.3, max_wait=3.0)
    batch.add(at, {(2, path)})
    return batch


def changed() -> image_inputs.BuildInputs:
    return image_inputs.BuildInputs({"pom.xml": "b"}, {}, {})


@pytest.mark.parametrize(
    "failure",
    [
        FileNotFoundError(2, "No such file or directory", "src/.App.java.tmp"),
        ENGINE_GONE,
        StateError("Cannot read src/App.java (Permission denied), one of the build's inputs."),
    ],
)
def test_inputs_that_cannot_be_read_end_the_cycle_not_dev(loop, monkeypatch, capsys, failure):
    def collect(*args):
        raise failure

    monkeypatch.setattr(image_inputs, "collect", collect)
    loop.next_cycle(saved())  # returns: dev goes on waiting
    said = capsys.readouterr().err
    assert said.startswith("dev: a cycle failed before its build: the inputs could not be read:")
    assert str(failure) in said and "waiting for the next change" in said
    assert loop.cycles == 0


def deliver_failing_at(step: str, error: Exception):
    def deliver(steps, *args, **kwargs):
        for name in ("build", "scan", "push", "helm"):
            if name == step:
                raise error
            steps.run(name, lambda: "", says_why=False)

    return deliver


@pytest.mark.parametrize(
    ("step", "error"),
    [
        ("build", ENGINE_GONE),  # the engine restarting mid-build
        ("push", OSError(28, "No space left on device")),
        ("helm", StateError("`helm status rhdemo` failed: the cluster did not answer.")),
    ],
)
def test_a_failure_in_a_cycle_ends_the_cycle_not_dev(loop, monkeypatch, capsys, step, error):
    monkeypatch.setattr(pipeline, "deliver", deliver_failing_at(step, error))
    loop.cycle(saved(), changed())
    said = capsys.readouterr().err
    assert f"dev cycle 1 failed at {step}: {error}" in said
    assert "The cluster still runs localhost:5000/app:1@sha256:1" in said
    assert loop.baseline == changed() and not loop.in_cycle  # the same save does not retry
    assert loop.trigger.decide({"/app/pom.xml": 9.0}, changed().digest) != BUILD


def test_a_stop_during_a_cycle_is_not_a_cycle_failure(loop, monkeypatch):
    monkeypatch.setattr(pipeline, "deliver", deliver_failing_at("build", Interrupted("stop")))
    with pytest.raises(Interrupted):
        loop.cycle(saved(), changed())


def test_a_build_that_failed_still_has_a_window(loop, monkeypatch):
    # It may have written its sources before failing: a stamp plus a compile error must not
    # start build after build.
    steps = pipeline.Steps(loop.runner)
    window = _build_window(steps, 100.0, 0.5, failed=True)
    assert window is not None and window[0] == 100.0
    steps.run("build", lambda: "", says_why=False)
    assert _build_window(steps, 100.0, 0.5, failed=False) is None  # skipped: nothing ran

"""`invoke dev`'s task: a bad --logs is refused before anything is said or read, and the
hint that trivy is not installed is given once per run, not in every cycle."""

from invoke import MockContext

from stagingkub.release import image_ops
from stagingkub.release.image import ImageSpec
from stagingkub.runner import Runner
from tests.support.entry import run_in_process


def test_a_bad_logs_value_is_refused_before_the_version_is_announced():
    result = run_in_process("dev", "--profile", "demo", "--logs=maybe",
                            env={"STAGINGKUB_IMAGE_VERSION": "0.3.0"})  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "stagingkub: --logs is 'maybe'; give --logs (on) or --logs=off.\n"
    assert result.stdout == ""


def test_the_trivy_hint_is_given_once_per_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(image_ops.shutil, "which", lambda name: None)
    spec = ImageSpec(name="app", version="1", strategy="mvnw", app_dir=tmp_path, maven_args=(),
                     dockerfile=tmp_path / "Dockerfile", context=tmp_path,
                     registry_host="localhost", registry_port=5000, scan="auto")  # fmt: skip
    dev_run = Runner(MockContext())
    for _cycle in range(3):
        image_ops.scan(dev_run, spec)
    said = capsys.readouterr().err.splitlines()
    assert said[0] == f"image scan skipped: trivy is not installed ({image_ops.TRIVY_HINT})"
    assert said[1:] == ["image scan skipped: trivy is not installed"] * 2
    image_ops.scan(Runner(MockContext()), spec)  # another run (a deploy): the hint again
    assert image_ops.TRIVY_HINT in capsys.readouterr().err

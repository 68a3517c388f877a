"""What starts a dev cycle and what the input record hashes come from one rule
(image_inputs.LeftOut): a file is an input exactly when its change may start a cycle (what
git ignores aside: no input, and it changes no digest). Checked on real folders, in and out
of git, for both strategies."""

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stagingkub.dev.batch import Rules
from stagingkub.release import image_inputs
from stagingkub.release.image import ImageSpec

TREE = (
    "pom.xml", "src/main/java/com/acme/App.java", "src/main/java/com/acme/build/Version.java",
    "src/main/java/com/acme/target/Aim.java", "modules/api/target/api.jar", "build/libs/app.jar",
    "target/app.jar", "target/classes/App.class", ".git/HEAD", "node_modules/x/y.js",
    "web/node_modules/z.js", ".venv/bin/python", "tools/__pycache__/t.pyc",
    ".stagingkub/builds/r.json", "src/App.java.swp", "src/App.java~", "src/.#App.java",
    "Dockerfile", "www/index.html",
)  # fmt: skip


class NoEngine:
    def image(self, reference):
        return None


def spec(app: Path, strategy: str) -> ImageSpec:
    return ImageSpec(name="app", version="1", strategy=strategy, app_dir=app, maven_args=(),
                     dockerfile=app / "Dockerfile", context=app, registry_host="localhost",
                     registry_port=5000, files_dir=app / ".stagingkub")  # fmt: skip


def make_tree(app: Path, dockerfile: str = "FROM scratch\nCOPY www/ /www/\n") -> None:
    git(app, "init", "-q")  # a work tree; a test that wants none removes .git after
    for name in TREE:
        if name.startswith(".git/"):
            continue
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(name)
    (app / "Dockerfile").write_text(dockerfile)


def git(app: Path, *args: str) -> None:
    app.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "-C", str(app), *args], check=True, timeout=30, capture_output=True)


def recorded(app: Path, strategy: str) -> set[str]:
    return set(image_inputs.collect(spec(app, strategy), NoEngine(), app / ".stagingkub").files)


def triggering(app: Path, strategy: str) -> set[str]:
    rules = Rules.of(spec(app, strategy))
    return {name for name in TREE if rules.may_trigger(str(app / name))}


SOURCES = {
    "pom.xml", "Dockerfile", "www/index.html", "src/main/java/com/acme/App.java",
    "src/main/java/com/acme/build/Version.java", "src/main/java/com/acme/target/Aim.java",
    "modules/api/target/api.jar", "build/libs/app.jar",
}  # fmt: skip


@pytest.mark.parametrize("in_git", [False, True])
@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("mvnw", SOURCES),  # ./mvnw writes the top-level target/: no input, no trigger
        ("dockerfile", SOURCES | {"target/app.jar", "target/classes/App.class"}),
    ],
)
def test_the_record_and_the_trigger_agree(tmp_path, strategy, expected, in_git):
    make_tree(tmp_path)
    if in_git:
        git(tmp_path, "add", "pom.xml")
    else:
        shutil.rmtree(tmp_path / ".git")
        (tmp_path / ".git").mkdir()
        (tmp_path / ".git" / "HEAD").write_text("not a work tree")
    assert recorded(tmp_path, strategy) == expected
    assert triggering(tmp_path, strategy) == expected


def test_what_git_ignores_is_no_input_and_changes_no_digest(tmp_path):
    make_tree(tmp_path)
    (tmp_path / ".gitignore").write_text("*.log\n")
    (tmp_path / "debug.log").write_text("1")
    before = image_inputs.collect(spec(tmp_path, "mvnw"), NoEngine(), tmp_path / ".stagingkub")
    (tmp_path / "debug.log").write_text("2")
    after = image_inputs.collect(spec(tmp_path, "mvnw"), NoEngine(), tmp_path / ".stagingkub")
    assert "debug.log" not in after.files and before.digest == after.digest


def test_the_jar_a_dockerfile_copies_is_an_input_even_where_git_ignores_target(tmp_path):
    # The usual Spring Boot Dockerfile, with Spring Initializr's .gitignore: an IDE's
    # `mvn package` changes the image, so it changes the inputs.
    make_tree(tmp_path, "FROM eclipse-temurin:21-jre\nCOPY target/*.jar app.jar\n")
    (tmp_path / ".gitignore").write_text("target/\n")
    files = recorded(tmp_path, "dockerfile")
    assert "target/app.jar" in files and "target/classes/App.class" not in files
    before = image_inputs.collect(spec(tmp_path, "dockerfile"), NoEngine(), tmp_path / "x")
    (tmp_path / "target" / "app.jar").write_text("rebuilt by the IDE")
    after = image_inputs.collect(spec(tmp_path, "dockerfile"), NoEngine(), tmp_path / "x")
    assert image_inputs.difference(before, after) == "changed target/app.jar"
    assert Rules.of(spec(tmp_path, "dockerfile")).may_trigger(str(tmp_path / "target/app.jar"))


def test_a_copy_from_another_stage_names_no_input(tmp_path):
    make_tree(tmp_path, "FROM maven AS jar\nFROM scratch\nCOPY --from=jar target/*.jar a.jar\n")
    (tmp_path / ".gitignore").write_text("target/\n")
    assert "target/app.jar" not in recorded(tmp_path, "dockerfile")


def test_a_link_to_a_folder_outside_the_app_is_recorded_as_a_link_not_followed(tmp_path):
    app, home = tmp_path / "app", tmp_path / "home"
    (home / "deep").mkdir(parents=True)
    (home / "deep" / "secret.txt").write_text("mine")
    app.mkdir()
    (app / "pom.xml").write_text("<project/>")
    os.symlink(home, app / "x")
    os.mkfifo(app / "pipe")  # not a file: reading it would block
    files = image_inputs.collect(spec(app, "mvnw"), NoEngine(), app / ".stagingkub").files
    assert files == {"pom.xml": files["pom.xml"], "x": f"link:{home}"}


def test_a_file_that_vanishes_while_the_inputs_are_read_is_no_input(tmp_path, monkeypatch):
    (tmp_path / "pom.xml").write_text("<project/>")
    listed = image_inputs.list_files

    def listed_then_gone(root, left_out):  # an editor's temporary file, a git checkout
        return [*listed(root, left_out), root / "src" / "Gone.java"]

    monkeypatch.setattr(image_inputs, "list_files", listed_then_gone)
    inputs = image_inputs.collect(spec(tmp_path, "mvnw"), NoEngine(), tmp_path / ".stagingkub")
    assert list(inputs.files) == ["pom.xml"]


def test_an_unreadable_input_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    def refused(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(image_inputs, "file_digest", refused)
    with pytest.raises(image_inputs.StateError, match=r"Cannot read .*pom\.xml \(Permission"):
        image_inputs.readable_digest(tmp_path / "pom.xml")


@pytest.mark.parametrize("in_git", [False, True])
def test_what_image_prebuild_writes_is_its_output_never_an_input(tmp_path, in_git):
    # `./mvnw package` before `docker build`: target/app.jar is made from the sources, so
    # it neither starts a dev cycle nor changes the input digest; build/ alike (gradle)
    make_tree(tmp_path, "FROM scratch\nCOPY target/app.jar /app.jar\n")
    if not in_git:
        shutil.rmtree(tmp_path / ".git")
    prebuilt = dataclasses.replace(spec(tmp_path, "dockerfile"), prebuild=("./mvnw", "package"))
    files = image_inputs.collect(prebuilt, NoEngine(), tmp_path / ".stagingkub").files
    assert set(files) == SOURCES - {"build/libs/app.jar"}
    rules = Rules.of(prebuilt)
    assert {name for name in TREE if rules.may_trigger(str(tmp_path / name))} == set(files)
    plain = image_inputs.recipe(spec(tmp_path, "dockerfile"))
    assert image_inputs.recipe(prebuilt) == {**plain, "prebuild": '["./mvnw", "package"]'}

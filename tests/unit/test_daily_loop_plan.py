"""The daily loop's decisions, as plain functions: the project version, the build inputs and
why they changed, and whether a helm upgrade would change anything (no daemon)."""

import json
import subprocess
from pathlib import Path

import pytest

from stagingkub.errors import StateError
from stagingkub.release import image_inputs
from stagingkub.release import version as project_version
from stagingkub.release.helm import chart_argument, image_values, merge_values, upgrade_reason
from stagingkub.release.image import ImageSpec
from stagingkub.release.image_inputs import BuildInputs, difference

POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.4.1</version>
  </parent>
  <artifactId>rhdemo-api</artifactId>
  {version}
  <properties>{properties}</properties>
  <dependencies>
    <dependency><artifactId>lib</artifactId><version>9.9.9</version></dependency>
  </dependencies>
</project>
"""


def pom(tmp_path: Path, version: str, properties: str = "") -> Path:
    path = tmp_path / "pom.xml"
    path.write_text(POM.format(version=version, properties=properties))
    return path


def test_the_version_is_the_projects_own_not_a_dependencys_or_the_parents(tmp_path):
    path = pom(tmp_path, "<version>1.1.0-SNAPSHOT</version>")
    assert project_version.pom_version(path, []) == "1.1.0-SNAPSHOT"


def test_a_project_without_its_own_version_inherits_its_parents_as_maven_does(tmp_path):
    assert project_version.pom_version(pom(tmp_path, ""), []) == "3.4.1"


@pytest.mark.parametrize(
    ("properties", "maven_args", "config", "expected"),
    [
        ("<revision>2.0.0</revision>", [], "", "2.0.0"),
        ("<revision>2.0.0</revision>", ["-Drevision=2.1.0"], "", "2.1.0"),  # -D wins
        ("", [], "-Drevision=3.0.0 -B", "3.0.0"),  # .mvn/maven.config
        ("<major>4</major><revision>${major}.0-SNAPSHOT</revision>", [], "", "4.0-SNAPSHOT"),
    ],
)
def test_placeholders_are_resolved_as_maven_would(tmp_path, properties, maven_args, config,
                                                  expected):  # fmt: skip
    path = pom(tmp_path, "<version>${revision}</version>", properties)
    if config:
        (tmp_path / ".mvn").mkdir()
        (tmp_path / ".mvn" / "maven.config").write_text(config)
    assert project_version.pom_version(path, maven_args) == expected


def test_an_undefined_placeholder_is_refused_with_where_to_define_it(tmp_path):
    path = pom(tmp_path, "<version>${revision}</version>")
    with pytest.raises(StateError) as error:
        project_version.pom_version(path, [])
    assert "${revision}" in str(error.value) and "-Drevision=" in str(error.value)
    assert "--version" in str(error.value)


def test_a_missing_or_broken_pom_is_explained(tmp_path):
    with pytest.raises(StateError, match="there is none"):
        project_version.pom_version(tmp_path / "pom.xml", [])
    (tmp_path / "pom.xml").write_text("<project><version>1</project>")
    with pytest.raises(StateError, match="not valid XML"):
        project_version.pom_version(tmp_path / "pom.xml", [])


def test_git_describe_names_the_dirty_state(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True, timeout=30)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    subprocess.run([*git, "add", "-A"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-qm", "one"], check=True, timeout=30)
    subprocess.run([*git, "tag", "v1.2.0"], check=True, timeout=30)
    assert project_version.git_describe(tmp_path) == "v1.2.0"
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY x /x\n")
    assert project_version.git_describe(tmp_path) == "v1.2.0-dirty"


def test_git_describe_outside_git_says_how_to_set_the_version(tmp_path):
    with pytest.raises(StateError) as error:
        project_version.git_describe(tmp_path)
    assert "image.version" in str(error.value) and "--version" in str(error.value)


def inputs(files=None, recipe=None, builders=None) -> BuildInputs:
    return BuildInputs(
        files if files is not None else {"pom.xml": "a", "src/App.java": "b"},
        recipe or {"strategy": "mvnw", "maven_args": "[]", "pull_policy": "if_not_present"},
        builders or {"paketobuildpacks/builder-noble-java-tiny:latest": "sha256:1"},
    )


def test_unchanged_inputs_need_no_build_and_their_digest_is_stable():
    assert difference(inputs(), inputs()) == ""
    assert inputs().digest == inputs().digest
    assert inputs().digest != inputs(files={"pom.xml": "a"}).digest


def test_why_a_build_runs_names_files_builders_and_settings():
    old = inputs()
    new = inputs(files={"pom.xml": "a", "src/App.java": "c", "README.md": "d"})
    assert difference(old, new) == "changed src/App.java; added README.md"
    assert difference(old, inputs(files={"pom.xml": "a"})) == "removed src/App.java"
    other = inputs(builders={"paketobuildpacks/builder-noble-java-tiny:latest": "sha256:2"})
    assert difference(old, other).startswith("a different builder (paketobuildpacks/")
    policy = inputs(recipe={"strategy": "mvnw", "maven_args": "[]", "pull_policy": "always"})
    assert difference(old, policy) == "other build settings (pull_policy)"
    assert difference(None, old) == "no record of the inputs that built the local image"


def test_at_most_five_changed_names_are_listed():
    old = inputs(files={f"f{i}": "a" for i in range(8)})
    new = inputs(files={f"f{i}": "b" for i in range(8)})
    assert difference(old, new) == "changed f0, f1, f2, f3, f4 and 3 more"


def test_a_record_round_trips_and_a_foreign_one_is_ignored(tmp_path):
    image_inputs.save(tmp_path, inputs(), "app:1", "sha256:abc")
    assert image_inputs.load(tmp_path, "sha256:abc") == inputs()
    (tmp_path / "def.json").write_text(json.dumps({"format": 99}))
    assert image_inputs.load(tmp_path, "sha256:def") is None
    assert image_inputs.load(tmp_path, "sha256:none") is None


def test_outside_git_every_file_counts_but_build_output_and_our_own_files(tmp_path):
    for name in ("pom.xml", "src/App.java", "target/app.jar", "node_modules/x/y.js",
                 ".stagingkub/builds/r.json", "build/out", ".git/HEAD"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    found = image_inputs.list_files(tmp_path, tmp_path / ".stagingkub")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["pom.xml", "src/App.java"]


def test_in_git_tracked_and_unignored_files_count(tmp_path):
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True, timeout=30)
    (tmp_path / ".gitignore").write_text("*.log\n")
    for name in ("pom.xml", "debug.log", "new.txt"):
        (tmp_path / name).write_text(name)
    subprocess.run(["git", "-C", str(tmp_path), "add", "pom.xml"], check=True, timeout=30)
    found = image_inputs.list_files(tmp_path, tmp_path / ".stagingkub")
    assert [p.name for p in found] == [".gitignore", "new.txt", "pom.xml"]


def test_an_executable_bit_is_an_input(tmp_path):
    script = tmp_path / "mvnw"
    script.write_text("#!/bin/sh\n")
    before = image_inputs.file_digest(script)
    script.chmod(0o755)
    assert image_inputs.file_digest(script) != before


def test_dockerfile_base_images_skip_stages_and_scratch(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM --platform=$BUILDPLATFORM maven:3.9 AS build\nRUN mvn package\n"
        "FROM build AS test\nFROM eclipse-temurin:21-jre\nFROM scratch\n"
    )
    assert image_inputs.base_images(dockerfile) == ["maven:3.9", "eclipse-temurin:21-jre"]


def spec(tmp_path, maven_args=()) -> ImageSpec:
    return ImageSpec(name="rhdemo-api", version="1", strategy="mvnw", app_dir=tmp_path,
                     maven_args=tuple(maven_args), dockerfile=tmp_path / "Dockerfile",
                     context=tmp_path, registry_host="localhost", registry_port=5000)  # fmt: skip


@pytest.mark.parametrize(
    ("parent", "builder"),
    [
        ("3.4.1", "paketobuildpacks/builder-noble-java-tiny:latest"),
        ("3.3.5", "paketobuildpacks/builder-jammy-base:latest"),
    ],
)
def test_spring_boots_default_builder_follows_its_version(tmp_path, parent, builder):
    (tmp_path / "pom.xml").write_text(
        POM.format(version="", properties="").replace("3.4.1", parent)
    )
    assert image_inputs.spring_boot_builder(spec(tmp_path)) == builder


def test_a_configured_builder_wins(tmp_path):
    text = POM.format(version="", properties="").replace(
        "</project>",
        "<build><plugins><plugin><configuration><image><builder>my/builder:1"
        "</builder></image></configuration></plugin></plugins></build></project>",
    )
    (tmp_path / "pom.xml").write_text(text)
    assert image_inputs.spring_boot_builder(spec(tmp_path)) == "my/builder:1"
    argument = ["-Dspring-boot.build-image.builder=other/builder:2"]
    assert image_inputs.spring_boot_builder(spec(tmp_path, argument)) == "other/builder:2"


DIGEST = "sha256:" + "a" * 64


def release(status="deployed", config=None) -> dict:
    """The shape of `helm status -o json` (helm's pkg/release Release)."""
    return {"name": "rhdemo", "info": {"status": status}, "version": 3,
            "config": config if config is not None else wanted()}  # fmt: skip


def wanted(digest=DIGEST, chart="sha256:" + "c" * 64, replicas=1) -> dict:
    return {"replicaCount": replicas,
            "rhdemo": {"image": {"repository": "localhost:5000/rhdemo-api",
                                 "tag": "1.1.0-SNAPSHOT", "digest": digest}},
            "stagingkub": {"chartDigest": chart}}  # fmt: skip


def test_an_upgrade_runs_only_when_what_would_be_sent_differs():
    assert upgrade_reason(release(), wanted()) == ""
    assert upgrade_reason(release(), wanted(), force=True) == "--force-deploy"
    assert upgrade_reason(None, wanted()) == "the release is not installed"
    assert upgrade_reason(release("failed"), wanted()) == "the release is failed"
    assert upgrade_reason(release(), wanted("sha256:" + "b" * 64)) == "changed: the image digest"
    assert upgrade_reason(release(), wanted(chart="sha256:" + "d" * 64)) == "changed: the chart"
    assert upgrade_reason(release(), wanted(replicas=2)) == "changed: the values"
    assert upgrade_reason(release(config={}), wanted()).startswith("changed: the image digest")


def test_values_merge_as_helm_merges_its_f_files():
    base = {"rhdemo": {"env": {"A": "1"}, "image": {"tag": "x"}}, "list": [1, 2]}
    extra = {"rhdemo": {"image": {"tag": "y", "digest": DIGEST}}, "list": [3]}
    assert merge_values(base, extra) == {
        "rhdemo": {"env": {"A": "1"}, "image": {"tag": "y", "digest": DIGEST}},
        "list": [3],
    }


def test_the_generated_values_carry_the_digest_and_the_chart_digest():
    text = image_values("localhost:5000/rhdemo-api", "0123", "", DIGEST, "sha256:" + "c" * 64)
    assert f'    digest: "{DIGEST}"' in text and 'tag: "0123"' in text
    assert "stagingkub:\n  chartDigest:" in text


def test_a_relative_chart_keeps_its_dot_slash():
    assert chart_argument(Path("helm/rhdemo")) == "./helm/rhdemo"
    assert chart_argument(Path("../charts/rhdemo")) == "../charts/rhdemo"
    assert chart_argument(Path("/opt/charts/rhdemo")) == "/opt/charts/rhdemo"

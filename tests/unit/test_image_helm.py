"""Image and Helm command builders, and the checks before a build (no daemon)."""

import dataclasses
from pathlib import Path

import pytest

from stagingkub.errors import StateError
from stagingkub.release.helm import (
    ReleaseSpec,
    helm_major,
    image_values,
    pending_message,
    port_forward_hint,
    upgrade_argv,
)
from stagingkub.release.image import ImageSpec, build_argv, login_argv, push_argv, tag_argv
from stagingkub.release.image_ops import check_build_inputs
from stagingkub.runner import Runner
from tests.support.commands import expect_commands

IMAGE = ImageSpec(
    name="rhdemo-api",
    version="1.1.0-SNAPSHOT",
    strategy="mvnw",
    app_dir=Path("/src/app"),
    maven_args=("-DskipTests",),
    dockerfile=Path("/src/app/Dockerfile"),
    context=Path("/src/app"),
    registry_host="localhost",
    registry_port=5000,
    local_url="http://127.0.0.1:5000",
)
RELEASE = ReleaseSpec(
    release="rhdemo",
    chart=Path("/repo/helm/rhdemo"),
    namespace="rhdemo-staging",
    context="kind-rhdemo",
    timeout="5m",
    wait=True,
    values_files=(Path("/repo/.stagingkub/rhdemo/values-rhdemo.yaml"),),
    repository="localhost:5000/rhdemo-api",
    tag="1.1.0-SNAPSHOT",
)


def test_mvnw_build_is_the_guides_command_in_the_app_directory():
    argv, cwd = build_argv(IMAGE)
    assert argv == [
        "./mvnw",
        "-B",
        "clean",
        "spring-boot:build-image",
        "-Dspring-boot.build-image.imageName=rhdemo-api:1.1.0-SNAPSHOT",
        "-Dspring-boot.build-image.pullPolicy=IF_NOT_PRESENT",
        "-DskipTests",
    ]
    assert cwd == Path("/src/app")


@pytest.mark.parametrize(
    ("setting", "maven_args", "policy"),
    [
        ("always", (), "ALWAYS"),
        ("never", (), "NEVER"),
        ("if_not_present", ("-Dspring-boot.build-image.pullPolicy=ALWAYS",), "ALWAYS"),
    ],
)
def test_the_builder_pull_policy_is_a_setting_and_an_explicit_argument_wins(
    setting, maven_args, policy
):
    spec = dataclasses.replace(IMAGE, builder_pull=setting, maven_args=maven_args)
    argv, _ = build_argv(spec)
    policies = [a for a in argv if a.startswith("-Dspring-boot.build-image.pullPolicy=")]
    assert policies == [f"-Dspring-boot.build-image.pullPolicy={policy}"]


def test_an_app_at_the_repository_root_builds_without_cd():
    argv, cwd = build_argv(dataclasses.replace(IMAGE, app_dir=Path(".")))
    assert argv[0] == "./mvnw" and cwd is None


def test_dockerfile_build():
    spec = ImageSpec(**{**IMAGE.__dict__, "strategy": "dockerfile"})
    argv, cwd = build_argv(spec)
    assert " ".join(argv) == (
        "docker build -t rhdemo-api:1.1.0-SNAPSHOT -f /src/app/Dockerfile /src/app"
    )
    assert cwd is None


def test_tag_push_login():
    assert " ".join(tag_argv(IMAGE)) == (
        "docker tag rhdemo-api:1.1.0-SNAPSHOT localhost:5000/rhdemo-api:1.1.0-SNAPSHOT"
    )
    assert " ".join(push_argv(IMAGE)) == "docker push localhost:5000/rhdemo-api:1.1.0-SNAPSHOT"
    login = login_argv(IMAGE, "ci")
    assert login == ["docker", "login", "localhost:5000", "--username", "ci", "--password-stdin"]
    assert IMAGE.is_local_registry and IMAGE.registry_url == "http://127.0.0.1:5000"


def test_external_registry_references():
    harbor = dataclasses.replace(
        IMAGE, registry_host="harbor.example.com", registry_port=443, external=True,
        project="team/staging", local_url="",
    )  # fmt: skip
    assert not harbor.is_local_registry
    assert harbor.registry_url == "https://harbor.example.com"
    assert harbor.remote_ref == "harbor.example.com/team/staging/rhdemo-api:1.1.0-SNAPSHOT"
    assert login_argv(harbor, "ci")[2] == "harbor.example.com"
    on_port = dataclasses.replace(harbor, registry_port=8443, project="")
    assert on_port.remote_ref == "harbor.example.com:8443/rhdemo-api:1.1.0-SNAPSHOT"
    assert on_port.registry_url == "https://harbor.example.com:8443"


@pytest.mark.parametrize(
    ("version", "flag"), [("v3.16.2", "--atomic"), ("v4.1.4", "--rollback-on-failure")]
)
def test_rollback_flag_follows_the_installed_helm(version, flag):
    argv = upgrade_argv(RELEASE, helm_major(version))
    assert " ".join(argv) == (
        "helm upgrade --install rhdemo /repo/helm/rhdemo --namespace rhdemo-staging "
        "--kube-context kind-rhdemo --create-namespace "
        f"-f /repo/.stagingkub/rhdemo/values-rhdemo.yaml --wait --timeout 5m {flag}"
    )


def test_no_wait_when_settings_say_so():
    spec = ReleaseSpec(**{**RELEASE.__dict__, "wait": False})
    assert "--wait" not in upgrade_argv(spec, 4)


@pytest.mark.parametrize("text", ["", "version.BuildInfo", "vX"])
def test_unreadable_helm_version(text):
    assert helm_major(text) is None


@pytest.mark.parametrize("tag", ["0123", "20240101", "true", "null", "1e3", "1.1.0-SNAPSHOT"])
def test_generated_values_quote_the_tag(tag):
    assert f'tag: "{tag}"' in image_values("localhost:5000/rhdemo-api", tag)


@pytest.mark.parametrize(
    ("status", "revision", "fix"),
    [
        ("pending-install", 1, "helm uninstall rhdemo --namespace rhdemo-staging"),
        ("pending-upgrade", 4, "helm rollback rhdemo 3 --namespace rhdemo-staging"),
        ("pending-rollback", 2, "helm rollback rhdemo 1"),
    ],
)
def test_stuck_release_message_gives_the_recovery_command(status, revision, fix):
    message = pending_message(RELEASE, status, revision)
    assert status in message and fix in message and "--kube-context kind-rhdemo" in message


def test_port_forward_hint_uses_the_charts_full_name():
    assert port_forward_hint(RELEASE) == (
        "kubectl --context kind-rhdemo -n rhdemo-staging port-forward svc/rhdemo 8080:80"
    )
    other = ReleaseSpec(**{**RELEASE.__dict__, "release": "staging"})
    assert other.fullname == "staging-rhdemo"


def make_app(tmp_path, pom=True, mvnw=True, executable=True):
    if pom:
        (tmp_path / "pom.xml").write_text("<project/>")
    if mvnw:
        (tmp_path / "mvnw").write_text("#!/bin/sh\n")
        (tmp_path / "mvnw").chmod(0o755 if executable else 0o644)
    return ImageSpec(
        **{**IMAGE.__dict__, "app_dir": tmp_path, "dockerfile": tmp_path / "Dockerfile"}
    )


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ({"pom": False}, "No pom.xml in"),
        ({"mvnw": False}, "mvn wrapper:wrapper"),
        ({"executable": False}, "chmod +x"),
    ],
)
def test_build_inputs_are_checked_with_the_fix(tmp_path, layout, words):
    with pytest.raises(StateError, match=words.replace("+", r"\+")):
        check_build_inputs(make_app(tmp_path, **layout))


def test_dockerfile_strategy_needs_the_dockerfile(tmp_path):
    spec = ImageSpec(**{**make_app(tmp_path).__dict__, "strategy": "dockerfile"})
    with pytest.raises(StateError, match="No Dockerfile at"):
        check_build_inputs(spec)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    check_build_inputs(spec)


def test_a_harbor_robot_account_reaches_docker_login_as_one_argument():
    import shlex
    import subprocess

    argv = login_argv(IMAGE, "robot$rhdemo+ci")
    line = shlex.join(argv)  # what the runner echoes and runs
    echoed = subprocess.run(["bash", "-c", f"printf '%s\\n' {line[len('docker '):]}"],
                            capture_output=True, text=True, timeout=10).stdout  # fmt: skip
    assert echoed.splitlines() == argv[1:]


def test_image_prebuild_runs_in_the_app_directory_before_docker_build(tmp_path):
    from stagingkub.release import image_ops

    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY target/app.jar /app.jar\n")
    spec = dataclasses.replace(IMAGE, strategy="dockerfile", app_dir=tmp_path,
                               dockerfile=tmp_path / "Dockerfile", context=tmp_path,
                               files_dir=tmp_path / ".stagingkub",
                               prebuild=("./mvnw", "-q", "package"))  # fmt: skip

    class NoImage:
        def image(self, reference):
            return None

    prebuild = f"cd {tmp_path} && ./mvnw -q package"
    build = f"docker build -t rhdemo-api:1.1.0-SNAPSHOT -f {tmp_path}/Dockerfile {tmp_path}"
    with expect_commands(prebuild, build, dry=True) as c:
        image_ops.build(Runner(c), spec, NoImage(), checked=True)
    assert c.calls == [prebuild, build]

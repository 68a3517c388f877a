"""invoke deploy on the real engine and registry, with the mvnw, kind, kubectl and helm
STAND-INS and the kind-node STAND-IN: the helm stand-in renders the chart with the real
`helm template` and pulls each rendered image inside the node, as kubelet would.
"""

import json
from pathlib import Path

import pytest

from tests.support.stack import docker, echoed, fetch

pytestmark = pytest.mark.integration


def image(s, version) -> str:
    return f"{s.base['image']['name']}:{version}"


def remote(s, version) -> str:
    return f"localhost:{s.port}/{image(s, version)}"


def build_line(s, version) -> str:
    return (
        f"cd {s.app_dir} && ./mvnw -B clean spring-boot:build-image "
        f"-Dspring-boot.build-image.imageName={image(s, version)} "
        "-Dspring-boot.build-image.pullPolicy=IF_NOT_PRESENT"
    )


def helm_line(s, flag="--rollback-on-failure") -> str:
    values = s.files_dir / s.cluster / "values-rhdemo.yaml"
    return (
        "helm upgrade --install rhdemo ./helm/rhdemo --namespace rhdemo-staging "
        f"--kube-context kind-{s.cluster} --create-namespace -f {values} --wait --timeout 2m "
        f"{flag}"
    )


def blob_uploads(s) -> int:
    """Blob uploads the registry saw, counted from its own log."""
    logs = docker("logs", s.name)
    return (logs.stdout + logs.stderr).count("POST /v2/")


def test_standin_pipeline_on_a_clean_host_in_the_guides_order(app_stack):
    s = app_stack
    result = s.invoke("deploy", "--version", "1.1.0-SNAPSHOT")
    assert result.returncode == 0, result.stderr
    commands = echoed(result.stdout)
    kinds = [line.split()[0] + " " + line.split()[1] for line in commands]
    assert kinds == [
        "docker volume", "docker run",  # registry.create
        "env KIND_EXPERIMENTAL_DOCKER_NETWORK=" + s.network, "docker network",  # cluster.create
        "docker exec", "docker cp", "kubectl --context",
        "cd " + str(s.app_dir),  # image.build
        "docker tag", "docker push",  # image.push
        "helm upgrade",  # deploy.helm
    ]  # fmt: skip
    assert build_line(s, "1.1.0-SNAPSHOT") in commands
    assert commands[-1] == helm_line(s)
    digest = docker("inspect", "-f", "{{index .RepoDigests 0}}", remote(s, "1.1.0-SNAPSHOT"))
    assert f"Deployed {remote(s, '1.1.0-SNAPSHOT')}@{digest.stdout.strip().split('@')[1]}" in (
        result.stderr
    )
    assert "port-forward svc/rhdemo 8080:80" in result.stderr
    assert fetch(f"{s.cluster}-control-plane", remote(s, "1.1.0-SNAPSHOT")).returncode == 0


def test_standin_an_unchanged_redeploy_runs_nothing_and_a_new_version_runs_its_steps(app_stack):
    s = app_stack
    assert s.invoke("deploy", "--version", "1.0.0").returncode == 0
    unchanged = s.invoke("deploy", "--version", "1.0.0")
    assert unchanged.returncode == 0, unchanged.stderr
    assert echoed(unchanged.stdout) == []
    assert "build skipped" in unchanged.stderr and "push skipped" in unchanged.stderr
    assert "helm upgrade skipped" in unchanged.stderr
    newer = s.invoke("deploy", "--version", "1.0.1")
    assert newer.returncode == 0, newer.stderr
    assert echoed(newer.stdout) == [
        build_line(s, "1.0.1"),
        f"docker tag {image(s, '1.0.1')} {remote(s, '1.0.1')}",
        f"docker push {remote(s, '1.0.1')}",
        helm_line(s),
    ]


def test_standin_an_unchanged_second_push_transfers_nothing(app_stack):
    s = app_stack
    assert s.invoke("deploy", "--version", "2.0.0").returncode == 0
    before = blob_uploads(s)
    again = s.invoke("image.push", "--version", "2.0.0")
    assert again.returncode == 0, again.stderr
    assert echoed(again.stdout) == []
    assert blob_uploads(s) == before


def test_standin_skip_build_deploys_an_existing_local_image(app_stack):
    s = app_stack
    assert s.invoke("image.build", "--version", "3.0.0").returncode == 0
    result = s.invoke("deploy", "--version", "3.0.0", "--skip-build")
    assert result.returncode == 0, result.stderr
    assert not any("mvnw" in line for line in echoed(result.stdout))
    assert f"docker push {remote(s, '3.0.0')}" in echoed(result.stdout)


def test_standin_helm_3_gets_atomic(app_stack):
    s = app_stack
    result = s.invoke("deploy", "--version", "1.0.0", STANDIN_HELM_VERSION="v3.16.2")
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout)[-1] == helm_line(s, "--atomic")


def test_standin_a_stuck_release_is_refused_with_the_recovery_command(app_stack):
    s = app_stack
    assert s.invoke("deploy", "--version", "1.0.0").returncode == 0
    state = Path(s.extra_env["STANDIN_STATE"]) / "helm" / f"kind-{s.cluster}" / "rhdemo-staging"
    (state / "rhdemo.json").write_text(
        json.dumps({"name": "rhdemo", "version": 3, "info": {"status": "pending-upgrade"}})
    )
    result = s.invoke("deploy.helm", "--version", "1.0.0")
    assert result.returncode == 1
    assert "stuck in pending-upgrade" in result.stderr
    assert f"helm rollback rhdemo 2 --namespace rhdemo-staging --kube-context kind-{s.cluster}" in (
        result.stderr
    )
    assert not any(line.startswith("helm upgrade") for line in echoed(result.stdout))


def test_standin_a_failed_rollout_shows_events_describe_and_logs(app_stack):
    s = app_stack
    assert s.invoke("deploy", "--version", "1.0.0").returncode == 0
    result = s.invoke("deploy.helm", "--version", "1.0.0", "--force-deploy", STANDIN_HELM_FAIL="1")
    assert result.returncode == 1
    commands = echoed(result.stdout)
    kubectl = f"kubectl --context kind-{s.cluster} -n rhdemo-staging"
    assert commands[1:] == [
        f"{kubectl} get events --sort-by=.lastTimestamp",
        f"{kubectl} describe pod rhdemo-7d9f8b6c5-x2x4z",
        f"{kubectl} logs rhdemo-7d9f8b6c5-x2x4z --all-containers --tail 50",
    ]
    assert "Failed to pull image" in result.stdout and "ImagePullBackOff" in result.stdout
    assert "Command failed with exit code 1: helm upgrade --install rhdemo" in result.stderr


def test_standin_deploy_helm_refuses_a_tag_the_registry_lacks_before_any_helm_command(app_stack):
    s = app_stack
    assert s.invoke("deploy", "--version", "1.0.0").returncode == 0
    log_before = s.standin_log.read_text()
    result = s.invoke("deploy.helm", "--version", "9.9.9-never-pushed")
    assert result.returncode == 1
    assert f"{remote(s, '9.9.9-never-pushed')}" in result.stderr
    assert "invoke image.push --version 9.9.9-never-pushed" in result.stderr
    added = s.standin_log.read_text()[len(log_before) :]
    assert '"helm"' not in added and echoed(result.stdout) == []


def test_standin_dry_run_prints_the_whole_script_and_runs_nothing(app_stack):
    s = app_stack
    result = s.invoke("--dry", "deploy", "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    for line in (
        build_line(s, "1.0.0"),
        f"docker tag {image(s, '1.0.0')} {remote(s, '1.0.0')}",
        f"docker push {remote(s, '1.0.0')}",
        helm_line(s),
    ):
        assert line in out
    assert out.index(build_line(s, "1.0.0")) < out.index(helm_line(s))
    assert not s.exists()
    assert docker("image", "inspect", image(s, "1.0.0"), check=False).returncode != 0
    log = s.standin_log.read_text() if s.standin_log.exists() else ""
    assert "mvnw" not in log and '"upgrade"' not in log and '"create"' not in log


@pytest.mark.parametrize("version", ["1.0;id", "$(id)", "-x", "", "a" * 129, "é1"])
def test_standin_an_invalid_version_is_rejected_before_anything_runs(app_stack, version):
    result = app_stack.invoke("deploy", "--version", version)
    assert result.returncode == 1 and "not a valid image tag" in result.stderr
    assert result.stdout == ""
    assert not app_stack.exists()
    assert not app_stack.standin_log.exists()


def test_standin_dockerfile_strategy(app_stack):
    s = app_stack
    (s.app_dir / "Dockerfile").write_text("FROM scratch\nCOPY pom.xml /pom.xml\n")
    s.base["image"]["strategy"] = "dockerfile"
    s.write_profile()
    result = s.invoke("image.build", "--version", "4.0.0")
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout) == [
        f"docker build -t {image(s, '4.0.0')} -f {s.app_dir / 'Dockerfile'} {s.app_dir}"
    ]
    assert docker("image", "inspect", image(s, "4.0.0"), check=False).returncode == 0
    docker("rmi", image(s, "4.0.0"))


def test_standin_registry_credentials_log_in_through_stdin_never_the_command_line(
    app_stack, tmp_path
):
    s = app_stack
    assert s.invoke("image.build", "--version", "5.0.0").returncode == 0
    assert s.invoke("registry.create").returncode == 0
    s.write_profile(username="ci")
    secret = "s3cret-for-the-test"
    docker_config = str(tmp_path / "docker-config")  # never the user's ~/.docker
    result = s.invoke(
        "image.push", "--version", "5.0.0",
        STAGINGKUB_REGISTRY_PASSWORD=secret, DOCKER_CONFIG=docker_config,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert echoed(result.stdout)[0] == (
        f"docker login localhost:{s.port} --username ci --password-stdin"
    )
    assert secret not in result.stdout + result.stderr
    assert s.tags(s.base["image"]["name"]) == ["5.0.0"]


def test_standin_a_username_without_password_is_explained(app_stack):
    s = app_stack
    assert s.invoke("image.build", "--version", "5.0.1").returncode == 0
    s.write_profile(username="ci")
    result = s.invoke("image.push", "--version", "5.0.1")
    assert result.returncode == 1
    assert "STAGINGKUB_REGISTRY_PASSWORD" in result.stderr and echoed(result.stdout) == []


def test_standin_a_secret_never_appears_in_any_output_or_written_file(app_stack):
    s = app_stack
    secret = "Sup3r-s3cret-pw"
    s.write_profile(username="ci")
    env = {"STAGINGKUB_REGISTRY_PASSWORD": secret, "DOCKER_CONFIG": str(s.tmp / "docker-cfg")}
    runs = [
        s.invoke("diag.config", **env),
        s.invoke("--dry", "deploy", "--version", "6.0.0", **env),
        s.invoke("deploy", "--version", "6.0.0", **env),
        s.invoke("diag.all", "--version", "6.0.0", "--format", "json", **env),
        s.invoke("image.push", "--version", "no-such-version", **env),  # an error path
    ]
    assert runs[2].returncode == 0, runs[2].stderr
    for run in runs:
        assert secret not in run.stdout + run.stderr
    dry = runs[1].stdout
    assert 'printf %s "$STAGINGKUB_REGISTRY_PASSWORD" | docker login' in dry
    written = [p for p in s.files_dir.rglob("*") if p.is_file()]
    assert written and not any(secret in p.read_text(errors="replace") for p in written)
    log = s.standin_log.read_text()
    assert secret not in log  # no command line carried it

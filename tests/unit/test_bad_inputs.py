"""Bad inputs through the real entry point, as a Jenkins job parameter would bring them: each
is refused with one paragraph, a non-zero exit, no traceback, and no external command runs
(PATH holds only recording stand-ins).

The matrix runs in-process through invoke's own Program (tests/support/entry.py: the same
argv parsing and tasks.py as `python -m invoke`); SUBPROCESS_CASES repeat a handful of
them as real `python -m invoke` processes, so the two stay the same.
"""

import pytest

from tests.support.entry import run_in_process as invoke
from tests.support.entry import run_subprocess

SHELLISH = ["a;b", "$(id)", "`id`", "a b", "a\nb", "-x", "é"]
LONG_TAG = "a" * 129
FIELDS = {
    # setting variable (the same checks serve flags, .env and YAML): values it must refuse
    "STAGINGKUB_REGISTRY_NAME": [*SHELLISH, "", "..", "x" * 129],
    "STAGINGKUB_REGISTRY_IMAGE": [*SHELLISH, "", "..", "Registry:2", f"registry:{LONG_TAG}"],
    "STAGINGKUB_REGISTRY_PORT": [*SHELLISH, "", "0", "65536", ".."],
    "STAGINGKUB_REGISTRY_BIND_ADDRESS": [*SHELLISH, "", "..", "localhost"],
    "STAGINGKUB_REGISTRY_VOLUME": [*SHELLISH, "", ".."],
    "STAGINGKUB_REGISTRY_NETWORK": [*SHELLISH, "", ".."],
    "STAGINGKUB_CLUSTER_NAME": [*SHELLISH, "", "..", "Rhdemo"],
    "STAGINGKUB_IMAGE_NAME": [*SHELLISH, "", "..", "Rhdemo-api"],
    "STAGINGKUB_DEPLOY_RELEASE": [*SHELLISH, "", "..", "Rhdemo"],
    "STAGINGKUB_DEPLOY_NAMESPACE": [*SHELLISH, "", "..", "Rhdemo"],
    "STAGINGKUB_DEPLOY_CHART": [*SHELLISH, "", "..", "../charts/rhdemo"],
    # image.app_dir may hold '..': ../rhdemo-api beside this repository is the usual layout
    "STAGINGKUB_IMAGE_APP_DIR": [*SHELLISH, ""],
    "STAGINGKUB_REGISTRY_MODE": [*SHELLISH, "", "remote"],
    "STAGINGKUB_REGISTRY_PROJECT": [*SHELLISH, "..", "Team"],
    "STAGINGKUB_REGISTRY_USERNAME": [*SHELLISH, "a:b", "$(id)x", "'ci'"],
    "STAGINGKUB_REGISTRY_TLS": ["maybe", "$(id)"],
    "STAGINGKUB_REGISTRY_CA_FILE": [*SHELLISH],
    "STAGINGKUB_CLUSTER_MODE": [*SHELLISH, "", "k3d"],
    "STAGINGKUB_IMAGE_SCAN": [*SHELLISH, "", "sometimes"],
    "STAGINGKUB_IMAGE_SCAN_SEVERITY": [*SHELLISH, "", "high", "HIGH;CRITICAL"],
    "STAGINGKUB_DEPLOY_PULL_SECRET": [*SHELLISH, "..", "Pull_Secret"],
}
CASES = [(name, value) for name, values in FIELDS.items() for value in values]


def refused(result, log) -> None:
    assert result.returncode == 1
    assert result.stderr.startswith("stagingkub: "), result.stderr
    assert "Traceback" not in result.stderr
    assert "\n\n" not in result.stderr.strip()  # one paragraph
    assert not log.exists(), log.read_text()


@pytest.fixture
def recording_path(tmp_path):
    log = tmp_path / "calls.log"
    for tool in ("docker", "kind", "kubectl", "helm", "java", "mvnw", "sh", "bash", "curl"):
        stand_in = tmp_path / tool
        stand_in.write_text(f'#!/bin/sh\necho {tool} "$@" >> {log}\n')
        stand_in.chmod(0o755)
    return str(tmp_path), log


@pytest.mark.parametrize(("variable", "value"), CASES)
def test_a_bad_setting_is_refused_before_any_command(recording_path, variable, value):
    path, log = recording_path
    result = invoke("deploy", "--version", "1.0.0", env={variable: value}, path=path)
    refused(result, log)
    assert variable in result.stderr


@pytest.mark.parametrize("version", [*SHELLISH, "", LONG_TAG, "..", ".hidden"])
@pytest.mark.parametrize("task", ["deploy", "image.build", "image.push", "deploy.helm"])
def test_a_bad_version_is_refused_before_any_command(recording_path, task, version):
    path, log = recording_path
    refused(invoke(task, "--version", version, path=path), log)


@pytest.mark.parametrize("value", ["a;b", "$(id)", "`id`", "a b", "a\nb", "-x", "é", ".."])
def test_a_bad_profile_name_is_refused(recording_path, value):
    path, log = recording_path
    refused(invoke("deploy", "--version", "1.0.0", "--profile", value, path=path), log)


@pytest.mark.parametrize(
    ("key", "value"), [("port", "'5000;id'"), ("name", "'a b'"), ("image", "'Registry:2'")]
)
def test_yaml_and_env_file_values_are_checked_alike(recording_path, tmp_path, key, value):
    path, log = recording_path
    profile = tmp_path / "bad.yaml"
    profile.write_text(f"registry:\n  {key}: {value}\n")
    refused(invoke("deploy", "--version", "1.0.0", "--profile", str(profile), path=path), log)
    env_file = tmp_path / "bad.env"
    env_file.write_text(f"STAGINGKUB_REGISTRY_{key.upper()}={value}\n")
    result = invoke(
        "deploy", "--version", "1.0.0", env={"STAGINGKUB_ENV_FILE": str(env_file)}, path=path
    )
    refused(result, log)
    assert "bad.env:1" in result.stderr


SUBPROCESS_CASES = [
    ({"STAGINGKUB_REGISTRY_PORT": "5000;id"}, ["deploy", "--version", "1.0.0"]),
    ({"STAGINGKUB_IMAGE_NAME": "$(id)"}, ["deploy", "--version", "1.0.0"]),
    ({}, ["deploy", "--version", "a;b"]),
    ({}, ["deploy.helm", "--version", "-x"]),
    ({}, ["deploy", "--version", "1.0.0", "--profile", "a b"]),
    ({}, ["registry.prune", "--keep", "-1", "--yes"]),
]


@pytest.mark.parametrize(("env", "args"), SUBPROCESS_CASES)
def test_the_real_process_refuses_alike(recording_path, env, args):
    path, log = recording_path
    real = run_subprocess(*args, env=env, path=path)
    refused(real, log)
    inside = invoke(*args, env=env, path=path)
    assert (inside.returncode, inside.stderr) == (real.returncode, real.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["registry.prune", "--keep", "-1", "--yes"],
        ["registry.prune", "--keep", "$(id)", "--yes"],
        ["registry.prune", "--keep", "2", "--repo", "a;b", "--yes"],
        ["registry.prune", "--keep", "2", "--repo", "Upper", "--yes"],
        ["image.scan", "--version", "a;b"],
    ],
)
def test_bad_maintenance_flags_are_refused_before_any_command(recording_path, args):
    path, log = recording_path
    refused(invoke(*args, path=path), log)

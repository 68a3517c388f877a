"""The real entry point (`invoke ...` as a subprocess) for what needs no Docker engine."""

import sys

import pytest

from stagingkub.settings import ROOT
from tests.support.entry import run_subprocess as invoke

TASKS = [
    "cache.create",
    "cache.ls",
    "cache.purge",
    "cache.status",
    "cache.warm",
    "cluster.create",
    "cluster.delete",
    "cluster.status",
    "deploy.helm",
    "deploy.pipeline",
    "dev",
    "diag.all",
    "diag.cache",
    "diag.config",
    "diag.containerd",
    "diag.disk",
    "diag.docker",
    "diag.images",
    "diag.insecure",
    "diag.k8s",
    "diag.network",
    "diag.pull",
    "diag.registry",
    "diag.tools",
    "image.build",
    "image.promote",
    "image.push",
    "image.scan",
    "registry.create",
    "registry.gc",
    "registry.logs",
    "registry.ls",
    "registry.prune",
    "registry.purge",
    "registry.restart",
    "registry.start",
    "registry.status",
    "registry.stop",
]


def test_list_shows_every_task_with_a_one_line_help():
    result = invoke("--list")
    assert result.returncode == 0, result.stderr
    listed = {}
    for line in result.stdout.splitlines():
        parts = line.split(None, 1)
        if line.startswith("  ") and not line.startswith("   ") and parts:
            listed[parts[0]] = parts[1] if len(parts) > 1 else ""
    assert sorted(listed) == TASKS
    assert all(help_text.strip() for help_text in listed.values())


def test_every_task_has_a_docstring_and_every_flag_has_help():
    import tasks

    for name in tasks.ns.task_names:
        task = tasks.ns[name]
        assert task.__doc__ and task.__doc__.strip(), name
        for argument in task.get_arguments():
            assert argument.help, f"{name} --{argument.name} has no help"


def test_diag_config_shows_values_sources_and_masks_secrets():
    result = invoke(
        "diag.config",
        env={"STAGINGKUB_REGISTRY_PASSWORD": "s3cret-value", "STAGINGKUB_REGISTRY_PORT": "5123"},
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "5123" in rows["registry.port"]
    assert "environment STAGINGKUB_REGISTRY_PORT" in rows["registry.port"]
    assert "config/defaults.yaml:" in rows["registry.name"]
    assert "****" in rows["registry.password"]
    assert "s3cret-value" not in result.stdout + result.stderr


def test_diag_config_profile_flag(tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("cluster:\n  name: other\n")
    result = invoke("diag.config", "--profile", str(profile))
    assert result.returncode == 0, result.stderr
    assert f"profile: {profile}" in result.stdout
    assert "other" in next(line for line in result.stdout.splitlines() if "cluster.name" in line)


def test_a_settings_error_is_one_paragraph_without_traceback(tmp_path):
    profile = tmp_path / "bad.yaml"
    profile.write_text("registry:\n  prot: 5001\n")
    result = invoke("diag.config", "--profile", str(profile))
    assert result.returncode == 1
    assert result.stderr.startswith("stagingkub: ")
    assert "bad.yaml:2" in result.stderr and "registry.port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["registry.create", "--name", "x;touch /tmp/pwned"],
        ["registry.create", "--port", "$(id)"],
        ["registry.create", "--image", "`id`"],
        ["registry.purge", "--yes", "--volume", "../etc"],
        ["registry.logs", "--tail", "5;id"],
    ],
)
def test_bad_input_runs_no_external_command(tmp_path, args):
    """A PATH of recording stand-ins proves nothing is executed."""
    log = tmp_path / "calls.log"
    for tool in ("docker", "sh", "bash"):
        stand_in = tmp_path / tool
        stand_in.write_text(f'#!/bin/sh\necho {tool} "$@" >> {log}\n')
        stand_in.chmod(0o755)
    result = invoke(*args, path=str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert not log.exists()


def test_jenkinsfile_calls_only_tasks_that_exist():
    import re

    import tasks

    text = (ROOT / "Jenkinsfile").read_text()
    called = set(re.findall(r"uv run invoke ([a-z.]+)", text))
    assert called >= {"registry.create", "cluster.create", "image.build", "image.push",
                      "image.promote"}  # fmt: skip
    assert called <= set(tasks.ns.task_names)
    assert "--password" not in text.replace("--password-stdin", "")


def test_all_missing_tools_are_named_at_once(tmp_path):
    result = invoke("deploy", "--version", "1.0.0", path=str(tmp_path))
    assert result.returncode == 1
    for tool in ("docker", "kind", "kubectl", "helm"):
        assert tool in result.stderr
    assert "Traceback" not in result.stderr


def test_env_and_generated_files_are_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored and "/.stagingkub/" in ignored


@pytest.mark.parametrize("no_bytecode", ["", "1"])
def test_runs_keep_the_tools_bytecode_unless_the_user_says_not_to(tmp_path, no_bytecode):
    """invoke turns bytecode writing off by default, which made every run compile the tool
    from source again; PYTHONDONTWRITEBYTECODE (or -B) still turns it off."""
    env = {"PYTHONPYCACHEPREFIX": str(tmp_path), "PYTHONDONTWRITEBYTECODE": no_bytecode}
    result = invoke("diag.config", env=env)
    assert result.returncode == 0, result.stderr
    written = {path.name for path in tmp_path.rglob("stagingkub/*.pyc")}
    if no_bytecode:
        assert written == set()
    else:
        major, minor = sys.version_info[:2]
        assert f"settings.cpython-{major}{minor}.pyc" in written, written

"""A recognisable secret, set only in the environment, never appears anywhere it could leak.

Every task runs (and the long ones under --dry too) against a registry with TLS
and htpasswd auth, with the kind, kubectl and helm STAND-INS and a recording
`docker` wrapper (the real docker, its argv logged). The password, its
`user:password` base64 and the pull secret's base64 must not appear in any
output, any command line, the JUnit report, or a tracked file.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stagingkub.settings import ROOT
from tests.support.stack import RUN_ID, Stack, docker, free_port

pytestmark = pytest.mark.integration

SECRET = f"Zq7-sweep-{RUN_ID}-5c1b"  # made at run time: no file holds it unless we leak it
HUB_USER = f"hubuser{RUN_ID}"  # the Docker Hub login of the docker.io mirror, also secret
HUB_SECRET = f"Hb4-sweep-{RUN_ID}-9e0d"
PROMOTE_SECRET = f"Pr0-sweep-{RUN_ID}-3a7f"  # image.promote's target login


def forms(host: str) -> list[str]:
    credentials = base64.b64encode(f"ci:{SECRET}".encode()).decode()
    config = json.dumps({"auths": {host: {"auth": credentials}}}, separators=(",", ":"))
    hub = base64.b64encode(f"{HUB_USER}:{HUB_SECRET}".encode()).decode()
    target = base64.b64encode(f"ci:{PROMOTE_SECRET}".encode()).decode()
    return [SECRET, credentials, base64.b64encode(config.encode()).decode(), HUB_USER,
            HUB_SECRET, hub, PROMOTE_SECRET, target]  # fmt: skip


def record_docker(s: Stack) -> str:
    """A `docker` first on PATH that logs its argv, then runs the real one."""
    log = s.tmp / "docker-argv.log"
    real = subprocess.run(["sh", "-c", "command -v docker"], capture_output=True, text=True)
    wrapper = s.tmp / "bin" / "docker"
    wrapper.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real.stdout.strip()} "$@"\n'
    )
    wrapper.chmod(0o755)
    return str(log)


def runs_of_every_task(s: Stack) -> list[list[str]]:
    junit = str(s.tmp / "diag.xml")
    diag = ["diag.config", "diag.tools", "diag.docker", "diag.registry", "diag.network",
            "diag.containerd", "diag.k8s", "diag.disk", "diag.insecure", "diag.cache"]  # fmt: skip
    return [
        ["--dry", "deploy", "--version", "1.0.0"],
        ["deploy", "--version", "1.0.0"],
        ["registry.create"], ["registry.status"], ["registry.ls"], ["registry.logs", "--tail", "5"],
        ["registry.restart"], ["registry.stop"], ["registry.start"],
        ["cluster.create"], ["cluster.status"], ["--dry", "cluster.create"],
        ["image.build", "--version", "1.0.1"], ["image.scan", "--version", "1.0.1"],
        ["image.push", "--version", "1.0.1"], ["--dry", "image.push", "--version", "1.0.2"],
        ["deploy.helm", "--version", "1.0.1"], ["--dry", "deploy.helm", "--version", "1.0.1"],
        ["diag.images", "--version", "1.0.1"], ["diag.pull", "--version", "1.0.1"],
        *[[name] for name in diag],
        ["diag.all", "--version", "1.0.1", "--format", "json"],
        ["diag.all", "--version", "1.0.1", "--junit", junit],
        ["registry.prune", "--keep", "1"], ["registry.prune", "--keep", "1", "--yes"],
        ["registry.gc"], ["--dry", "registry.gc"], ["registry.gc", "--yes"],
        ["image.push", "--version", "no-such-version"],  # an error path
        ["cache.create"], ["--dry", "cache.create", "--recreate"], ["cache.status"],
        ["cache.ls"], ["cache.warm"], ["cache.purge"], ["--dry", "cache.purge"],
        ["cache.purge", "--yes"],
        ["--dry", "dev", "--version", "1.0.1"],  # a loop: under --dry it only refuses
        ["--dry", "image.promote", "--version", "1.0.1", "--to", str(promote_target(s))],
        ["image.promote", "--version", "1.0.1", "--to", str(promote_target(s)), "--unverified"],
        ["registry.purge"], ["--dry", "registry.purge"], ["cluster.delete"],
        ["registry.purge", "--yes"], ["cluster.delete", "--yes"],
    ]  # fmt: skip


def promote_target(s: Stack) -> Path:
    """A profile whose external registry (nothing listens there) logs in with its own
    STAGINGKUB_PROMOTE_PASSWORD: image.promote's error path and its --dry line."""
    path = s.tmp / "promote-target.yaml"
    path.write_text(f"registry:\n  mode: external\n  host: 127.0.0.2\n  port: {free_port()}\n"
                    f"  username: ci\ncluster:\n  name: {s.cluster}\n  files_dir: "
                    f"'{s.files_dir}'\n")  # fmt: skip
    return path


def add_hub_mirror(s: Stack) -> None:
    """A docker.io mirror logging in with the Docker Hub credentials, its upstream a
    registry on the test network (a proxy does not start without its upstream)."""
    s.make_network()
    upstream = f"{s.prefix}-upstream"
    docker("run", "-d", "--name", upstream, "--network", s.network, *s.label_args(), s.image)
    mirror = f"{{upstream: docker.io, remote_url: 'http://{upstream}:5000', port: {free_port()}}}"
    s.base["cache"] = {"mirrors": f"[{mirror}]", "prefix": f"{s.prefix}-cache", "image": s.image}


def task_names() -> set[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "invoke", "--list", "--list-format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    tree = json.loads(listed.stdout)
    return {task["name"] for task in tree["tasks"]} | {
        f"{collection['name']}.{task['name']}"
        for collection in tree["collections"]
        for task in collection["tasks"]
    }


def test_a_secret_in_the_environment_never_appears_in_any_output_of_any_task(app_stack):
    s = app_stack
    s.extra_env.update(
        STAGINGKUB_REGISTRY_PASSWORD=SECRET,
        DOCKER_CONFIG=str(s.tmp / "docker-config"),
        STAGINGKUB_CACHE_DOCKERHUB_USERNAME=HUB_USER,
        STAGINGKUB_CACHE_DOCKERHUB_PASSWORD=HUB_SECRET,
        STAGINGKUB_PROMOTE_USERNAME="ci",
        STAGINGKUB_PROMOTE_PASSWORD=PROMOTE_SECRET,
    )
    add_hub_mirror(s)
    s.write_profile(tls=True, auth=True, username="ci", docker_certs_dir=str(s.tmp / "certs"))
    docker_log = record_docker(s)
    leaks = forms(f"localhost:{s.port}")
    ran = set()
    for args in runs_of_every_task(s):
        result = s.invoke(*args)
        name = next(a for a in args if not a.startswith("-"))
        ran.add("deploy.pipeline" if name == "deploy" else name)
        if args[:2] == ["deploy", "--version"]:
            assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr, args
        for leak in leaks:
            assert leak not in result.stdout + result.stderr, (args, leak)
    assert ran == task_names()  # every task, so a new one cannot slip past this test
    where = {
        "command lines (docker)": Path(docker_log).read_text(),
        "command lines (kind, kubectl, helm)": s.standin_log.read_text(),
        "JUnit report": (s.tmp / "diag.xml").read_text(),
    }
    for place, text in where.items():
        assert not [leak for leak in leaks if leak in text], place
    tracked = subprocess.run(["git", "grep", "-F", "-l", SECRET], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert tracked.stdout == ""
    tracked = subprocess.run(["git", "grep", "-F", "-l", PROMOTE_SECRET], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert tracked.stdout == ""
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    paths = [ROOT / line[3:] for line in changed.stdout.splitlines()]
    assert not [p for p in paths if p.is_file() and SECRET in p.read_text(errors="replace")]

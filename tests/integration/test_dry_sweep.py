"""`invoke --dry TASK` changes nothing, for every task: the real engine records what happens
(its /events stream lists every container, network, volume and image change, and each
exec with its command), the registry is read before and after (tags and digests), and so
are the tool's generated files, the app's files and the kind/kubectl/helm STAND-INS'
mutating calls. A deployed stack, with a pull-through mirror configured but not created."""

import json
import time

import docker as docker_sdk
import httpx
import pytest

from tests.support.stack import free_port

pytestmark = pytest.mark.integration

VERSION = "1.0.0"
TASKS = [
    ["registry.create"], ["registry.start"], ["registry.stop"], ["registry.restart"],
    ["registry.purge", "--yes"], ["registry.prune", "--keep", "1", "--yes"],
    ["registry.gc", "--yes"], ["cluster.create"], ["cluster.delete", "--yes"],
    ["cache.create"], ["cache.purge", "--yes"], ["cache.warm", "--version", VERSION],
    ["image.build", "--version", "2.0.0"], ["image.push", "--version", "2.0.0"],
    ["image.build", "--version", VERSION, "--force-build"],
    ["deploy", "--version", "2.0.0"], ["deploy.helm", "--version", VERSION, "--force-deploy"],
    ["dev", "--version", VERSION], ["diag.all", "--version", VERSION],
    ["diag.pull", "--version", VERSION], ["registry.ls"], ["registry.status"],
    ["cluster.status"], ["cache.status"], ["cache.ls"],
]  # fmt: skip
# Engine events that change nothing: reading a container's files, exec of a read.
QUIET = {"archive-path", "exec_create", "exec_start", "exec_die", "exec_detach", "top"}
READ_EXECS = ("ctr version", "containerd --version", "sh -c if command -v curl")


def registry_state(s) -> dict | None:
    """{repository:tag: digest}, None while the registry does not answer."""
    try:
        catalog = httpx.get(f"{s.url}/v2/_catalog", timeout=5).json()["repositories"]
    except httpx.HTTPError:
        return None
    state = {}
    for repository in catalog:
        for tag in httpx.get(f"{s.url}/v2/{repository}/tags/list", timeout=5).json()["tags"] or []:
            head = httpx.head(f"{s.url}/v2/{repository}/manifests/{tag}", timeout=5, headers={
                "Accept": "application/vnd.docker.distribution.manifest.v2+json"})  # fmt: skip
            state[f"{repository}:{tag}"] = head.headers.get("Docker-Content-Digest")
    return state


def files(*folders) -> dict:
    found = (path for folder in folders for path in sorted(folder.rglob("*")))
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in found if p.is_file()}


def changes(client, windows: list[tuple[int, int]], prefix: str) -> list[list[str]]:
    """The engine's events within each (since, until) window (ns) that touch this test's
    objects and change them: one events call for all windows (the API counts whole seconds
    and waits for an `until` still ahead: asked wider, once, then sorted into windows)."""
    found: list[list[str]] = [[] for _ in windows]
    since, until = windows[0][0], windows[-1][1]
    for event in client.events(since=since // 10**9 - 1, until=until // 10**9 + 2, decode=True):
        at = int(event.get("timeNano", 0))
        action = event.get("Action", "")
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        read = action.split(":")[0] in QUIET and (
            not action.startswith("exec_create") or action.split(": ", 1)[1].startswith(READ_EXECS)
        )
        if prefix not in json.dumps(attributes) or read:
            continue
        for index, (start, end) in enumerate(windows):
            if start <= at <= end:
                found[index].append(f"{event.get('Type')} {action} {attributes.get('name', '')}")
    return found


def mutating_calls(s, since: int) -> list[list[str]]:
    lines = s.standin_log.read_text().splitlines()[since:] if s.standin_log.exists() else []
    calls = [json.loads(line) for line in lines]
    reads = {"version", "status", "history", "get", "template", "lint", "logs", "describe"}

    def read(call: list[str]) -> bool:
        return bool(
            set(call[1:3]) & reads or (call[1:2] == ["--context"] and set(call[3:6]) & reads)
        )

    return [c for c in calls if c[0] in ("kind", "kubectl", "helm") and not read(c)]


def test_every_task_under_dry_changes_nothing(deployed):
    s = deployed
    mirror = f"{{upstream: docker.io, remote_url: http://127.0.0.1:9, port: {free_port()}}}"
    s.base["cache"] = {"mirrors": f"[{mirror}]", "prefix": f"{s.prefix}-cache"}
    s.write_profile()
    client = docker_sdk.from_env(timeout=30)
    runs = [watched(s, "--dry", *task) for task in TASKS]
    events = changes(client, [window for window, _ in runs], s.prefix)
    for task, (_, found), engine in zip(TASKS, runs, events, strict=True):
        assert engine + found == [], task
    for tag in ("0.1.0", "0.2.0"):  # older tags than the deployed one, for prune to plan
        s.push(tag, repository=s.base["image"]["name"])
    printed = {task: s.invoke("--dry", task, *args).stdout for task, *args in (
        ("cache.warm", "--version", VERSION), ("registry.prune", "--keep", "1"))}  # fmt: skip
    assert (
        f"docker pull 127.0.0.1:{s.base['cache']['mirrors'].split('port: ')[1][:-2]}/"
        in (printed["cache.warm"])
    )  # the pulls that would warm the mirror, run by the script
    assert "curl -fsS -X DELETE " in printed["registry.prune"]


def watched(s, *args: str) -> tuple[tuple[int, int], list[str]]:
    """Run `invoke ARGS`: its time window (for the engine's events) and what else it
    changed: stand-in mutations, the registry's tags and digests, the generated and app files."""
    before = (registry_state(s), files(s.files_dir, s.app_dir))
    log_length = len(s.standin_log.read_text().splitlines())
    since = time.time_ns()
    result = s.invoke(*args, timeout=180)
    until = time.time_ns()
    assert "Traceback" not in result.stderr, (args, result.stderr)
    assert result.returncode in (0, 1), (args, result.returncode, result.stderr)
    found = [" ".join(call) for call in mutating_calls(s, log_length)]
    if registry_state(s) != before[0]:
        found.append("the registry's tags or digests")
    if files(s.files_dir, s.app_dir) != before[1]:
        found.append("files")
    return (since, until), found


def observed(s, client, *args: str) -> list[str]:
    """What running `invoke ARGS` changed, the engine's events included."""
    window, found = watched(s, *args)
    return changes(client, [window], s.prefix)[0] + found


def test_the_sweep_sees_what_the_same_tasks_change_without_dry(deployed):
    s = deployed
    client = docker_sdk.from_env(timeout=30)
    stopped = observed(s, client, "registry.stop")
    assert any("stop" in c for c in stopped), stopped
    assert any("start" in c for c in observed(s, client, "registry.start"))
    pushed = observed(s, client, "deploy", "--version", "2.0.0")
    assert "the registry's tags or digests" in pushed and any("upgrade" in c for c in pushed)
    assert "files" in pushed  # the build record and the generated values
    assert any("destroy" in c for c in observed(s, client, "registry.purge", "--yes"))

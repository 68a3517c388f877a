"""bench: stagingkub measured side by side with the guide's raw commands, on the real engine.

    uv run python bench/run.py                 # full size, 7 repetitions, prints a table
    uv run python bench/run.py --size tiny     # the smoke size the tests run

It prepares its own registry, seeded repositories and a stand-in cluster (the kind,
kubectl, helm and mvnw STAND-INS of tests/support, the kind-node STAND-IN with real
containerd), under its own names and free ports, labelled, and removes them after.
Medians and ratios, not single times: these machines are noisy. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from cache_pull import cache_pull  # noqa: E402
from dev_loop import dev_rows  # noqa: E402
from promote import promote_rows  # noqa: E402
from seed import seed  # noqa: E402

from tests.support import images  # noqa: E402
from tests.support.stack import (  # noqa: E402
    LABELS,
    RUN_ID,
    Stack,
    add_app,
    cleanup_run,
    docker,
    install_standins,
)

SIZES = {
    "full": {
        "reps": 7,
        "repos": 100,
        "tags": 20,
        "layer_bytes": 16 << 20,
        "files": 10_000,
        "promote_bytes": 500 << 20,
        "promote_reps": 3,
        "quiet": 30.0,
    },
    "tiny": {
        "reps": 1,
        "repos": 3,
        "tags": 2,
        "layer_bytes": 256 << 10,
        "files": 200,
        "promote_bytes": 4 << 20,
        "promote_reps": 1,
        "quiet": 2.0,
    },
}
VERSION = "1.0.0"
HEAVY = ("docker", "httpx", "ruamel", "dotenv")
CHECKS = (
    "tools",
    "docker",
    "registry",
    "network",
    "containerd",
    "images",
    "pull",
    "k8s",
    "disk",
    "insecure",
)


@dataclass
class Row:
    scenario: str
    ours: float
    baseline: float | None
    ratio: float | None
    budget: str
    passed: bool
    note: str = ""


def bench_env(stack: Stack) -> dict:
    """The stack's environment, writing .pyc files as a user's machine does (a session
    may set PYTHONDONTWRITEBYTECODE, which makes every run compile from source)."""
    env = stack.env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def seconds(argv: list[str], env: dict, check: bool = True) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed: {result.stdout[-500:]} {result.stderr[-500:]}"
        )
    return elapsed


def median(argv: list[str], env: dict, reps: int, check: bool = True) -> float:
    seconds(argv, env, check=False)  # warm-up: caches (.pyc, settings) as on a second run
    return statistics.median(seconds(argv, env, check) for _ in range(reps))


def paired(
    first: list[str], second: list[str], env: dict, reps: int, check: bool = True
) -> tuple[float, float]:
    """Medians of two commands run alternately, so that the shared machine's drift (seen
    here: start-up moving by 0.1 s between minutes) weighs on both alike."""
    seconds(first, env, check=False)
    seconds(second, env, check=False)
    a, b = [], []
    for _ in range(reps):
        a.append(seconds(first, env, check))
        b.append(seconds(second, env, check))
    return statistics.median(a), statistics.median(b)


def invoke(*args: str) -> list[str]:
    return [sys.executable, "-m", "invoke", *args]


def startup(stack: Stack, reps: int) -> tuple[list[Row], float]:
    env = bench_env(stack)
    ours, base = paired(invoke("--list"), [sys.executable, "-c", "import invoke"], env, reps)
    times = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "invoke", "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    loaded = sorted(
        {
            line.split("|")[-1].strip().split(".")[0]
            for line in times.stderr.splitlines()
            if line.split("|")[-1].strip().split(".")[0] in HEAVY
        }
    )
    return [
        Row(
            "start-up: invoke --list vs import invoke",
            ours,
            base,
            ours / base,
            "<= 1.5x",
            ours / base <= 1.5,
        ),
        Row(
            "start-up: heavy imports in invoke --list",
            float(len(loaded)),
            None,
            None,
            "0 of " + ", ".join(HEAVY),
            not loaded,
            ", ".join(loaded) or "none",
        ),
    ], ours


def converged(stack: Stack, reps: int, start: float) -> list[Row]:
    """Each converged task against `invoke --list` measured alongside it (start is unused:
    the start-up of another minute is not the start-up of this one)."""
    env = bench_env(stack)
    registry, start = paired(invoke("registry.create"), invoke("--list"), env, reps)
    cluster, cluster_start = paired(invoke("cluster.create"), invoke("--list"), env, reps)
    externals = sum(  # the stand-in calls a converged cluster.create makes (its preflight,
        median(argv, env, reps)  # the API probe, the ConfigMap read); nodes come from labels
        for argv in (
            ["kind", "version"],
            ["kubectl", "version", "--client", "-o", "json"],
            ["kubectl", "--context", f"kind-{stack.cluster}", "-n", "kube-public", "get",
             "configmap", "local-registry-hosting", "-o", "json", "--request-timeout=10s"],
            ["kubectl", "--context", f"kind-{stack.cluster}", "get", "--raw", "/readyz",
             "--request-timeout=5s"],
        )
    )  # fmt: skip
    cluster_own = cluster - externals
    return [
        Row(
            "converged registry.create",
            registry,
            start,
            registry / start,
            "<= start-up + 0.150 s",
            registry - start <= 0.150,
            f"overhead {registry - start:+.3f} s",
        ),
        Row(
            "converged cluster.create (minus its kind/kubectl stand-in calls)",
            cluster_own,
            cluster_start,
            cluster_own / cluster_start,
            "<= start-up + 0.150 s",
            cluster_own - cluster_start <= 0.150,
            f"total {cluster:.3f} s, its kind/kubectl calls {externals:.3f} s",
        ),
    ]


def diag(stack: Stack, reps: int, start: float) -> list[Row]:
    env = bench_env(stack)
    everything = median(invoke("diag.all", "--version", VERSION), env, reps)
    singles = {
        name: median(
            invoke(f"diag.{name}", *(["--version", VERSION] if name in ("images", "pull") else [])),
            env,
            reps,
            check=False,
        )
        for name in CHECKS
    }
    slowest = max(singles, key=singles.get)
    rows = [
        Row(
            "diag.all healthy vs its slowest single check",
            everything,
            singles[slowest],
            everything / singles[slowest],
            "<= 1.5x",
            everything / singles[slowest] <= 1.5,
            f"slowest: diag.{slowest}",
        )
    ]
    timeout = 3.0
    pid = int(stack.inspect("{{.State.Pid}}"))
    os.kill(pid, signal.SIGSTOP)  # the registry accepts connections and never answers
    try:
        dead = seconds(
            invoke("diag.all"), {**env, "STAGINGKUB_DIAG_TIMEOUT": str(timeout)}, check=False
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    limit = timeout + start + 1.0
    rows.append(
        Row(
            "diag.all with a hung registry",
            dead,
            None,
            None,
            f"<= diag.timeout {timeout:g} s + start-up + 1 s",
            dead <= limit,
        )
    )
    return rows


def curl_sequential(url: str) -> float:
    """The guide's way: one curl per request, one after the other."""
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    started = time.perf_counter()

    def curl(path: str, *extra: str) -> str:
        return subprocess.run(
            ["curl", "-s", *extra, url + path],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout

    for repository in json.loads(curl("/v2/_catalog?n=1000"))["repositories"]:
        for tag in json.loads(curl(f"/v2/{repository}/tags/list"))["tags"] or []:
            curl(f"/v2/{repository}/manifests/{tag}", "-H", f"Accept: {accept}")
    return time.perf_counter() - started


def registry_ls(stack: Stack, reps: int, repos: int, tags: int) -> list[Row]:
    written = seed(stack.url, repos, tags)
    ours = median(invoke("registry.ls"), bench_env(stack), reps)
    base = statistics.median(curl_sequential(stack.url) for _ in range(min(reps, 2)))
    note = f"{repos} repositories x {tags} tags ({written} seeded)"
    if shutil.which("skopeo"):
        note += "; skopeo present but not compared"
    else:
        note += "; skopeo not installed here"
    return [
        Row(
            f"registry.ls vs sequential curl ({written} tags)",
            ours,
            base,
            base / ours,
            ">= 5x faster",
            base / ours >= 5,
            note,
        )
    ]


def blob_uploads(stack: Stack) -> int:
    logs = docker("logs", stack.name)
    return (logs.stdout + logs.stderr).count("POST /v2/")


def repush(stack: Stack, reps: int) -> list[Row]:
    before = blob_uploads(stack)
    ours = median(invoke("image.push", "--version", VERSION), bench_env(stack), reps)
    uploads = blob_uploads(stack) - before
    return [
        Row(
            "unchanged re-push (image.push)",
            ours,
            None,
            None,
            "< 1 s and 0 blob uploads",
            ours < 1.0 and uploads == 0,
            f"{uploads} blob uploads seen by the registry",
        )
    ]


TIMER = """#!/bin/sh
start=$(date +%s%N)
PATH="$BENCH_ORIG_PATH" "{real}" "$@"
rc=$?
echo "{name} $(( $(date +%s%N) - start )) $1 $2 $start" >> "$BENCH_TIMING_LOG"
exit $rc
"""


def timed_env(stack: Stack) -> tuple[dict, Path]:
    """The stack's environment with every external command (docker, kind, kubectl, helm,
    the app's mvnw) behind a wrapper that logs its name, time, first two arguments and
    start (ns since the epoch)."""
    timed = stack.tmp / "timed-bin"
    timed.mkdir(exist_ok=True)
    env = bench_env(stack)
    for name in ("docker", "kind", "kubectl", "helm"):
        real = shutil.which(name, path=env["PATH"])
        (timed / name).write_text(TIMER.format(real=real, name=name))
        (timed / name).chmod(0o755)
    mvnw = stack.app_dir / "mvnw"
    if not (stack.app_dir / "mvnw.real").exists():
        mvnw.rename(stack.app_dir / "mvnw.real")
        mvnw.write_text(TIMER.format(real=stack.app_dir / "mvnw.real", name="mvnw"))
        mvnw.chmod(0o755)
    log = stack.tmp / "timing.log"
    env = {
        **env,
        "PATH": f"{timed}{os.pathsep}{env['PATH']}",
        "BENCH_ORIG_PATH": env["PATH"],
        "BENCH_TIMING_LOG": str(log),
    }
    return env, log


def commands_in(log: Path) -> tuple[float, dict[str, int]]:
    """(seconds spent in external commands, how many builds, pushes and upgrades ran)."""
    lines = [[*line.split(), "", ""] for line in log.read_text().splitlines()]
    spent = sum(int(words[1]) for words in lines) / 1e9
    counted = {
        "builds": sum(w[0] == "mvnw" or (w[0] == "docker" and w[2] == "build") for w in lines),
        "pushes": sum(w[0] == "docker" and w[2] == "push" for w in lines),
        "upgrades": sum(w[0] == "helm" and w[2] == "upgrade" for w in lines),
    }
    return spent, counted


def unchanged_redeploy(stack: Stack, reps: int) -> list[Row]:
    """The daily loop with nothing changed: start-up + 1 s, and no build, push or upgrade."""
    env, log = timed_env(stack)
    seconds(invoke("deploy", "--version", VERSION), env)  # the wrappers changed the app: build
    log.write_text("")
    ours, start = paired(invoke("deploy", "--version", VERSION), invoke("--list"), env, reps)
    _, counted = commands_in(log)
    ran = sum(counted.values())
    return [
        Row(
            "unchanged re-deploy (invoke deploy, same inputs)",
            ours,
            start,
            ours / start,
            "<= start-up + 1 s; 0 builds, pushes, upgrades",
            ours - start <= 1.0 and ran == 0,
            f"overhead {ours - start:+.3f} s; " + ", ".join(f"{n} {k}" for k, n in counted.items()),
        )
    ]


def changed_redeploy(stack: Stack, reps: int) -> list[Row]:
    """A source file changes before each deploy: its time beyond the external commands
    (the build, the push, helm...) it has to run."""
    env, log = timed_env(stack)
    source = stack.app_dir / "src" / "App.java"
    source.parent.mkdir(exist_ok=True)
    overheads, totals, ran = [], [], []
    for rep in range(reps + 1):
        source.write_text(f"class App {{ int version = {rep}; }}\n")
        log.write_text("")
        total = seconds(invoke("deploy", "--version", VERSION), env)
        spent, counted = commands_in(log)
        if rep:  # the first one warms up
            totals.append(total)
            overheads.append(total - spent)
            ran.append(counted)
    ours = statistics.median(overheads)
    every = all(c["builds"] and c["pushes"] and c["upgrades"] for c in ran)
    return [
        Row(
            "changed re-deploy overhead (total minus external commands)",
            ours,
            None,
            None,
            "< 1 s; a build, push and upgrade each time",
            ours < 1.0 and every,
            f"total {statistics.median(totals):.3f} s",
        )
    ]


def machine() -> dict:
    server = docker("version", "--format", "{{.Server.Version}}", check=False).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "docker": server,
        "platform": platform.platform(),
    }


def markdown(rows: list[Row]) -> str:
    lines = [
        "| scenario | ours (s) | baseline (s) | ratio | budget | pass | note |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in rows:
        base = f"{r.baseline:.3f}" if r.baseline is not None else "-"
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        lines.append(
            f"| {r.scenario} | {r.ours:.3f} | {base} | {ratio} | {r.budget} | "
            f"{'yes' if r.passed else 'NO'} | {r.note} |"
        )
    return "\n".join(lines)


def prepare(tmp: Path) -> Stack:
    import docker as docker_sdk

    docker_sdk.from_env().ping()
    image = images.registry_image("registry:2", f"stagingkub-test/registry:{RUN_ID}", LABELS)
    node = f"stagingkub-test/kind-node:{RUN_ID}"
    images.build_node_image(node, LABELS)
    helm = shutil.which("helm")
    if helm is None:
        raise SystemExit("bench needs helm: `bash .ci/install-helm`")
    stack = add_app(install_standins(Stack(tmp=tmp, image=image), node, helm))
    result = subprocess.run(
        invoke("deploy", "--version", VERSION),
        cwd=ROOT,
        env=bench_env(stack),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"bench set-up (invoke deploy) failed:\n{result.stderr}")
    return stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--reps", type=int, help="repetitions per measurement (median)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    size = SIZES[args.size]
    reps = args.reps or size["reps"]
    import docker as docker_sdk

    with tempfile.TemporaryDirectory(prefix="stagingkub-bench-") as tmp:
        stack = None
        try:
            stack = prepare(Path(tmp))
            rows, start = startup(stack, reps)
            rows += converged(stack, reps, start)
            rows += diag(stack, reps, start)
            rows += repush(stack, reps)
            rows += unchanged_redeploy(stack, reps)
            rows += changed_redeploy(stack, reps)
            rows += registry_ls(stack, reps, size["repos"], size["tags"])
            rows += cache_pull(stack, reps, size["layer_bytes"], Row, bench_env(stack))
            rows += dev_rows(stack, reps, size["files"], size["quiet"], Row, timed_env)
            rows += promote_rows(
                stack, size["promote_bytes"], size["promote_reps"], Row, bench_env(stack)
            )
        finally:
            if stack is not None:
                stack.cleanup()
            cleanup_run(docker_sdk.from_env())
    report = {
        "machine": machine(),
        "size": args.size,
        "reps": reps,
        "results": [asdict(r) for r in rows],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(rows))
    print(f"\nmachine: {report['machine']}; JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench on a REAL kind cluster: the daily loop's figures with each external command's share.

    uv run nox -s kind_node                      # builds kind and a node image; prints both
    KIND=… NODE_IMAGE=… uv run python bench/real_cluster.py [--reps 3]

Rows (the demo app, config/demo.yaml's settings under the bench's own names and ports):
- deploy from nothing: registry, cluster, build, push, helm until the pod is Ready;
- unchanged re-deploy: the same inputs again (no build, push or upgrade);
- changed re-deploy: a page edited, then deploy until the new pod is Ready;
- `invoke dev`: a save to the new pod Ready.
Each with the time spent in kind, docker build, docker push, helm and kubectl (timed by
wrappers on PATH) and the kubelet's own pull time (its `Successfully pulled` event).
Writes bench/results-real.json. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from dev_loop import Dev  # noqa: E402
from real_stack import demo_cluster  # noqa: E402
from run import Row, machine, markdown, seconds, timed_env  # noqa: E402

from tests.e2e import real  # noqa: E402
from tests.support.stack import Stack  # noqa: E402

VERSION = "0.1.0"
NAMED_VERBS = {("docker", "build"), ("docker", "push"), ("helm", "upgrade")}


def shares(log: Path) -> dict[str, float]:
    """Seconds per external command (kind, docker build, docker push, helm upgrade, other
    helm, kubectl and docker calls), from the wrappers' log."""
    spent: dict[str, float] = {}
    for line in log.read_text().splitlines():
        name, ns, first = [*line.split(), "", ""][:3]
        label = f"{name} {first}" if (name, first) in NAMED_VERBS else name
        spent[label] = spent.get(label, 0.0) + int(ns) / 1e9
    return spent


def kubelet_pull(stack: Stack) -> float:
    """The last `Successfully pulled image … in 1.234s` the kubelet reported, in seconds."""
    events = real.kubectl(stack, "get", "events", "--sort-by=.lastTimestamp", check=False).stdout
    found = re.findall(r"Successfully pulled image .* in ([0-9.]+)(m?s)", events)
    if not found:
        return 0.0
    number, unit = found[-1]
    return float(number) / (1000 if unit == "ms" else 1)


def note(spent: dict[str, float], pull: float) -> str:
    parts = [f"{k} {v:.2f} s" for k, v in sorted(spent.items(), key=lambda kv: -kv[1])]
    return "; ".join([*parts, f"kubelet pull {pull:.2f} s"])


def timed_deploy(stack: Stack, env: dict, log: Path) -> tuple[float, str]:
    log.write_text("")
    started = time.perf_counter()
    seconds([sys.executable, "-m", "invoke", "deploy", "--version", VERSION], env)
    real.wait_ready_pod(stack, digest=real.registry_digest(stack, stack.demo_image, VERSION))
    return time.perf_counter() - started, note(shares(log), kubelet_pull(stack))


def change(stack: Stack, text: str) -> None:
    index = stack.app_dir / "www" / "index.html"
    index.write_text(index.read_text().replace("</body>", f"<p>{text}</p></body>", 1))


def rows(stack: Stack, reps: int) -> list[Row]:
    env, log = timed_env_demo(stack)
    total, why = timed_deploy(stack, env, log)
    found = [Row("real cluster: deploy from nothing (to the pod Ready)", total, None, None,
                 "measured", True, why)]  # fmt: skip
    unchanged = [timed_deploy(stack, env, log) for _ in range(reps)]
    median = statistics.median(t for t, _ in unchanged)
    found.append(Row("real cluster: unchanged re-deploy", median, None, None,
                     "no build, push, upgrade", True, unchanged[-1][1]))  # fmt: skip
    changed = []
    for rep in range(reps):
        change(stack, f"bench {rep}")
        changed.append(timed_deploy(stack, env, log))
    found.append(Row("real cluster: changed re-deploy (edit to the new pod Ready)",
                     statistics.median(t for t, _ in changed), None, None, "measured", True,
                     changed[-1][1]))  # fmt: skip
    return [*found, dev_row(stack, env, log, reps)]


def dev_row(stack: Stack, env: dict, log: Path, reps: int) -> Row:
    dev = Dev({**env}, "--logs=off")  # deploys 1.0.0 first
    try:
        dev.ran(1, timeout=600)
        times, why = [], ""
        for rep in range(reps):
            log.write_text("")
            started = time.perf_counter()
            change(stack, f"dev {rep}")
            dev.ran(rep + 2, timeout=600)
            digest = real.registry_digest(stack, stack.demo_image, "1.0.0")
            real.wait_ready_pod(stack, digest=digest)
            times.append(time.perf_counter() - started)
            why = note(shares(log), kubelet_pull(stack))
    finally:
        dev.stop()
    return Row("real cluster: invoke dev, a save to the new pod Ready", statistics.median(times),
               None, None, "measured", True, why)  # fmt: skip


def timed_env_demo(stack: Stack) -> tuple[dict, Path]:
    """timed_env for an app without mvnw (the demo app builds with docker)."""
    (stack.app_dir / "mvnw").write_text("#!/bin/sh\nexit 0\n")
    (stack.app_dir / "mvnw").chmod(0o755)
    return timed_env(stack)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results-real.json")
    args = parser.parse_args()
    with demo_cluster("stagingkub-bench-real-") as (stack, _tmp):
        found = rows(stack, args.reps)
    report = {"machine": machine(), "reps": args.reps, "results": [asdict(r) for r in found]}
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench scenario: an image pulled by the kind-node STAND-IN's containerd through the
docker.io mirror, cold (the mirror fetches it from the upstream and stores it) and warm
(served from the mirror's volume). The upstream is a registry on the same machine, so the
ratio understates what the cache saves against the internet: it measures the mirror."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.stack import LABELS, Stack, docker, free_port

ROOT = Path(__file__).resolve().parent.parent
LAYERS = 3


def build_layered(reference: str, layer_bytes: int) -> None:
    """A FROM scratch image of LAYERS random files, one layer each, labelled for clean-up."""
    with tempfile.TemporaryDirectory() as context:
        lines = ["FROM scratch"]
        for number in range(LAYERS):
            Path(context, f"layer{number}").write_bytes(os.urandom(layer_bytes))
            lines.append(f"COPY layer{number} /layer{number}")
        Path(context, "Dockerfile").write_text("\n".join(lines) + "\n")
        labels = [a for k, v in LABELS.items() for a in ("--label", f"{k}={v}")]
        docker("build", "-q", "-t", reference, *labels, context, timeout=300)


def start_upstream(stack: Stack) -> tuple[str, int]:
    name, port = f"{stack.prefix}-upstream", free_port()
    docker("run", "-d", "--name", name, "--network", stack.network,
           "-p", f"127.0.0.1:{port}:5000", *stack.label_args(), stack.image)  # fmt: skip
    return name, port


def pull_seconds(node: str, namespace: str, reference: str) -> float:
    """One `ctr content fetch` in a fresh containerd namespace (its own content records)."""
    started = time.perf_counter()
    docker("exec", node, "ctr", "-n", namespace, "content", "fetch", "--hosts-dir",
           "/etc/containerd/certs.d", reference, timeout=300)  # fmt: skip
    return time.perf_counter() - started


def wire_mirror(stack: Stack, upstream: str, env: dict) -> None:
    mirror = f"{{upstream: docker.io, remote_url: 'http://{upstream}:5000', port: {free_port()}}}"
    stack.base["cache"] = {"mirrors": f"[{mirror}]", "prefix": f"{stack.prefix}-cache",
                           "image": stack.image}  # fmt: skip
    stack.write_profile()
    for task in ("cache.create", "cluster.create"):  # the mirror, then every node's hosts.toml
        result = subprocess.run([sys.executable, "-m", "invoke", task], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"invoke {task} failed: {result.stderr[-800:]}")


def cache_pull(stack: Stack, reps: int, layer_bytes: int, row, env: dict) -> list:
    """Cold and warm pulls of a new image each repetition; medians and their ratio."""
    upstream, port = start_upstream(stack)
    wire_mirror(stack, upstream, {**env, **stack.env()})
    node = f"{stack.cluster}-control-plane"
    cold, warm = [], []
    for number in range(reps):
        path = f"library/{stack.prefix}-bench{number}"
        local = f"localhost:{port}/{path}:1"
        build_layered(local, layer_bytes)
        for _ in range(50):  # the upstream takes a moment to listen after `docker run`
            if docker("push", local, check=False, timeout=300).returncode == 0:
                break
        cold.append(pull_seconds(node, f"cold{number}", f"docker.io/{path}:1"))
        warm.append(pull_seconds(node, f"warm{number}", f"docker.io/{path}:1"))
        docker("rmi", local, check=False)
    cold_median, warm_median = statistics.median(cold), statistics.median(warm)
    size = LAYERS * layer_bytes / 2**20
    return [
        row(
            f"cache: cold vs warm pull through the docker.io mirror ({size:.0f} MiB image)",
            warm_median,
            cold_median,
            cold_median / warm_median,
            "warm faster than cold",
            warm_median < cold_median,
            f"cold {cold_median:.3f} s (upstream on this machine), warm {warm_median:.3f} s; "
            f"ratio = cold / warm",
        )
    ]

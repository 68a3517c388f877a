"""STAND-IN for kind (kind cannot run on these machines: no node images, no Kubernetes).

It does only what the tests need, with the real kind's arguments and labels:
`version`, `get clusters`, `get nodes --name`, `create cluster --name --config
[--image] --wait`, `delete cluster --name`. A "node" is a container of the
kind-node stand-in image (real containerd, busybox) named like kind's nodes,
on KIND_EXPERIMENTAL_DOCKER_NETWORK (default `kind`), whose
/etc/containerd/config.toml is `version = 2` plus the config's
containerdConfigPatches, as kind writes them.

Environment: STANDIN_NODE_IMAGE (required for create), STANDIN_LABELS
(k=v,... added to what it creates), STANDIN_LOG (calls appended as JSON lines),
STANDIN_KIND_VERSION (what `kind version` prints).

The kube contexts it sets (`Set kubectl context to "kind-<name>"`) are kept in
STANDIN_STATE/kubeconfig.json, which the kubectl stand-in reads, as kind writes
~/.kube/config; `export kubeconfig --name` writes one again, `delete cluster` removes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

CLUSTER_LABEL = "io.x-k8s.kind.cluster"
ROLE_LABEL = "io.x-k8s.kind.role"


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        sys.stderr.write(f"ERROR: docker {' '.join(args)}: {result.stderr}")
        sys.exit(1)
    return result


def extra_labels() -> list[str]:
    pairs = [p for p in os.environ.get("STANDIN_LABELS", "").split(",") if p]
    return [arg for pair in pairs for arg in ("--label", pair)]


def option(argv: list[str], name: str, default: str | None = None) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else default


def nodes(cluster: str) -> list[str]:
    output = docker(
        "ps", "-a", "--filter", f"label={CLUSTER_LABEL}={cluster}", "--format", "{{.Names}}"
    ).stdout
    return sorted(line for line in output.splitlines() if line)


def contexts(change: str = "", context: str = "") -> None:
    """Add (or remove) a context in the stand-in kubeconfig."""
    from pathlib import Path

    from standin_files import write  # the stand-ins' folder is on sys.path (run as scripts)

    path = Path(os.environ.get("STANDIN_STATE", tempfile.gettempdir()), "kubeconfig.json")
    known = set(json.loads(path.read_text())) if path.exists() else set()
    known = known | {context} if change == "add" else known - {context}
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, json.dumps(sorted(known)))


def export_kubeconfig(argv: list[str]) -> int:
    name = option(argv, "--name") or "kind"
    if not nodes(name):
        sys.stderr.write(
            f'ERROR: could not locate any control plane nodes for cluster named "{name}"\n'
        )
        return 1
    contexts("add", f"kind-{name}")
    print(f'Set kubectl context to "kind-{name}"')
    return 0


def get_clusters() -> int:
    output = docker(
        "ps", "-a", "--filter", f"label={CLUSTER_LABEL}",
        "--format", '{{.Label "' + CLUSTER_LABEL + '"}}',
    ).stdout  # fmt: skip
    names = sorted({line for line in output.splitlines() if line})
    if not names:
        sys.stderr.write("No kind clusters found.\n")
    for name in names:
        print(name)
    return 0


def create_cluster(argv: list[str]) -> int:
    from ruamel.yaml import YAML

    name = option(argv, "--name") or "kind"
    config = {}
    if "--config" in argv:
        with open(option(argv, "--config")) as handle:
            config = YAML(typ="safe").load(handle)
    if nodes(name):
        sys.stderr.write(
            "ERROR: failed to create cluster: node(s) already exist for a cluster with the "
            f'name "{name}"\n'
        )
        return 1
    network = os.environ.get("KIND_EXPERIMENTAL_DOCKER_NETWORK", "kind")
    if docker("network", "inspect", network, check=False).returncode != 0:
        docker("network", "create", *extra_labels(), network)
    roles = [n.get("role", "control-plane") for n in config.get("nodes") or [{}]]
    patches = config.get("containerdConfigPatches") or []
    containerd_config = "version = 2\n\n" + "\n".join(patches) + "\n"
    image = option(argv, "--image") or os.environ["STANDIN_NODE_IMAGE"]
    print(f'Creating cluster "{name}" ...')
    counts: dict[str, int] = {}
    created = []
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as handle:
        handle.write(containerd_config)
    for role in roles:
        counts[role] = counts.get(role, 0) + 1
        node = f"{name}-{role}" + (str(counts[role]) if counts[role] > 1 else "")
        docker(
            "create", "--name", node, "--hostname", node, "--network", network,
            "--label", f"{CLUSTER_LABEL}={name}", "--label", f"{ROLE_LABEL}={role}",
            *extra_labels(), image,
        )  # fmt: skip
        docker("cp", handle.name, f"{node}:/etc/containerd/config.toml")
        docker("start", node)
        created.append(node)
    os.unlink(handle.name)
    deadline = time.monotonic() + 30
    for node in created:
        while docker("exec", node, "ctr", "version", check=False).returncode != 0:
            if time.monotonic() > deadline:
                sys.stderr.write(f"ERROR: containerd in {node} did not start\n")
                return 1
            time.sleep(0.2)
    contexts("add", f"kind-{name}")
    print(f'Set kubectl context to "kind-{name}"')
    return 0


def delete_cluster(argv: list[str]) -> int:
    name = option(argv, "--name") or "kind"
    print(f'Deleting cluster "{name}" ...')
    for node in nodes(name):
        docker("rm", "-f", "-v", node)
    contexts("remove", f"kind-{name}")
    return 0


def main(argv: list[str]) -> int:
    if os.environ.get("STANDIN_LOG"):
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(json.dumps(["kind", *argv]) + "\n")
    if argv[:1] == ["version"]:
        print(os.environ.get("STANDIN_KIND_VERSION", "kind v0.27.0 go1.23.4 linux/amd64"))
        return 0
    if argv[:2] == ["get", "clusters"]:
        return get_clusters()
    if argv[:2] == ["get", "nodes"]:
        for node in nodes(option(argv, "--name") or "kind"):
            print(node)
        return 0
    if argv[:2] == ["create", "cluster"]:
        return create_cluster(argv)
    if argv[:2] == ["delete", "cluster"]:
        return delete_cluster(argv)
    if argv[:2] == ["export", "kubeconfig"]:
        return export_kubeconfig(argv)
    sys.stderr.write(f"kind stand-in: unsupported arguments {argv}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

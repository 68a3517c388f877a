"""STAND-IN for helm's cluster-facing commands (no Kubernetes API server runs here).

`template` and `lint` go to the real helm (STANDIN_REAL_HELM). `upgrade --install`
renders the chart with the real `helm template` (so values and the schema are
really checked), then does what kubelet would: pulls every rendered image inside
the cluster's control-plane node (kind-node stand-in) through its containerd
wiring. A render or pull failure fails the upgrade like a rollout that never
becomes ready, and leaves the events/pods/describe/logs the kubectl stand-in
shows. Releases are kept as JSON under STANDIN_STATE/helm/<context>/<namespace>/, in the shape
real helm 3 and 4 print for `helm status -o json` (the whole release object of
pkg/release: name, info, chart, config = the user-supplied values, manifest, version,
namespace). The Ready pod it leaves reports `imageID` as kubelet does on containerd
(`<repository>@<digest>`): the digest the reference pins, else what the registry
resolved the tag to when the stand-in pulled it.

A file STANDIN_STATE/helm-slow holding N makes the next upgrades wait N seconds with the
new revision stored as pending-upgrade (pending-install), as real helm stores it while it
waits. A SIGINT or SIGTERM then does what that helm version does: helm 3.7+ and 4 mark
the revision failed and, with --atomic / --rollback-on-failure, roll back to the previous
one (helm PR 9180); older helm 3 dies and leaves it pending (helm issue 10323).

Like the real one, every verb but template and lint asks the cluster's API first: with
the context's control-plane node stopped (or a kind context kubeconfig does not have) it
fails with helm's "Kubernetes cluster unreachable".

STANDIN_HELM_PULL=0 skips the pulls (an existing cluster whose nodes are not modelled).
STANDIN_HELM_VERSION sets `helm version` (v3.16.2 or v4.1.4): helm 4 refuses
--atomic, helm 3 refuses --rollback-on-failure, as the real ones do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from standin_files import write  # the stand-ins' folder is on sys.path (run as scripts)


def option(argv: list[str], *names: str) -> str | None:
    for name in names:
        if name in argv:
            return argv[argv.index(name) + 1]
    return None


def values_files(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg in ("-f", "--values")]


def real(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.environ["STANDIN_REAL_HELM"], *args], capture_output=True, text=True, timeout=120
    )


def release_file(context: str, namespace: str, release: str) -> Path:
    return Path(os.environ["STANDIN_STATE"]) / "helm" / context / namespace / f"{release}.json"


def canned(context: str, namespace: str, release: str, image: str, error: str) -> None:
    """What kubectl would show for a pod stuck pulling its image."""
    folder = Path(os.environ["STANDIN_STATE"]) / context / "canned"
    folder.mkdir(parents=True, exist_ok=True)
    pod = f"{release}-7d9f8b6c5-x2x4z"
    write(
        (folder / "events.txt"),
        "LAST SEEN   TYPE      REASON   OBJECT        MESSAGE\n"
        f'10s         Warning   Failed   pod/{pod}   Failed to pull image "{image}": {error}\n'
        f"10s         Warning   Failed   pod/{pod}   Error: ErrImagePull\n",
    )
    waiting = {"state": {"waiting": {"reason": "ImagePullBackOff"}}}
    pods = {"items": [{"metadata": {"name": pod}, "status": {
        "phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [waiting]}}]}  # fmt: skip
    write((folder / "pods.json"), json.dumps(pods))
    write(
        (folder / "describe.txt"),
        f"Name:         {pod}\nNamespace:    {namespace}\n"
        f"    State:          Waiting\n      Reason:       ImagePullBackOff\n",
    )
    write(
        (folder / "logs.txt"),
        f'Error from server (BadRequest): container "rhdemo-api" in pod "{pod}" is waiting '
        "to start: trying and failing to pull image\n",
    )


def resolved_digest(image: str) -> str:
    """What the registry holds for a reference: its pinned digest, else the tag's digest
    (a HEAD on the registry's published port, as the node's containerd resolved it)."""
    import urllib.request

    name, _, pinned = image.partition("@")
    if pinned:
        return pinned
    host, _, path = name.partition("/")
    repository, _, tag = path.rpartition(":")
    request = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.oci.image.index.v1+json, "
                 "application/vnd.oci.image.manifest.v1+json, "
                 "application/vnd.docker.distribution.manifest.v2+json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.headers.get("Docker-Content-Digest", "")
    except OSError:
        return ""


def healthy(context: str, release: str, images: list[str], revision: int) -> None:
    """What kubectl shows once the rollout is ready: one Ready pod per revision (a new pod
    template rolls a new pod), its image and imageID, normal events; and the previous
    revision's pod still listed, Ready, with its deletionTimestamp set, as the real kubelet
    keeps it through its grace period (seen on a real cluster: up to 30 s)."""
    folder = Path(os.environ["STANDIN_STATE"]) / context / "canned"
    folder.mkdir(parents=True, exist_ok=True)
    pod = f"{release}-{revision:x}f8b6c5-ready"
    leaving = _leaving(folder / "pods.json", pod)
    statuses = [{"name": "rhdemo-api", "ready": True, "restartCount": 0,
                 "image": image.split("@")[0],
                 "imageID": f"{image.split('@')[0].rsplit(':', 1)[0]}@{resolved_digest(image)}",
                 "state": {"running": {}}} for image in images]  # fmt: skip
    pods = {"items": [{"metadata": {"name": pod},
                       "spec": {"containers": [{"name": "rhdemo-api", "image": image}
                                               for image in images]},
                       "status": {"phase": "Running",
                                  "conditions": [{"type": "Ready", "status": "True"}],
                                  "containerStatuses": statuses}}]}  # fmt: skip
    pods["items"] += leaving
    write((folder / "pods.json"), json.dumps(pods))
    write(
        (folder / "events.txt"),
        "LAST SEEN   TYPE     REASON    OBJECT       MESSAGE\n"
        f"5s          Normal   Started   pod/{pod}   Started container rhdemo-api\n",
    )
    for stale in ("describe.txt", "logs.txt"):
        (folder / stale).unlink(missing_ok=True)


def _leaving(pods_file: Path, new_pod: str) -> list[dict]:
    """The Ready pods of the previous rollout, now being deleted (deletionTimestamp set)."""
    if not pods_file.exists():
        return []
    items = json.loads(pods_file.read_text()).get("items") or []
    leaving = [item for item in items if item["metadata"]["name"] != new_pod
               and not item["metadata"].get("deletionTimestamp")]  # fmt: skip
    for item in leaving:
        item["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z"
    return leaving


def merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def supplied_values(argv: list[str]) -> dict:
    """What `helm get values` shows: the -f files merged in order, then each --set (helm's
    strvals: a.b=c; digits become numbers, true/false booleans, as helm parses them)."""
    from ruamel.yaml import YAML

    merged: dict = {}
    for path in values_files(argv):
        merge(merged, json.loads(json.dumps(YAML(typ="safe").load(Path(path)) or {})))
    for assignment in (argv[i + 1] for i, arg in enumerate(argv) if arg == "--set"):
        key, _, text = assignment.partition("=")
        value = int(text) if text.isdigit() else {"true": True, "false": False}.get(text, text)
        for name in reversed(key.split(".")):
            value = {name: value}
        merge(merged, value)
    return merged


def chart_values(chart: str) -> dict:
    from ruamel.yaml import YAML

    return json.loads(json.dumps(YAML(typ="safe").load(Path(chart, "values.yaml")) or {}))


def get_values(argv: list[str]) -> int:
    """`helm get values REL [--revision N] [--all] -o json`: the user-supplied values; with
    --all the computed ones (the chart's values.yaml, stored in the release, coalesced with
    them, as helm's chartutil.CoalesceValues does)."""
    state = release_file(
        option(argv, "--kube-context") or "default",
        option(argv, "--namespace", "-n") or "default",
        argv[2],
    )
    if not state.exists():
        sys.stderr.write("Error: release: not found\n")
        return 1
    revision = option(argv, "--revision")
    if revision is not None:
        state = revision_file(state, int(revision))
        if not state.exists():
            sys.stderr.write("Error: release: not found\n")
            return 1
    stored = json.loads(state.read_text())
    config = stored.get("config") or {}
    if "--all" in argv:
        config = merge(json.loads(json.dumps((stored.get("chart") or {}).get("values") or {})),
                       config)  # fmt: skip
    print(json.dumps(config))
    return 0


def unreachable(argv: list[str]) -> str:
    """helm's error when the context's cluster does not answer (kube client's words), or ''."""
    from kubectl_standin import cluster_up, context_missing

    context = option(argv, "--kube-context") or "default"
    if context_missing(context):
        return f'Error: Kubernetes cluster unreachable: context "{context}" does not exist\n'
    if not cluster_up(context):
        return ('Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": '
                "dial tcp 127.0.0.1:6443: connect: connection refused\n")  # fmt: skip
    return ""


def upgrade(argv: list[str]) -> int:
    major = os.environ.get("STANDIN_HELM_VERSION", "v4.1.4").lstrip("v").split(".")[0]
    if major == "4" and "--atomic" in argv:
        sys.stderr.write("Error: unknown flag: --atomic\n")
        return 1
    if major == "3" and "--rollback-on-failure" in argv:
        sys.stderr.write("Error: unknown flag: --rollback-on-failure\n")
        return 1
    index = argv.index("--install")
    release, chart = argv[index + 1], argv[index + 2]
    namespace = option(argv, "--namespace", "-n") or "default"
    context = option(argv, "--kube-context") or "default"
    args = ["template", release, chart, "--namespace", namespace, "--skip-tests"]
    for values in values_files(argv):
        args += ["-f", values]
    args += [word for i, arg in enumerate(argv) if arg == "--set" for word in (arg, argv[i + 1])]
    rendered = real(*args)
    if rendered.returncode != 0:
        sys.stderr.write(rendered.stderr)
        return 1
    node = context.removeprefix("kind-") + "-control-plane"
    state = release_file(context, namespace, release)
    previous = json.loads(state.read_text()) if state.exists() else {"version": 0}
    images = re.findall(r'^\s*image: "?([^"\s]+)"?\s*$', rendered.stdout, re.M)
    if os.environ.get("STANDIN_HELM_PULL") == "0":  # a cluster whose nodes are not modelled
        images = []
    for image in images:
        pull = subprocess.run(
            ["docker", "exec", node, "ctr", "content", "fetch", "--hosts-dir",
             "/etc/containerd/certs.d", image],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if pull.returncode != 0 or os.environ.get("STANDIN_HELM_FAIL"):
            error = pull.stderr.strip().splitlines()[-1] if pull.stderr.strip() else "timeout"
            canned(context, namespace, release, image, error)
            sys.stderr.write(f"Error: UPGRADE FAILED: context deadline exceeded ({image})\n")
            return 1
    state.parent.mkdir(parents=True, exist_ok=True)
    version = previous["version"] + 1
    current = release_json(release, namespace, chart, version, previous, supplied_values(argv),
                           rendered.stdout)  # fmt: skip
    slow = Path(os.environ["STANDIN_STATE"]) / "helm-slow"
    if slow.exists():
        wait_pending(state, current, previous, argv, float(slow.read_text()))
    write(state, json.dumps(current))
    write(revision_file(state, version), state.read_text())
    write(state.with_suffix(".yaml"), rendered.stdout)
    if previous.get("manifest") != rendered.stdout:  # an unchanged pod template keeps its pod
        healthy(context, release, images, version)
    print(f'Release "{release}" has been upgraded. Happy Helming!\nREVISION: {version}')
    return 0


def wait_pending(state: Path, current: dict, previous: dict, argv: list[str], seconds: float):
    """The new revision stored as pending while helm waits for the rollout; a signal then
    ends it as the helm version in STANDIN_HELM_VERSION would."""
    import signal
    import time

    pending = json.loads(json.dumps(current))
    pending["info"]["status"] = "pending-upgrade" if previous["version"] else "pending-install"
    write(state, json.dumps(pending))
    write(revision_file(state, pending["version"]), state.read_text())
    version = os.environ.get("STANDIN_HELM_VERSION", "v4.1.4").lstrip("v").split(".")
    handles_signals = (int(version[0]), int(version[1])) >= (3, 7)

    def stopped(signum, frame):
        if not handles_signals:  # helm before 3.7: the process dies, the release stays pending
            os._exit(128 + signum)
        pending["info"].update(status="failed", description='Upgrade "x" failed: context canceled')
        write(state, json.dumps(pending))
        write(revision_file(state, pending["version"]), state.read_text())
        rolled = ""
        if previous["version"] and ({"--atomic", "--rollback-on-failure"} & set(argv)):
            rollback(["rollback", pending["name"], str(previous["version"]),
                      "--kube-context", option(argv, "--kube-context") or "default",
                      "--namespace", option(argv, "--namespace", "-n") or "default"])  # fmt: skip
            rolled = ", and has been rolled back due to rollback-on-failure being set"
        sys.stderr.write(f"Error: UPGRADE FAILED: release {pending['name']} failed{rolled}: "
                         "context canceled\n")  # fmt: skip
        sys.exit(1)

    signal.signal(signal.SIGINT, stopped)
    signal.signal(signal.SIGTERM, stopped)
    time.sleep(seconds)


def revision_file(state: Path, version: int) -> Path:
    return state.with_name(f"{state.stem}.rev{version}.json")


def history(argv: list[str]) -> int:
    """`helm history -o json`: every revision; one is superseded once a newer one reached
    deployed, so while an upgrade is pending (or after it failed) the previous revision
    stays deployed, as in helm's action/upgrade.go."""
    state = release_file(option(argv, "--kube-context") or "default",
                         option(argv, "--namespace", "-n") or "default", argv[1])  # fmt: skip
    if not state.exists():
        sys.stderr.write("Error: release: not found\n")
        return 1
    current = json.loads(state.read_text())
    revisions = {}
    for path in state.parent.glob(f"{state.stem}.rev*.json"):
        release = json.loads(path.read_text())
        revisions[release["version"]] = release
    revisions[current["version"]] = current
    rows = []
    reached = [n for n, r in revisions.items() if (r.get("info") or {}).get("status") == "deployed"]
    for number in sorted(revisions):
        info = revisions[number].get("info") or {}
        status = info.get("status", "")
        if status == "deployed" and any(later > number for later in reached):
            status = "superseded"  # helm supersedes a revision once a newer one is deployed
        rows.append({"revision": number, "updated": info.get("last_deployed", ""),
                     "status": status, "chart": "rhdemo-0.1.0", "app_version": "1.0",
                     "description": info.get("description", "")})  # fmt: skip
    print(json.dumps(rows))
    return 0


def rollback(argv: list[str]) -> int:
    """`helm rollback REL N`: revision N's release as a new revision, deployed."""
    state = release_file(option(argv, "--kube-context") or "default",
                         option(argv, "--namespace", "-n") or "default", argv[1])  # fmt: skip
    target = revision_file(state, int(argv[2]))
    if not target.exists():
        sys.stderr.write(f"Error: release: revision {argv[2]} not found\n")
        return 1
    current = json.loads(state.read_text())
    release = json.loads(target.read_text())
    release["version"] = current["version"] + 1
    release["info"] = {**release["info"], "status": "deployed",
                       "description": f"Rollback to {argv[2]}"}  # fmt: skip
    write(state, json.dumps(release))
    write(revision_file(state, release["version"]), state.read_text())
    print("Rollback was a success! Happy Helming!")
    return 0


def uninstall(argv: list[str]) -> int:
    state = release_file(option(argv, "--kube-context") or "default",
                         option(argv, "--namespace", "-n") or "default", argv[1])  # fmt: skip
    if not state.exists():
        sys.stderr.write(f"Error: uninstall: Release not loaded: {argv[1]}: release: not found\n")
        return 1
    for path in [state, *state.parent.glob(f"{state.stem}.rev*.json")]:
        path.unlink()
    print(f'release "{argv[1]}" uninstalled')
    return 0


def release_json(name, namespace, chart, version, previous, config, manifest) -> dict:
    """The release as `helm status -o json` prints it (helm's pkg/release Release)."""
    import time

    from ruamel.yaml import YAML

    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    metadata = YAML(typ="safe").load(Path(chart, "Chart.yaml"))
    first = (previous.get("info") or {}).get("first_deployed", now)
    return {
        "name": name,
        "info": {"first_deployed": first, "last_deployed": now, "deleted": "",
                 "description": "Upgrade complete" if version > 1 else "Install complete",
                 "status": "deployed", "notes": ""},
        "chart": {"metadata": metadata, "lock": None, "templates": [],
                  "values": chart_values(chart), "schema": None, "files": []},
        "config": config,
        "manifest": manifest,
        "version": version,
        "namespace": namespace,
    }  # fmt: skip


def main(argv: list[str]) -> int:
    if os.environ.get("STANDIN_LOG"):
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(json.dumps(["helm", *argv]) + "\n")
    if argv[:1] == ["version"]:
        print(os.environ.get("STANDIN_HELM_VERSION", "v4.1.4"))
        return 0
    if argv[:1] in (["template"], ["lint"]):
        result = real(*argv)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode
    problem = unreachable(argv)  # every other verb asks the cluster's API first
    if problem:
        sys.stderr.write(problem)
        return 1
    if argv[:1] == ["status"]:
        release = argv[1]
        state = release_file(
            option(argv, "--kube-context") or "default",
            option(argv, "--namespace", "-n") or "default",
            release,
        )
        if not state.exists():
            sys.stderr.write("Error: release: not found\n")
            return 1
        print(state.read_text())
        return 0
    if argv[:1] == ["upgrade"] and "--install" in argv:
        return upgrade(argv)
    if argv[:2] == ["get", "values"]:
        return get_values(argv)
    verbs = {"history": history, "rollback": rollback, "uninstall": uninstall}
    if argv[:1] and argv[0] in verbs:
        return verbs[argv[0]](argv)
    sys.stderr.write(f"helm stand-in: unsupported arguments {argv}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

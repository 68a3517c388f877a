"""STAND-IN for kubectl (no Kubernetes API server can run on these machines).

It records every call (STANDIN_LOG), keeps what `apply -f FILE` is given as files
under STANDIN_STATE/<context>/<namespace>/<kind>-<name>.yaml, and answers
`get <kind> <name> -o yaml` from them, or with the real NotFound error. `logs -f` follows
the canned logs.txt as the real one follows a running container. A context
answers only while its cluster's control-plane node (a kind stand-in node) runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from standin_files import write  # the stand-ins' folder is on sys.path (run as scripts)


def option(argv: list[str], *names: str) -> str | None:
    for name in names:
        if name in argv:
            return argv[argv.index(name) + 1]
    return None


def cluster_up(context: str) -> bool:
    node = context.removeprefix("kind-") + "-control-plane"
    result = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", node],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return result.stdout.strip() == "true"


def follow(log: Path, seconds: float = 600) -> int:
    """`kubectl logs -f`: what the container wrote, then each new line as it comes, until
    stopped (here at most `seconds`, the bound every wait has)."""
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    shown, deadline = 0, time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            text = log.read_text() if log.exists() else ""
            if len(text) > shown:
                sys.stdout.write(text[shown:])
                sys.stdout.flush()
                shown = len(text)
            time.sleep(0.1)
    except KeyboardInterrupt:  # stopped, as the real one is: quietly
        return 130
    return 0


def context_missing(context: str) -> bool:
    """kind sets its contexts in kubeconfig; one it did not set (or that was lost) is gone."""
    kubeconfig = Path(os.environ.get("STANDIN_STATE", "/nonexistent"), "kubeconfig.json")
    return (
        kubeconfig.exists()
        and context.startswith("kind-")
        and context not in json.loads(kubeconfig.read_text())
    )


def main(argv: list[str]) -> int:
    if os.environ.get("STANDIN_LOG"):
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(json.dumps(["kubectl", *argv]) + "\n")
    if argv[:1] == ["version"]:
        print(json.dumps({"clientVersion": {"gitVersion": "v1.32.0-standin"}}))
        return 0
    context = option(argv, "--context") or "default"
    if context_missing(context):
        sys.stderr.write(f'error: context "{context}" does not exist\n')
        return 1
    if not cluster_up(context):
        sys.stderr.write(
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the "
            "right host or port?\n"
        )
        return 1
    if "exec" in argv:
        # no container runs behind the stand-in's pods: real kubectl's words for that
        pod = next((a for a in argv[argv.index("exec") + 1 :] if not a.startswith("-")), "?")
        sys.stderr.write(f'Error from server (NotFound): pods "{pod}" not found\n')
        return 1
    if "--raw" in argv:  # the API's health endpoints: /readyz, /livez
        print("ok")
        return 0
    store = Path(os.environ["STANDIN_STATE"]) / context
    if "apply" in argv:
        from ruamel.yaml import YAML

        source = option(argv, "-f", "--filename")
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        document = YAML(typ="safe").load(text)
        items = document["items"] if document["kind"] == "List" else [document]
        for item in items:
            namespace = item["metadata"].get("namespace") or option(argv, "-n") or "default"
            name, kind = item["metadata"]["name"], item["kind"].lower()
            target = store / namespace / f"{kind}-{name}.yaml"
            verb = "configured" if target.exists() else "created"
            target.parent.mkdir(parents=True, exist_ok=True)
            write(target, json.dumps(item) if len(items) > 1 or source == "-" else text)
            print(f"{kind}/{name} {verb}")
        return 0
    canned = store / "canned"
    answers = {"events": "events.txt", "pods": "pods.json"}
    if "get" in argv and argv[argv.index("get") + 1] in answers:
        answer = canned / answers[argv[argv.index("get") + 1]]
        empty = '{"items": []}' if "json" in argv else "No resources found"
        print(answer.read_text() if answer.exists() else empty, end="")
        return 0
    if "logs" in argv and ("-f" in argv or "--follow" in argv):
        return follow(canned / "logs.txt")
    for verb, file_name in (("describe", "describe.txt"), ("logs", "logs.txt")):
        if verb in argv:
            answer = canned / file_name
            print(answer.read_text() if answer.exists() else "", end="")
            return 0
    if "get" in argv:
        index = argv.index("get")
        kind, name = argv[index + 1], argv[index + 2]
        namespace = option(argv, "-n", "--namespace") or "default"
        target = store / namespace / f"{kind}-{name}.yaml"
        if not target.exists():
            sys.stderr.write(f'Error from server (NotFound): {kind}s "{name}" not found\n')
            return 1
        if option(argv, "-o", "--output") == "json":
            from ruamel.yaml import YAML

            print(json.dumps(YAML(typ="safe").load(target.read_text())))
        else:
            print(target.read_text(), end="")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""invoke deploy: registry, cluster, build, scan, push, helm, in the guide's order, each step
skipped when its inputs did not change, and a table of what ran at the end."""

from __future__ import annotations

import time
from dataclasses import dataclass

from stagingkub import (
    cluster_ops,
    docker_state,
    helm_ops,
    image_ops,
    preflight,
    registry_ops,
)
from stagingkub.helm import ReleaseSpec, pinned_reference, port_forward_hint
from stagingkub.image import ImageSpec
from stagingkub.registry import RegistrySpec
from stagingkub.runner import Runner, print_table, say


def release_spec(settings, image: ImageSpec, digest: str) -> ReleaseSpec:
    return ReleaseSpec.from_settings(
        settings, image.repository, image.version, helm_ops.values_path(settings), digest
    )


@dataclass
class Step:
    name: str
    ran: bool
    why: str
    seconds: float


class Steps:
    """Times each step and records whether it ran a command, for the closing table."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.done: list[Step] = []
        self.started = time.monotonic()

    def run(self, name: str, action, *, skipped: str = "up to date", ran: str = "repaired",
            reason=lambda result: result):  # fmt: skip
        """Run a step; it ran when it ran a command. Its why: reason(result), else the
        ran/skipped default."""
        before, started = self.runner.commands, time.monotonic()
        result = action()
        did_run = self.runner.commands > before
        why = reason(result) if isinstance(reason(result), str) else ""
        why = why or (ran if did_run else skipped)
        self.done.append(Step(name, did_run, why, time.monotonic() - started))
        return result

    def skip(self, name: str, why: str) -> None:
        self.done.append(Step(name, False, why, 0.0))

    def table(self) -> None:
        rows = [("step", "result", "time", "why")]
        rows += [(s.name, "ran" if s.ran else "skipped", f"{s.seconds:.1f} s", s.why)
                 for s in self.done]  # fmt: skip
        rows.append(("total", "", f"{time.monotonic() - self.started:.1f} s", ""))
        print_table(rows, err=True)


def run(
    runner: Runner,
    settings,
    version: str,
    *,
    skip_build: bool = False,
    force_build: bool = False,
    force_deploy: bool = False,
) -> None:
    image = ImageSpec.from_settings(settings, version)
    local_registry = settings.registry.mode == "local"
    kind_cluster = settings.cluster.mode == "kind"
    tools = ["docker", "kubectl", "helm"] + (["kind"] if kind_cluster else [])
    if not skip_build:
        tools += image_ops.build_tools(image)
    preflight.require(tools, settings)  # every missing tool named at once, before any change
    if not skip_build:
        image_ops.check_build_inputs(image)
    engine = docker_state.client()
    steps = Steps(runner)
    if local_registry:
        spec = RegistrySpec.from_settings(settings)
        ensure = lambda: registry_ops.ensure(runner, spec, engine=engine)  # noqa: E731
        steps.run("registry", ensure, ran="created or repaired")
    else:
        steps.skip("registry", f"external registry {image.push_host}")
    if kind_cluster:
        create = lambda: cluster_ops.create(runner, settings, ensure_registry=False)  # noqa: E731
        steps.run("cluster", create, ran="created or repaired")
    else:
        steps.skip("cluster", f"existing cluster ({settings.cluster.context})")
    rebuilt = False
    if skip_build:
        steps.skip("build", "--skip-build")
    else:
        build = lambda: image_ops.build(runner, image, engine, checked=True, force=force_build)  # noqa: E731
        steps.run("build", build)
        rebuilt = steps.done[-1].ran
    steps.run("scan", lambda: image_ops.scan(runner, image), skipped="off or not installed")
    digest = steps.run(
        "push",
        lambda: image_ops.push(runner, image, rebuilt=rebuilt),
        skipped="the registry holds this image",
        ran="the registry lacked it",
        reason=lambda _: "",
    )
    release = release_spec(settings, image, digest)
    steps.run("helm", lambda: helm_ops.deploy(runner, release, force=force_deploy))
    if runner.dry:
        return
    steps.table()
    say(
        f"Deployed {pinned_reference(release)} as release {release.release} in "
        f"{release.namespace} ({release.context}). Reach it: {port_forward_hint(release)}"
    )

"""invoke deploy: registry, cluster, build, scan, push, helm, in the guide's order, each step
skipped when its inputs did not change, and a table of what ran at the end."""

from __future__ import annotations

import time
from dataclasses import dataclass

from stagingkub import preflight
from stagingkub.cluster import ops as cluster_ops
from stagingkub.console import print_table, say
from stagingkub.docker import state as docker_state
from stagingkub.registry import ops as registry_ops
from stagingkub.registry.plan import RegistrySpec
from stagingkub.release import helm_ops, image_ops
from stagingkub.release.helm import ReleaseSpec, pinned_reference, port_forward_hint
from stagingkub.release.image import ImageSpec
from stagingkub.release.promote import tested
from stagingkub.runner import Runner


def release_spec(settings, image: ImageSpec, digest: str, live: bool = False) -> ReleaseSpec:
    return ReleaseSpec.from_settings(
        settings, image.repository, image.version, helm_ops.values_path(settings), digest, live
    )


@dataclass
class Step:
    name: str
    ran: bool
    why: str
    seconds: float
    failed: bool = False


class Steps:
    """Times each step and records whether it ran a command, for the closing table."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.done: list[Step] = []
        self.started = time.monotonic()

    def run(self, name: str, function, *args, ran: str = "repaired", skipped: str = "up to date",
            says_why: bool = True, **kwargs):  # fmt: skip
        """function(*args, **kwargs) as a step: it ran when it ran a command; its why is
        what it returned (when it says_why), else the ran/skipped default."""
        before, started = self.runner.commands, time.monotonic()
        result = function(*args, **kwargs)
        did_run = self.runner.commands > before
        why = result if says_why and isinstance(result, str) and result else ""
        self.done.append(Step(name, did_run, why or (ran if did_run else skipped),
                              time.monotonic() - started))  # fmt: skip
        return result

    def skip(self, name: str, why: str) -> None:
        self.done.append(Step(name, False, why, 0.0))

    def fail(self, name: str, why: str, started: float) -> None:
        self.done.append(Step(name, True, why, time.monotonic() - started, failed=True))

    def table(self) -> None:
        rows = [("step", "result", "time", "why")]
        rows += [(s.name, "failed" if s.failed else "ran" if s.ran else "skipped",
                  f"{s.seconds:.1f} s", s.why) for s in self.done]  # fmt: skip
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
    recover: bool = False,
) -> None:
    image = ImageSpec.from_settings(settings, version)
    steps, engine = prepare(runner, settings, image, skip_build=skip_build)
    release = deliver(steps, runner, settings, image, engine, skip_build=skip_build,
                      force_build=force_build, force_deploy=force_deploy,
                      recover=recover)  # fmt: skip
    if runner.dry:
        return
    steps.table()
    say(
        f"Deployed {pinned_reference(release)} as release {release.release} in "
        f"{release.namespace} ({release.context}). Reach it: {port_forward_hint(release)}"
        + (" " + tested(settings, image.remote_ref, release.digest)).rstrip()
    )


def prepare(runner: Runner, settings, image: ImageSpec, *, skip_build: bool = False):
    """The preflight, then the registry, caches and cluster: (the steps so far, the engine)."""
    _preflight(settings, image, skip_build)
    engine = docker_state.client()
    steps = Steps(runner)
    _infrastructure(steps, runner, settings, image, engine)
    return steps, engine


def deliver(steps: Steps, runner: Runner, settings, image: ImageSpec, engine, *,
            skip_build: bool = False, force_build: bool = False, force_deploy: bool = False,
            recover: bool = False, inputs=None, live: bool = False) -> ReleaseSpec:  # fmt: skip
    """Build, scan, push and helm upgrade, each skipped when its inputs did not change;
    inputs: the build inputs when the caller read them already (invoke dev); live: the
    chart's live folder on (invoke dev's live update)."""
    if skip_build:
        steps.skip("build", "--skip-build")
    else:
        steps.run("build", image_ops.build, runner, image, engine, checked=True,
                  force=force_build, inputs=inputs)  # fmt: skip
    rebuilt = not skip_build and steps.done[-1].ran
    steps.run("scan", image_ops.scan, runner, image, skipped="off or not installed")
    digest = steps.run("push", image_ops.push, runner, image, rebuilt=rebuilt, says_why=False,
                       ran="the registry lacked it", skipped="the registry holds it")  # fmt: skip
    release = release_spec(settings, image, digest, live)
    steps.run("helm", helm_ops.deploy, runner, release, force=force_deploy, recover=recover)
    return release


def _preflight(settings, image: ImageSpec, skip_build: bool) -> None:
    """Every missing tool named at once, and the build's inputs checked, before any change."""
    tools = ["docker", "kubectl", "helm"] + (["kind"] if settings.cluster.mode == "kind" else [])
    if not skip_build:
        tools += image_ops.build_tools(image)
    preflight.require(tools, settings)
    if not skip_build:
        image_ops.check_build_inputs(image)
    helm_ops.check_inputs(release_spec(settings, image, ""))  # before a registry or a build


def _infrastructure(steps: Steps, runner: Runner, settings, image: ImageSpec, engine) -> None:
    """The registry and the cluster, unless they are someone else's (external, existing)."""
    if settings.registry.mode == "local":
        spec = RegistrySpec.from_settings(settings)
        steps.run("registry", registry_ops.ensure, runner, spec, engine=engine,
                  ran="created or repaired")  # fmt: skip
    else:
        steps.skip("registry", f"external registry {image.push_host}")
    if settings.cache.mirrors:
        from stagingkub.cache import ops as cache_ops

        steps.run("cache", cache_ops.ensure_all, runner, cache_ops.configured(settings),
                  engine=engine, ran="created or repaired")  # fmt: skip
    if settings.cluster.mode == "kind":
        steps.run("cluster", cluster_ops.create, runner, settings, ensure_registry=False,
                  ran="created or repaired")  # fmt: skip
    else:
        steps.skip("cluster", f"existing cluster ({settings.cluster.context})")

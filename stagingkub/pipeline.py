"""invoke deploy --version V: registry, cluster, build, push, helm, in the guide's order."""

from __future__ import annotations

from stagingkub import (
    cluster_ops,
    docker_state,
    helm_ops,
    image_ops,
    preflight,
    registry_ops,
    validate,
)
from stagingkub.helm import ReleaseSpec, port_forward_hint
from stagingkub.image import ImageSpec
from stagingkub.registry import RegistrySpec
from stagingkub.runner import Runner, say


def release_spec(settings, image: ImageSpec) -> ReleaseSpec:
    return ReleaseSpec.from_settings(
        settings, image.repository, image.version, helm_ops.values_path(settings)
    )


def run(runner: Runner, settings, version: str, *, skip_build: bool = False) -> None:
    validate.tag(version, "--version")
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
    if local_registry:
        registry_ops.ensure(runner, RegistrySpec.from_settings(settings), engine=engine)
    else:
        say(f"registry.mode is external: pushing to {image.push_host}, no registry.create.")
    if kind_cluster:
        cluster_ops.create(runner, settings, ensure_registry=False)
    else:
        say(f"cluster.mode is existing: deploying through the context {settings.cluster.context}.")
    if not skip_build:
        image_ops.build(runner, image, engine=engine, checked=True)
    image_ops.scan(runner, image)
    digest = image_ops.push(runner, image)
    release = release_spec(settings, image)
    helm_ops.deploy(runner, release)
    if runner.dry:
        return
    say(
        f"Deployed {image.remote_ref}@{digest} as release {release.release} in "
        f"{release.namespace} ({release.context}). Reach it: {port_forward_hint(release)}"
    )

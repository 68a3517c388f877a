"""The whole pipeline (invoke deploy --version V) and its Helm step."""

from invoke import Collection

from stagingkub.cli import load_settings, task

VERSION_HELP = "Image tag to deploy, e.g. 1.1.0-SNAPSHOT."


@task(
    default=True,
    help={"version": VERSION_HELP, "skip_build": "Push and deploy an existing local image."},
)
def pipeline(c, version, skip_build=False, profile=None):
    """Registry, cluster, build, push, helm upgrade: the guide's whole workflow (idempotent)."""
    from stagingkub import pipeline as steps
    from stagingkub.runner import Runner

    steps.run(Runner(c), load_settings(profile), version, skip_build=skip_build)


@task(help={"version": VERSION_HELP})
def helm(c, version, profile=None):
    """helm upgrade --install the release with the image VERSION from the registry."""
    from stagingkub import helm_ops, validate
    from stagingkub.image import ImageSpec
    from stagingkub.pipeline import release_spec
    from stagingkub.runner import Runner

    validate.tag(version, "--version")
    settings = load_settings(profile)
    release = release_spec(settings, ImageSpec.from_settings(settings, version))
    helm_ops.deploy(Runner(c), release)


ns = Collection("deploy", pipeline, helm)

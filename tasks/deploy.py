"""The whole pipeline (invoke deploy) and its Helm step."""

from invoke import Collection

from stagingkub.cli import command_runner, load_settings, task

VERSION_HELP = (
    "Image tag to deploy, e.g. 1.1.0-SNAPSHOT; default: the project's version (pom.xml, "
    "image.version or git describe)."
)
FORCE_DEPLOY_HELP = "Run helm upgrade even when the release already holds what would be sent."
RECOVER_HELP = (
    "Recover a release an interrupted run left pending-* now, without waiting for "
    "deploy.timeout to pass (no other helm run may be working on it)."
)


@task(
    default=True,
    help={
        "version": VERSION_HELP,
        "skip_build": "Push and deploy an existing local image.",
        "force_build": "Build even when the local image was built from the same inputs.",
        "force_deploy": FORCE_DEPLOY_HELP,
        "recover": RECOVER_HELP,
    },
)
def pipeline(
    c,
    version=None,
    skip_build=False,
    force_build=False,
    force_deploy=False,
    recover=False,
    profile=None,
):
    """Registry, cluster, build, push, helm upgrade: the guide's workflow; unchanged steps skip."""
    from stagingkub import pipeline as steps
    from stagingkub.release.version import announce

    settings = load_settings(profile)
    steps.run(
        command_runner(c, settings),
        settings,
        announce(settings, version),
        skip_build=skip_build,
        force_build=force_build,
        force_deploy=force_deploy,
        recover=recover,
    )


@task(help={"version": VERSION_HELP, "force_deploy": FORCE_DEPLOY_HELP, "recover": RECOVER_HELP})
def helm(c, version=None, force_deploy=False, recover=False, profile=None):
    """helm upgrade --install the image VERSION as the registry holds it (tag@digest)."""
    from stagingkub.pipeline import release_spec
    from stagingkub.release import helm_ops, image_ops
    from stagingkub.release.image import ImageSpec
    from stagingkub.release.version import announce

    settings = load_settings(profile)
    image = ImageSpec.from_settings(settings, announce(settings, version))
    release = release_spec(settings, image, image_ops.registry_digest(image))
    helm_ops.deploy(command_runner(c, settings), release, force=force_deploy, recover=recover)
    from stagingkub.console import say
    from stagingkub.release.promote import tested

    note = tested(settings, image.remote_ref, release.digest)
    if note and not c.config.run.dry:
        say(note)


ns = Collection("deploy", pipeline, helm)

"""The application image: build it (mvnw or Dockerfile) and push it to the registry."""

from invoke import Collection

from stagingkub.cli import command_runner, load_settings, task

VERSION_HELP = (
    "Image tag to build or push, e.g. 1.1.0-SNAPSHOT; default: the project's version "
    "(pom.xml, image.version or git describe)."
)


def _image(c, profile, version):
    """(the command runner, the image VERSION as settings name it)."""
    from stagingkub.release.image import ImageSpec
    from stagingkub.release.version import announce

    settings = load_settings(profile)
    return command_runner(c, settings), ImageSpec.from_settings(
        settings, announce(settings, version)
    )


@task(
    help={
        "version": VERSION_HELP,
        "force_build": "Build even when the local image was built from the same inputs.",
    }
)
def build(c, version=None, force_build=False, profile=None):
    """Build rhdemo-api:VERSION (mvnw spring-boot:build-image or docker build) unless unchanged."""
    from stagingkub.release import image_ops

    image_ops.build(*_image(c, profile, version), force=force_build)


@task(help={"version": VERSION_HELP})
def push(c, version=None, profile=None):
    """Tag and push VERSION to the registry; skipped when the registry already holds it."""
    from stagingkub.release import image_ops

    image_ops.push(*_image(c, profile, version))


@task(help={"version": VERSION_HELP})
def scan(c, version=None, profile=None):
    """Scan the local image VERSION with trivy (image.scan, image.scan_severity)."""
    from stagingkub.release import image_ops

    image_ops.scan(*_image(c, profile, version))


ns = Collection("image", build, push, scan)

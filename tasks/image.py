"""The application image: build it (mvnw or Dockerfile) and push it to the registry."""

from invoke import Collection

from stagingkub.cli import load_settings, task

VERSION_HELP = "Image tag to build or push, e.g. 1.1.0-SNAPSHOT."


def _image(profile, version):
    from stagingkub import validate
    from stagingkub.image import ImageSpec

    validate.tag(version, "--version")
    settings = load_settings(profile)
    return settings, ImageSpec.from_settings(settings, version)


@task(help={"version": VERSION_HELP})
def build(c, version, profile=None):
    """Build rhdemo-api:VERSION with ./mvnw spring-boot:build-image (or docker build)."""
    from stagingkub import image_ops
    from stagingkub.runner import Runner

    _, image = _image(profile, version)
    image_ops.build(Runner(c), image)


@task(help={"version": VERSION_HELP})
def push(c, version, profile=None):
    """Tag and push VERSION to the registry; skipped when the registry already holds it."""
    from stagingkub import image_ops
    from stagingkub.runner import Runner

    _, image = _image(profile, version)
    image_ops.push(Runner(c), image)


@task(help={"version": VERSION_HELP})
def scan(c, version, profile=None):
    """Scan the local image VERSION with trivy (image.scan, image.scan_severity)."""
    from stagingkub import image_ops
    from stagingkub.runner import Runner

    _, image = _image(profile, version)
    image_ops.scan(Runner(c), image)


ns = Collection("image", build, push, scan)

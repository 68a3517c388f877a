"""The application image: build it (mvnw or Dockerfile), push it, promote what staging runs."""

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


@task(
    help={
        "version": "The version kind-registry holds and staging runs, e.g. 1.1.0; default: "
        "the project's version (pom.xml, image.version or git describe).",
        "to": "The profile whose registry receives it (config/<NAME>.yaml or a .yaml path; "
        "its registry.mode must be external). Required.",
        "to_tag": "The tag in the target registry (default: the same version).",
        "unverified": "Promote even when staging does not run this digest with its pods Ready.",
        "overwrite": "Replace a target tag that already names another image (refused without "
        "it: a promoted tag is not pushed over).",
    }
)
def promote(c, version=None, to="", to_tag="", unverified=False, overwrite=False, profile=None):
    """Copy the image staging runs, byte for byte (same digest), to another profile's registry."""
    from stagingkub import validate
    from stagingkub.errors import InputError
    from stagingkub.release import promote as promote_ops
    from stagingkub.release.version import announce

    if not to:
        raise InputError("image.promote needs --to PROFILE: the profile of the registry that "
                         "receives the image (for example `--to external`).")  # fmt: skip
    if to_tag:
        validate.tag(to_tag, "--to-tag")
    settings = load_settings(profile)
    promotion = promote_ops.plan(settings, announce(settings, version), to, to_tag)
    promote_ops.promote(command_runner(c, settings), settings, promotion, unverified=unverified,
                        overwrite=overwrite)  # fmt: skip


ns = Collection("image", build, push, scan, promote)

"""The images the chart renders with the deploy's values (`helm template`, nothing
written): what cache.warm pulls through the mirrors."""

from __future__ import annotations

from stagingkub.errors import StateError
from stagingkub.external import read
from stagingkub.release.helm import image_values
from stagingkub.release.image import ImageSpec

TEMPLATE_TIMEOUT = 60


def template_argv(settings) -> list[str]:
    """`helm template` with deploy.values_file, then the generated image values on stdin."""
    d = settings.deploy
    argv = ["helm", "template", d.release, str(settings.path("deploy.chart")),
            "--namespace", d.namespace]  # fmt: skip
    if d.values_file:
        argv += ["-f", str(settings.path("deploy.values_file"))]
    return [*argv, "-f", "-"]


def chart_images(settings, version: str) -> list[str]:
    """Every image `helm template` renders for `version`, in order, once."""
    image = ImageSpec.from_settings(settings, version)
    argv = template_argv(settings)
    result = read(argv, TEMPLATE_TIMEOUT, "Check the chart with `helm lint`, and re-run.",
                  stdin=image_values(image.repository, version))  # fmt: skip
    if result.returncode != 0:
        raise StateError(
            f"`helm template` of {settings.deploy.chart} failed, so the chart's images are "
            f"unknown: {(result.stderr.strip().splitlines() or ['no output'])[-1]} Fix the "
            "chart or deploy.values_file and re-run (`helm lint` shows more)."
        )
    return rendered_images(result.stdout)


def rendered_images(manifests_text: str) -> list[str]:
    """Every `image:` of the containers in `helm template` output, in order, once."""
    from ruamel.yaml import YAML

    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "image" and isinstance(value, str) and value:
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for document in YAML(typ="safe").load_all(manifests_text):
        walk(document)
    return list(dict.fromkeys(found))

"""The version to build and deploy when --version is left out: the project's own.

mvnw strategy: the top-level <version> of the app's pom.xml (Maven's own rule: a project
without one inherits its parent's), with ${property} placeholders resolved from -D in
image.maven_args, .mvn/maven.config, then <properties>. dockerfile strategy: image.version,
else `git describe --tags --always --dirty` of the app directory.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from xml.etree import ElementTree

from stagingkub.errors import InputError, StateError
from stagingkub.external import read
from stagingkub.validate import tag as valid_tag

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def choose(settings, flag: str | None) -> tuple[str, str]:
    """(version, where it came from); --version wins."""
    if flag is not None:
        return valid_tag(flag, "--version"), "--version"
    image = settings.image
    if image.strategy == "mvnw":
        pom = settings.path("image.app_dir", "pom.xml")
        version = pom_version(pom, list(image.maven_args))
        return _checked(version, f"{pom} <version>"), f"{pom} <version>"
    if image.version:
        return image.version, f"image.version ({settings.sources['image.version']})"
    app_dir = settings.path("image.app_dir")
    version = git_describe(app_dir)
    return _checked(version, f"git describe in {app_dir}"), f"`git describe` in {app_dir}"


def _checked(version: str, source: str) -> str:
    try:
        return valid_tag(version, source)
    except InputError as error:  # say where the bad version came from
        raise StateError(f"{error} Pass --version explicitly.") from None


def pom_version(pom: Path, maven_args: list[str]) -> str:
    """The project's version from pom.xml, placeholders resolved."""
    try:
        root = ElementTree.parse(pom).getroot()
    except FileNotFoundError:
        raise StateError(
            f"--version was left out, so the version comes from the app's pom.xml, but there "
            f"is none at {pom}. Pass --version, or set image.app_dir to the app's directory."
        ) from None
    except ElementTree.ParseError as error:
        raise StateError(f"{pom} is not valid XML ({error}); pass --version.") from None
    version = _child_text(root, "version")
    if version is None:
        parent = _child(root, "parent")
        version = _child_text(parent, "version") if parent is not None else None
    if not version:
        raise StateError(
            f"{pom} has no <version> (neither the project's nor its parent's): pass --version."
        )
    properties = _properties(root)
    properties.update(_maven_config(pom.parent))
    properties.update(_defines(maven_args))
    return resolve(version, properties, pom)


def resolve(text: str, properties: dict[str, str], pom: Path) -> str:
    """${name} placeholders replaced, recursively (bounded); an unknown one is refused."""
    for _ in range(10):
        missing = [name for name in _PLACEHOLDER.findall(text) if name not in properties]
        if missing:
            raise StateError(
                f"The version in {pom} is {text!r}, and ${{{missing[0]}}} is defined neither in "
                "its <properties>, in .mvn/maven.config nor as -D in image.maven_args. Define "
                f"it there (for example -D{missing[0]}=1.1.0-SNAPSHOT), or pass --version."
            )
        if not _PLACEHOLDER.search(text):
            return text.strip()
        text = _PLACEHOLDER.sub(lambda m: properties[m.group(1)], text)
    raise StateError(f"The version placeholders in {pom} refer to each other in a loop.")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # {http://maven.apache.org/POM/4.0.0}version -> version


def _child(element, name: str):
    return next((c for c in element if _local(c.tag) == name), None)


def _child_text(element, name: str) -> str | None:
    found = _child(element, name)
    return None if found is None else (found.text or "").strip()


def _properties(root) -> dict[str, str]:
    found = {}
    section = _child(root, "properties")
    if section is not None:
        found = {_local(p.tag): (p.text or "").strip() for p in section}
    for name in ("version", "groupId", "artifactId"):
        value = _child_text(root, name)
        if value and not _PLACEHOLDER.search(value):
            found[f"project.{name}"] = value
    return found


def _defines(arguments: list[str]) -> dict[str, str]:
    found = {}
    for argument in arguments:
        if argument.startswith("-D") and "=" in argument:
            name, value = argument[2:].split("=", 1)
            found[name] = value
    return found


def _maven_config(app_dir: Path) -> dict[str, str]:
    """-D definitions in .mvn/maven.config (Maven reads it on every run)."""
    try:
        text = (app_dir / ".mvn" / "maven.config").read_text(encoding="utf-8")
    except OSError:
        return {}
    try:
        return _defines(shlex.split(text))
    except ValueError:
        return {}


GIT_TIMEOUT = 30.0  # seconds for git describe


def git_describe(app_dir: Path) -> str:
    argv = ["git", "-C", str(app_dir), "describe", "--tags", "--always", "--dirty"]
    found = shutil.which("git") is not None
    result = read(argv, GIT_TIMEOUT, "Pass --version instead.") if found else None
    if result is None or result.returncode != 0:
        why = "git is not installed" if result is None else result.stderr.strip()[:200]
        raise StateError(
            f"--version was left out and image.version is not set, so the version would come "
            f"from `git describe` in {app_dir}, which failed ({why}). Pass --version, or set "
            "image.version in a profile."
        )
    return result.stdout.strip()


def announce(settings, flag: str | None) -> str:
    """The version to use, said with where it came from when --version was left out."""
    version, source = choose(settings, flag)
    if flag is None:
        from stagingkub.console import say

        say(f"version {version} (from {source})")
    return version

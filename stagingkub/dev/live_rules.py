"""Whether a batch of changes can be served by a live update (pure: tested without a cluster).

A live update compiles the app on this machine and copies the changed class and resource
files into the running container: it serves what `src/main/java` and `src/main/resources`
hold. Anything else (pom.xml, the Dockerfile, a dependency, a file outside those folders)
changes what the image is made of, so it runs the full cycle."""

from __future__ import annotations

from dataclasses import dataclass

from stagingkub.release.pods import LIVE_ANNOTATION, live_changes

LIVE_FOLDERS = ("src/main/java/", "src/main/resources/")
ANNOTATION = LIVE_ANNOTATION  # on a pod running live changes: from, inputs, files


@dataclass(frozen=True)
class Changes:
    """What differs between two input records, as app-relative paths."""

    changed: tuple[str, ...]  # new or with new content
    deleted: tuple[str, ...]

    @classmethod
    def between(cls, old: dict[str, str], new: dict[str, str]) -> Changes:
        changed = tuple(sorted(p for p, digest in new.items() if old.get(p) != digest))
        return cls(changed, tuple(sorted(p for p in old if p not in new)))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(sorted(self.changed + self.deleted))


def full_cycle_reason(changes: Changes, *, mode: str, maven_app: bool) -> str:
    """'' when a live update serves these changes; otherwise why the full cycle runs, in a
    user's words (one clause, for dev's cycle line)."""
    if mode == "off":
        return "dev.live is off"
    if not maven_app:
        return "live update needs a Maven app (pom.xml and mvnw in image.app_dir)"
    if not changes.paths:
        return "nothing to sync"
    outside = [p for p in changes.paths if not p.startswith(LIVE_FOLDERS)]
    if outside:
        more = f" and {len(outside) - 1} more" if len(outside) > 1 else ""
        return f"{outside[0]}{more} is not a class or resource (src/main/java, src/main/resources)"
    return ""


def class_outputs(source: str) -> tuple[str, str]:
    """For src/main/java/a/B.java: the compiled class a/B.class and the glob of its nested
    classes (a/B$*.class), relative to target/classes; for a resource, its copy's path."""
    if source.startswith("src/main/java/") and source.endswith(".java"):
        stem = source[len("src/main/java/") : -len(".java")]
        return f"{stem}.class", f"{stem}$*.class"
    return source[len("src/main/resources/") :], ""


def annotation_value(image: str, inputs: str, files: int) -> str:
    """What a live pod carries: the image it started from, what was synced, how many files."""
    return f"from={image} inputs={inputs} files={files}"


def parse_annotation(value: str) -> dict[str, str]:
    return live_changes({ANNOTATION: value})

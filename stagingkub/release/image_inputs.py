"""What decides the application image, read into one record: the build is skipped when the
local image was built from the same record.

The inputs: the app's files (those git tracks plus untracked ones it does not ignore;
outside git every file), less what LeftOut names (tool folders, editors' temporary files,
the top-level target/ that ./mvnw writes), plus the build output a Dockerfile copies
(`COPY target/*.jar app.jar`) even where git ignores it; the strategy and its
arguments (Maven arguments, or the Dockerfile, context and build args) and the builder
(Spring Boot's builder image, or the Dockerfile's base images) with its local image ID.
A record is kept under <files_dir>/builds/, keyed by the ID of the image it built.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stagingkub.errors import StateError
from stagingkub.release.image import PULL_POLICY, ImageSpec

FORMAT = 1
SHOWN_NAMES = 5  # changed file names named in the one-line reason
# Folders that are never inputs, at any depth: version control, dependencies, tool caches
# (the default app_dir is the repository root, beside .venv) and this tool's own files.
TOOL_DIRS = frozenset({
    ".git", "node_modules", ".stagingkub", ".venv", "__pycache__", ".pytest_cache",
    ".mypy_cache", ".ruff_cache", ".tox", ".nox", ".gradle",
})  # fmt: skip
# The output folder our own build writes, at the top of image.app_dir only: ./mvnw's
# target/. A Dockerfile build writes none there (an IDE's `mvn package` fills the target/
# it copies), and a `build` or `target` folder deeper in the sources is a source folder.
OUTPUT_DIRS = {"mvnw": ("target",), "dockerfile": ()}
# Build output folders a Dockerfile may copy from (COPY target/*.jar): inputs, ignored or not.
COPIED_OUTPUT_DIRS = ("target", "build")
# Editors' swap, backup and safe-write files (vim's 4913 and .swp, emacs' .#lock and
# backup~, JetBrains' ___jb_tmp___), macOS' .DS_Store.
TEMPORARY_NAME = re.compile(
    r"(\.sw[a-p]|\.swx|~|___jb_(tmp|old|bak)___)$|^(\.#|#.*#$)|^4913$|^\.DS_Store$"
)


def absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


@dataclass(frozen=True)
class LeftOut:
    """What is never an input, so never starts an `invoke dev` cycle either: the one rule
    both the input record and dev's trigger use. What git ignores is left out of the record
    by git itself (and changes no digest, so it starts nothing)."""

    files_dir: Path  # this tool's generated files, wherever cluster.files_dir puts them
    outputs: tuple[Path, ...] = ()  # the folders our build writes

    @classmethod
    def of(cls, spec: ImageSpec, files_dir: Path | None = None) -> LeftOut:
        names = COPIED_OUTPUT_DIRS if spec.prebuild else OUTPUT_DIRS[spec.strategy]
        outputs = tuple(absolute(spec.app_dir / name) for name in names)
        return cls(absolute(files_dir or spec.files_dir), outputs)

    def excludes(self, path: Path, root: Path) -> bool:
        """True when path (absolute, under root, itself absolute) is no input."""
        if any(path == folder or folder in path.parents for folder in self.blocked):
            return True
        if TEMPORARY_NAME.search(path.name):
            return True
        return any(part in TOOL_DIRS for part in path.relative_to(root).parts)

    @property
    def blocked(self) -> tuple[Path, ...]:
        return (self.files_dir, *self.outputs)


@dataclass(frozen=True)
class BuildInputs:
    files: dict[str, str]  # path relative to the app dir -> content digest (and +x)
    recipe: dict[str, str]  # strategy, arguments, Dockerfile digest, context, build args
    builders: dict[str, str]  # builder/base image reference -> local image ID ('' if absent)

    @property
    def digest(self) -> str:
        canonical = json.dumps([self.files, self.recipe, self.builders], sort_keys=True)
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    def record(self, image: str, image_id: str) -> dict:
        return {"format": FORMAT, "image": image, "id": image_id, "digest": self.digest,
                "files": self.files, "recipe": self.recipe, "builders": self.builders}  # fmt: skip

    @classmethod
    def from_record(cls, record: dict) -> BuildInputs | None:
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            return None
        return cls(dict(record["files"]), dict(record["recipe"]), dict(record["builders"]))


def collect(spec: ImageSpec, engine, generated_dir: Path) -> BuildInputs:
    """Read the inputs now; generated_dir (this tool's own files) never counts. A file that
    vanishes while they are read (a `git checkout`, an editor's temporary file) is no input."""
    left_out = LeftOut.of(spec, generated_dir)
    paths = [path for root in source_roots(spec) for path in list_files(root, left_out)]
    files: dict[str, str] = {}
    for path in sorted(set(paths + copied_build_output(spec, left_out))):
        digest = readable_digest(path)
        if digest is not None:
            files[os.path.relpath(path, spec.app_dir)] = digest
    return BuildInputs(files, recipe(spec), builder_ids(spec, engine))


def readable_digest(path: Path) -> str | None:
    """file_digest, None for a file gone since it was listed; unreadable: a StateError."""
    try:
        return file_digest(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise StateError(
            f"Cannot read {path} ({error.strerror or error}), one of the build's inputs. "
            "Make it readable (`ls -l` shows its owner and mode), or add it to .gitignore."
        ) from None


def builder_ids(spec: ImageSpec, engine) -> dict[str, str]:
    """Each builder reference -> its local image ID now ('' when not pulled yet)."""
    return {reference: _image_id(engine, reference) for reference in builder_refs(spec)}


def _image_id(engine, reference: str) -> str:
    if "$" in reference:  # FROM ${BASE}: known only to the build
        return ""
    found = engine.image(reference)
    return (found or {}).get("Id", "")


def source_roots(spec: ImageSpec) -> list[Path]:
    """The app directory, and a Dockerfile build context outside it."""
    roots = [spec.app_dir]
    if spec.strategy == "dockerfile" and not _inside(spec.context, spec.app_dir):
        roots.append(spec.context)
    return roots


def _inside(path: Path, directory: Path) -> bool:
    path, directory = Path(os.path.abspath(path)), Path(os.path.abspath(directory))
    return path == directory or directory in path.parents


def recipe(spec: ImageSpec) -> dict[str, str]:
    """The strategy and its arguments (the image name aside: one record serves any tag)."""
    if spec.strategy == "dockerfile":
        dockerfile = file_digest(spec.dockerfile) if spec.dockerfile.is_file() else "missing"
        return {
            "strategy": "dockerfile",
            "dockerfile": f"{spec.dockerfile} {dockerfile}",
            "context": str(spec.context),
            "build_args": json.dumps(list(spec.build_args)),
            **({"prebuild": json.dumps(list(spec.prebuild))} if spec.prebuild else {}),
        }
    pull = next((a for a in spec.maven_args if a.startswith(PULL_POLICY)), None)
    return {
        "strategy": "mvnw",
        "maven_args": json.dumps(list(spec.maven_args)),
        "pull_policy": pull.split("=", 1)[1] if pull else spec.builder_pull,
    }


def list_files(root: Path, left_out: LeftOut | Path) -> list[Path]:
    """The files git would see (tracked, or untracked and not ignored); outside a git work
    tree, every file; in both, less what left_out excludes. Given this tool's files_dir
    alone (the strategy unknown), Maven's and Gradle's top-level output folders are left
    out too. A symlink is a file (its target is recorded), never followed."""
    root = absolute(root)
    if not isinstance(left_out, LeftOut):
        left_out = LeftOut(absolute(left_out), (root / "target", root / "build"))
    listed = _git_files(root)
    if listed is None:
        return sorted(_walk(root, left_out))
    paths = (root / name for name in listed)
    return sorted(path for path in paths if (path.is_file() or path.is_symlink())
                  and not left_out.excludes(path, root))  # fmt: skip


def _git_files(root: Path) -> list[str] | None:
    argv = ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:  # not a git work tree (or git is missing)
        return None
    names = result.stdout.decode(errors="surrogateescape").split("\0")
    return sorted({name for name in names if name})


def _walk(root: Path, left_out: LeftOut):
    """Every file under root but what left_out excludes; a link to a folder is a file."""
    for directory, subdirs, names in os.walk(root):  # never follows links (followlinks=False)
        here = Path(directory)
        links = [name for name in subdirs if (here / name).is_symlink()]
        subdirs[:] = [name for name in subdirs if name not in links
                      and not left_out.excludes(here / name, root)]  # fmt: skip
        for name in names + links:
            path = here / name  # a regular file or a link (a FIFO would block the read)
            if (path.is_symlink() or path.is_file()) and not left_out.excludes(path, root):
                yield path


_COPY = re.compile(r"^\s*(?:COPY|ADD)\s+(.+)$", re.I | re.M)


def copied_build_output(spec: ImageSpec, left_out: LeftOut) -> list[Path]:
    """The files a Dockerfile copies from the context's top-level target/ or build/ (`COPY
    target/*.jar app.jar`): the image is built from them, so they are inputs even where git
    ignores them (an IDE's `mvn package` starts a dev cycle). Not for ./mvnw (it writes
    target/ itself), nor `COPY --from=` (another stage's files)."""
    if spec.strategy != "dockerfile" or spec.prebuild:  # image.prebuild writes them
        return []
    try:
        text = spec.dockerfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    context, found = absolute(spec.context), []
    for arguments in _COPY.findall(text):
        for pattern in _copy_sources(arguments):
            if pattern.split("/", 1)[0] in COPIED_OUTPUT_DIRS:
                found += _files_matching(context, pattern, left_out)
    return found


def _copy_sources(arguments: str) -> list[str]:
    """The sources of one COPY/ADD line (shell or JSON form), [] for a copy from a stage."""
    try:
        words = json.loads(arguments) if arguments.lstrip().startswith("[") else arguments.split()
    except ValueError:
        return []
    if any(str(word).startswith("--from") for word in words):
        return []
    sources = [str(word) for word in words if not str(word).startswith("--")][:-1]
    return [source.removeprefix("./") for source in sources]


def _files_matching(context: Path, pattern: str, left_out: LeftOut) -> list[Path]:
    found = []
    for match in sorted(context.glob(pattern)):
        if match.is_dir() and not match.is_symlink():
            found += list(_walk(match, left_out))
        elif match.is_file() or match.is_symlink():
            found.append(absolute(match))
    return [path for path in found if not left_out.excludes(path, context)]


def file_digest(path: Path) -> str:
    """sha256 of the content (a link: of its target), with an x for an executable file."""
    if path.is_symlink():
        return "link:" + os.readlink(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    mode = "x" if os.access(path, os.X_OK) else ""
    return digest.hexdigest()[:32] + mode


def builder_refs(spec: ImageSpec) -> list[str]:
    """Spring Boot's builder image, or the Dockerfile's base images."""
    if spec.strategy == "dockerfile":
        return base_images(spec.dockerfile)
    return [spring_boot_builder(spec)]


_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.I | re.M)


def base_images(dockerfile: Path) -> list[str]:
    """FROM images, without earlier stages and scratch."""
    try:
        text = dockerfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    images, stages = [], set()
    for image, stage in _FROM.findall(text):
        if image.lower() != "scratch" and image not in stages:
            images.append(image)
        if stage:
            stages.add(stage)
    return images


BUILDER_PROPERTY = "-Dspring-boot.build-image.builder="


def spring_boot_builder(spec: ImageSpec) -> str:
    """-Dspring-boot.build-image.builder, else pom.xml's <image><builder>, else the default
    builder of the Spring Boot version the pom names."""
    for argument in spec.maven_args:
        if argument.startswith(BUILDER_PROPERTY):
            return argument.split("=", 1)[1]
    try:
        pom = (spec.app_dir / "pom.xml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "spring-boot-default"
    configured = re.search(r"<image>.*?<builder>\s*([^<\s]+)\s*</builder>", pom, re.S)
    if configured and "${" not in configured.group(1):
        return configured.group(1)
    return default_builder(_spring_boot_version(pom))


def _spring_boot_version(pom: str) -> tuple[int, int] | None:
    found = re.search(
        r"<artifactId>\s*spring-boot-(?:starter-parent|dependencies|maven-plugin)\s*"
        r"</artifactId>\s*<version>\s*(\d+)\.(\d+)",
        pom,
    )
    return (int(found.group(1)), int(found.group(2))) if found else None


def default_builder(version: tuple[int, int] | None) -> str:
    """Spring Boot's default builder for JVM apps, by its version."""
    if version is None or version >= (3, 4):
        return "paketobuildpacks/builder-noble-java-tiny:latest"
    return "paketobuildpacks/builder-jammy-base:latest"  # 3.2, 3.3 and the late 2.7-3.1 fixes


def difference(old: BuildInputs | None, new: BuildInputs) -> str:
    """Why the build runs, in one line (empty when nothing changed)."""
    if old is None:
        return "no record of the inputs that built the local image"
    added = sorted(set(new.files) - set(old.files))
    removed = sorted(set(old.files) - set(new.files))
    changed = sorted(n for n in set(new.files) & set(old.files) if new.files[n] != old.files[n])
    parts = [f"{label} {_names(names)}" for label, names in
             (("changed", changed), ("added", added), ("removed", removed)) if names]  # fmt: skip
    if old.builders != new.builders:
        different = [r for r in new.builders if old.builders.get(r) != new.builders[r]]
        parts.append("a different builder (" + ", ".join(different or list(old.builders)) + ")")
    if old.recipe != new.recipe:
        keys = [k for k in new.recipe if old.recipe.get(k) != new.recipe[k]]
        parts.append("other build settings (" + ", ".join(keys) + ")")
    return "; ".join(parts)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def record_path(records_dir: Path, image_id: str) -> Path:
    return records_dir / (image_id.removeprefix("sha256:") + ".json")


def load(records_dir: Path, image_id: str) -> BuildInputs | None:
    try:
        text = record_path(records_dir, image_id).read_text(encoding="utf-8")
        return BuildInputs.from_record(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(records_dir: Path, inputs: BuildInputs, image: str, image_id: str) -> None:
    records_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(records_dir, image_id)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(inputs.record(image, image_id), indent=1, sort_keys=True))
    temporary.replace(path)

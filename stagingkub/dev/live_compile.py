"""Live update's compile: javac of the module's sources against Maven's own classpath (read
once per pom.xml, `dependency:build-classpath`), changed resources copied as they are;
`./mvnw -o -q compile` where that could differ from Maven's build (a resource Maven filters,
no target/classes yet) or when javac fails (Maven's error is the one shown).

Measured on examples/spring-app (bench/README.md): javac 0.9 s, `./mvnw -o -q compile`
3.8 s; like Maven's incremental compile, every source is compiled again, so a changed
constant reaches the classes that inline it."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from stagingkub.dev.live_rules import Changes
from stagingkub.dev.live_sync import CLASSES, CompileFailed, LiveFailed, run

SOURCES, RESOURCES = "src/main/java", "src/main/resources"
# Spring Boot's parent filters these (@project.version@ and the like): Maven copies them
FILTERED = re.compile(r"^src/main/resources/application[^/]*\.(properties|ya?ml)$")
MAVEN = ["./mvnw", "-o", "-q", "compile"]


def compile_changes(app_dir: Path, changes: Changes, cache_dir: Path) -> str:
    """Bring target/classes up to date with the sources; returns the compiler used."""
    if (app_dir / CLASSES).is_dir() and not any(FILTERED.match(p) for p in changes.changed):
        try:
            _javac(app_dir, cache_dir)
            _copy_resources(app_dir, changes)
            return "javac"
        except (CompileFailed, LiveFailed):
            pass  # Maven's own compile decides, and its error is the one shown
    run(MAVEN, app_dir)
    return "mvnw"


def _javac(app_dir: Path, cache_dir: Path) -> None:
    sources = sorted(str(p.relative_to(app_dir)) for p in (app_dir / SOURCES).rglob("*.java"))
    if not sources:
        return
    argv = ["javac", "-d", str(CLASSES), "-cp", f"{CLASSES}:{classpath(app_dir, cache_dir)}",
            "-g", "-parameters", "-encoding", "UTF-8", *_release(app_dir), *sources]  # fmt: skip
    run(argv, app_dir)


def classpath(app_dir: Path, cache_dir: Path) -> str:
    """Maven's compile classpath, cached by pom.xml's content (a dependency change runs the
    full cycle anyway)."""
    key = hashlib.sha256((app_dir / "pom.xml").read_bytes()).hexdigest()[:16]
    cached = cache_dir / f"classpath-{key}.txt"
    if not cached.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        run(["./mvnw", "-q", "dependency:build-classpath", "-Dmdep.includeScope=compile",
             f"-Dmdep.outputFile={partial.resolve()}"], app_dir)  # fmt: skip
        partial.replace(cached)
    return cached.read_text().strip()


def _release(app_dir: Path) -> list[str]:
    """--release N from the pom's java.version or maven.compiler.release, when it names one."""
    pom = (app_dir / "pom.xml").read_text(errors="replace")
    found = re.search(r"<(java\.version|maven\.compiler\.release)>\s*(\d+)\s*<", pom)
    return ["--release", found.group(2)] if found else []


def _copy_resources(app_dir: Path, changes: Changes) -> None:
    for path in changes.changed:
        if path.startswith(RESOURCES + "/"):
            target = app_dir / CLASSES / path[len(RESOURCES) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(app_dir / path, target)

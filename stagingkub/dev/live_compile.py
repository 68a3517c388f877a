"""Live update's compile: javac of the module's sources against Maven's own classpath (read
once per pom.xml, `dependency:build-classpath`), changed resources copied as they are;
`./mvnw -o -q compile` where that could differ from Maven's build (a resource Maven filters,
no target/classes yet) or when javac fails (Maven's error is the one shown).

The javac is the warm one of javac_server (about 50 ms a compile here) when it runs, else a
new javac (0.8 to 1.7 s); `./mvnw -o -q compile` takes 3.8 s (bench/README.md). Like
Maven's incremental compile, every source is compiled again, so a changed constant reaches
the classes that inline it."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
from pathlib import Path

from stagingkub.dev.javac_server import JavacServer, ServerGone
from stagingkub.dev.live_rules import Changes
from stagingkub.dev.live_sync import CLASSES, CompileFailed, LiveFailed, compile_errors, run

SOURCES, RESOURCES = "src/main/java", "src/main/resources"
# Spring Boot's parent filters these (@project.version@ and the like): Maven copies them
FILTERED = re.compile(r"^src/main/resources/application[^/]*\.(properties|ya?ml)$")
MAVEN = ["./mvnw", "-o", "-q", "compile"]
WARM_TIMEOUT = 120.0  # a large module's first compile in a cold server
_classpath_lock = threading.Lock()  # dev's warm-up and its first save may both ask


def compile_changes(app_dir: Path, changes: Changes, cache_dir: Path,
                    server: JavacServer | None = None) -> str:  # fmt: skip
    """Bring target/classes up to date with the sources; returns the compiler used."""
    if (app_dir / CLASSES).is_dir() and not any(FILTERED.match(p) for p in changes.changed):
        try:
            used = _javac(app_dir, cache_dir, server)
            _copy_resources(app_dir, changes)
            return used
        except (CompileFailed, LiveFailed):
            pass  # Maven's own compile decides, and its error is the one shown
    run(MAVEN, app_dir)
    return "mvnw"


def _javac(app_dir: Path, cache_dir: Path, server: JavacServer | None,
           output: Path = CLASSES) -> str:  # fmt: skip
    sources = sorted(str(p.relative_to(app_dir)) for p in (app_dir / SOURCES).rglob("*.java"))
    if not sources:
        return "javac"
    options = ["-d", str(output), "-cp", f"{CLASSES}:{classpath(app_dir, cache_dir)}",
               "-g", "-parameters", "-encoding", "UTF-8", *_release(app_dir)]  # fmt: skip
    if server is not None and server.running:
        try:
            code, said = server.compile(options, sources, WARM_TIMEOUT)
        except ServerGone:
            pass  # a new javac below
        else:
            if code != 0:
                raise CompileFailed(compile_errors(said))
            return "warm javac"
    run(["javac", *options, *sources], app_dir)
    return "javac"


def warm_up(server: JavacServer, app_dir: Path, cache_dir: Path, rounds: int = 3) -> None:
    """Start the server and compile the module a few times into a scratch folder, so the
    first save finds Maven's classpath read and the compiler JIT-compiled. The app's own
    compile errors (a save half done) warm it as well: the server is kept."""
    classpath(app_dir, cache_dir)
    server.start()
    scratch = cache_dir / "warm-classes"
    for _ in range(rounds):
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            used = _javac(app_dir, cache_dir, server, scratch.resolve())
        except CompileFailed:
            continue
        if used != "warm javac":
            raise ServerGone("the warm javac did not compile the module")
    shutil.rmtree(scratch, ignore_errors=True)


def classpath(app_dir: Path, cache_dir: Path) -> str:
    """Maven's compile classpath, cached by pom.xml's content (a dependency change runs the
    full cycle anyway)."""
    key = hashlib.sha256((app_dir / "pom.xml").read_bytes()).hexdigest()[:16]
    cached = cache_dir / f"classpath-{key}.txt"
    with _classpath_lock:
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

"""Which tools a task needs, whether they are here and new enough, and how to get them."""

from __future__ import annotations

import functools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from stagingkub.console import INSTALL_HINTS as HINTS
from stagingkub.errors import DockerUnavailable, StagingkubError
from stagingkub.external import read
from stagingkub.parse import parse_version
from stagingkub.runner import ToolMissing

READ_TIMEOUT = 20


@dataclass(frozen=True)
class Tool:
    name: str
    found: bool
    version: str
    problem: str = ""  # empty when usable

    @property
    def ok(self) -> bool:
        return self.found and not self.problem


def _output(argv: list[str]) -> str:
    try:
        result = read(argv, READ_TIMEOUT)
    except StagingkubError:  # missing or hung: preflight reports the tool as unusable
        return ""
    return (result.stdout + result.stderr).strip()


@functools.cache
def helm_version() -> str:
    """`helm version --template {{.Version}}`, asked once per run (preflight, then deploy)."""
    return _output(["helm", "version", "--template", "{{.Version}}"])


def inspect(name: str, kind_floor: tuple[int, int, int] | None = (0, 20, 0)) -> Tool:
    """One tool: found, its version, and what is wrong with it."""
    if name == "docker":
        return _docker()
    if name == "java":
        java = shutil.which("java")
        if os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").exists():
            java = str(Path(os.environ["JAVA_HOME"], "bin", "java"))
        if java is None:
            return Tool(name, False, "")
        version = parse_version(_output([java, "-version"]))
        major = (version[0] if version[0] > 1 else version[1]) if version else 0
        shown = ".".join(map(str, version)) if version else "?"
        return Tool(name, True, shown, "" if major >= 17 else "Java 17 or newer is needed")
    if shutil.which(name) is None:
        return Tool(name, False, "")
    if name == "kind":
        version = parse_version(_output(["kind", "version"]))
        shown = ".".join(map(str, version)) if version else "?"
        old = kind_floor is not None and version is not None and version < kind_floor
        problem = (
            f"kind v{shown} is older than v0.20, which the default registry wiring needs "
            "(cluster.wiring: mirrors is for node images older than v0.20)"
        )
        return Tool(name, True, shown, problem if old else "")
    if name == "helm":
        text = helm_version()
        major = text.lstrip("v").split(".")[0]
        return Tool(name, True, text, "" if major in ("3", "4") else "helm 3 or 4 is needed")
    if name == "kubectl":
        try:
            info = json.loads(_output(["kubectl", "version", "--client", "-o", "json"]) or "{}")
        except ValueError:
            info = {}
        return Tool(name, True, (info.get("clientVersion") or {}).get("gitVersion", "?"))
    return Tool(name, True, "")


def _docker() -> Tool:
    from stagingkub.docker import state as docker_state

    if shutil.which("docker") is None:
        return Tool("docker", False, "")
    try:
        engine = docker_state.client()
    except DockerUnavailable as error:
        return Tool("docker", True, "CLI only", f"the engine is unreachable: {error}")
    return Tool("docker", True, engine.version().get("Version", "?"))


def kind_floor(settings) -> tuple[int, int, int] | None:
    """kind v0.20+ for the default config_path wiring; the legacy mirrors form has none."""
    return (0, 20, 0) if settings.cluster.wiring == "hosts" else None


def inspect_all(names: list[str], settings=None) -> list[Tool]:
    floor = kind_floor(settings) if settings is not None else (0, 20, 0)
    return [inspect(name, floor) for name in dict.fromkeys(names)]


def require(names: list[str], settings=None) -> list[Tool]:
    """Stop before any change when a needed tool is missing or too old, naming all at once."""
    tools = inspect_all(names, settings)
    bad = [tool for tool in tools if not tool.ok]
    if bad:
        lines = [
            f"{tool.name}: {'not found' if not tool.found else tool.problem}. {HINTS[tool.name]}."
            for tool in bad
        ]
        raise ToolMissing(
            "This task needs tools that are missing or unusable; nothing was changed. "
            + " ".join(lines)
        )
    return tools

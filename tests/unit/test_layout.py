"""The shape of the library stays readable: domains in subpackages with empty __init__ files,
functions that fit on a screen, layers that only import downwards."""

import ast
import re

import pytest

from stagingkub.settings import ROOT

LIBRARY = ROOT / "stagingkub"
MAX_LINES = 40
# Lower layers first; a module may import its own layer and those before it.
LAYERS = [
    {"errors", "ports", "schema", "validate", "yamlfile", "console"},
    {"external"},
    {"settings", "runner", "docker"},
    {"preflight", "registry"},
    {"cluster", "release", "cache"},
    {"diag", "pipeline"},
    {"dev"},
    {"cli"},
]


def modules():
    return sorted(path for path in LIBRARY.rglob("*.py") if "__pycache__" not in path.parts)


def room(path) -> str:
    """The top-level room of a module: its subpackage, or its own name."""
    return path.relative_to(LIBRARY).parts[0].removesuffix(".py")


def layer(name: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if name in names)


def test_every_top_level_room_has_a_layer():
    rooms = {room(p) for p in modules()} - {"__init__"}
    assert rooms <= set().union(*LAYERS), rooms - set().union(*LAYERS)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_is_longer_than_a_screen(path):
    tree = ast.parse(path.read_text())
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_LINES
    ]
    assert not long, f"split these into named steps: {long}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_downwards(path):
    own = room(path)
    if own == "__init__":
        return
    imported = re.findall(r"^\s*from stagingkub(?:\.(\w+))? import (\w+)", path.read_text(), re.M)
    upward = [
        f"{sub or name}"
        for sub, name in imported
        if (sub or name) != own and layer(sub or name) > layer(own)
    ]
    assert not upward, f"{path.name} ({own}) imports from a higher layer: {upward}"


def test_package_init_files_are_empty():
    """No code runs on import of a package (a docstring at most): lazy imports stay lazy."""
    inits = [p for p in modules() if p.name == "__init__.py"]
    assert len(inits) >= 5  # the package and its domains
    for path in inits:
        body = ast.parse(path.read_text()).body
        docstring = body[:1] and isinstance(body[0], ast.Expr)
        assert len(body) <= 1 and (not body or docstring), path

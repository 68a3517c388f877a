"""The shape of the library stays readable: domains in subpackages with empty __init__ files,
functions that fit on a screen, layers that only import downwards."""

import ast

import pytest

from stagingkub.settings import ROOT

LIBRARY = ROOT / "stagingkub"
MAX_LINES = 40
# Lower layers first, one row per package; a module may import its own room (its package,
# or its own top-level module) and the rooms of the rows above it.
LAYERS = [
    {"errors", "references"},
    {"ports", "schema", "validate", "yamlfile", "console", "waiting", "parse"},
    {"answers"},
    {"external", "pull_errors"},
    {"settings", "runner", "docker"},
    {"preflight"},
    {"registry"},
    {"cache"},
    {"cluster"},
    {"release"},
    {"diag", "pipeline"},
    {"dev"},
    {"cli"},
]


def modules(library=LIBRARY):
    return sorted(path for path in library.rglob("*.py") if "__pycache__" not in path.parts)


def room(path, library=LIBRARY) -> str:
    """The top-level room of a module: its subpackage, or its own name."""
    return path.relative_to(library).parts[0].removesuffix(".py")


def layer(name: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if name in names)


def imported_rooms(path, library=LIBRARY) -> list[tuple[str, int]]:
    """(room, line) of every stagingkub import in a module: `import stagingkub.x`,
    `from stagingkub.x.y import z`, `from stagingkub import x`, relative imports, at
    module level or inside functions."""
    package = path.relative_to(library.parent).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names = [f"{module}.{alias.name}" for alias in node.names] if module in (
                "stagingkub", "") else [module]  # fmt: skip
        else:
            continue
        found += [(name.split(".")[1], node.lineno) for name in names
                  if name.startswith("stagingkub.")]  # fmt: skip
    return found


def upward(path, library=LIBRARY) -> list[str]:
    own = room(path, library)
    return [f"{target} (line {line})" for target, line in imported_rooms(path, library)
            if target != own and layer(target) > layer(own)]  # fmt: skip


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


@pytest.mark.parametrize(
    "path", [p for p in modules() if room(p) != "__init__"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_imports_point_downwards(path):
    assert not upward(path), (
        f"{path.name} ({room(path)}) imports from a higher layer: {upward(path)}"
    )


def test_no_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for path in modules():
        own = room(path)
        graph.setdefault(own, set()).update(t for t, _ in imported_rooms(path) if t != own)
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for following in sorted(graph.get(node, ())):
            if following == trail[0]:
                cycles.append(" -> ".join([*trail, following]))
            elif following not in trail and following > trail[0]:  # each cycle once
                visit(following, [*trail, following])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, cycles


@pytest.mark.parametrize(
    "line",
    [
        "    from stagingkub.cli import task",
        "    import stagingkub.dev.loop",
        "    from stagingkub.release.helm_ops import deploy",
        "    from ..cli import task",
        "    from .. import pipeline",
    ],
)
def test_the_check_sees_an_upward_import_inside_a_function(tmp_path, line):
    planted = tmp_path / "stagingkub" / "registry" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(f"from stagingkub.errors import StateError\n\n\ndef f():\n{line}\n")
    found = upward(planted, tmp_path / "stagingkub")
    assert len(found) == 1 and "(line 5)" in found[0], found


def test_package_init_files_are_empty():
    """No code runs on import of a package (a docstring at most): lazy imports stay lazy."""
    inits = [p for p in modules() if p.name == "__init__.py"]
    assert len(inits) >= 5  # the package and its domains
    for path in inits:
        body = ast.parse(path.read_text()).body
        docstring = body[:1] and isinstance(body[0], ast.Expr)
        assert len(body) <= 1 and (not body or docstring), path

"""docs/guarantees.md can be checked: every row of its table names the tests that prove it,
as `tests/<tier>/<file>.py::test_name` (or `::TestClass::test_name`), and each named test
exists."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUARANTEES = ROOT / "docs" / "guarantees.md"
HEADER = "| input or fault | behaviour | test |"
# `tests/unit/test_engine.py::test_x`, `tests/unit/test_x.py::TestY::test_z`, in backticks.
TEST_ID = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)+)`")


def table_rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each row of the guarantees table, header and rule excluded."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == HEADER)
    rows = []
    for number, line in enumerate(lines[start + 2 :], start=start + 3):
        if not line.startswith("|"):
            break
        rows.append((number, split_cells(line)))
    return rows


def split_cells(line: str) -> list[str]:
    """The cells of a Markdown table row; `|` inside backticks or escaped is not a border."""
    cells, cell, in_code = [], "", False
    body = line.strip().removeprefix("|").removesuffix("|")
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and body[i + 1 : i + 2] == "|":
            cell, i = cell + "|", i + 2
            continue
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
        i += 1
    cells.append(cell.strip())
    return cells


def named_tests(cell: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(path, tuple(names.split("::")[1:])) for path, names in TEST_ID.findall(cell)]


def defined_tests(path: Path) -> set[tuple[str, ...]]:
    """The tests a file defines: ("test_x",) at module level, ("TestY", "test_z") in a class."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name.startswith("test"):
                found.add((node.name,))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found |= {
                (node.name, item.name)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and item.name.startswith("test")
            }
        elif isinstance(node, ast.Assign) and _state_machine_case(node):
            # TestX = Machine.TestCase: hypothesis' stateful test, run by pytest as runTest
            found |= {(target.id, "runTest") for target in node.targets
                      if isinstance(target, ast.Name) and target.id.startswith("Test")}  # fmt: skip
    return found


def _state_machine_case(node: ast.Assign) -> bool:
    return isinstance(node.value, ast.Attribute) and node.value.attr == "TestCase"


def problems(text: str, root: Path = ROOT) -> list[str]:
    """Every row without a named test, and every named test that does not exist."""
    found = []
    for number, cells in table_rows(text):
        where = f"docs/guarantees.md:{number} ({cells[0][:50]})"
        if len(cells) != 3:
            found.append(f"{where}: {len(cells)} cells, not 3")
            continue
        ids = named_tests(cells[2])
        if not ids:
            found.append(f"{where}: names no test as `tests/...py::test_name`")
        for path, names in ids:
            file = root / path
            if not file.is_file():
                found.append(f"{where}: {path} does not exist")
                continue
            try:
                defined = defined_tests(file)
            except SyntaxError as error:
                found.append(f"{where}: {path} does not parse ({error.msg}, line {error.lineno})")
                continue
            if names not in defined:
                found.append(f"{where}: {path} defines no test {'::'.join(names)}")
    return found


def test_the_table_has_rows():
    assert len(table_rows(GUARANTEES.read_text())) > 20


def test_every_row_names_tests_that_exist():
    found = problems(GUARANTEES.read_text())
    assert not found, "\n".join(found)


SAMPLE = f"""# Guarantees

{HEADER}
| --- | --- | --- |
| a fault | a behaviour | `tests/unit/test_guarantees.py::test_the_table_has_rows` |
| `a|b` in code | kept | `tests/unit/test_guarantees.py::test_the_table_has_rows`, \
`tests/unit/test_guarantees.py::TestSample::test_in_a_class` |

Prose below the table is not a row: `tests/unit/nothing.py::test_nothing`.
"""


class TestSample:
    def test_in_a_class(self):
        assert problems(SAMPLE) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("`tests/unit/test_guarantees.py::test_the_table_has_rows` |\n", "`test_x.py` |\n",
         "names no test"),
        ("::test_the_table_has_rows` |\n", "::test_the_table_has_row` |\n",
         "defines no test test_the_table_has_row"),
        ("unit/test_guarantees.py::test_the_table_has_rows` |\n",
         "unit/test_guarantee.py::test_the_table_has_rows` |\n", "does not exist"),
        ("::TestSample::test_in_a_class", "::test_in_a_class",
         "defines no test test_in_a_class"),
        ("| a fault | a behaviour |", "| a fault |", "2 cells, not 3"),
    ],
)  # fmt: skip
def test_a_broken_row_is_found(old, new, message):
    broken = SAMPLE.replace(old, new, 1)
    assert broken != SAMPLE
    found = problems(broken)
    assert len(found) == 1 and message in found[0], found

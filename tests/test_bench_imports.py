"""The benchmarks in bench/ use the fakes (tests/fakes/) but never a test module: not
tests/conftest.py (pytest's, with its fixtures) and not a tests/test_*.py."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_test_modules(node: ast.AST) -> set[str]:
    """The test modules an import statement names (``tests.conftest``, ``tests.test_x``)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    found = set()
    for name in names:
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == "tests" and (parts[1] == "conftest" or parts[1].startswith("test_")):
            found.add(".".join(parts[:2]))
    return found


def helper_modules(node: ast.AST) -> set[Path]:
    """The files of the tests/ helper modules an import statement names (tests.killing, …)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    out = set()
    for name in names:
        path = ROOT.joinpath(*name.split(".")).with_suffix(".py")
        if name.startswith("tests.") and path.is_file():
            out.add(path)
    return out


def test_bench_imports_no_test_module() -> None:
    """Nor does a helper of tests/ that bench/ uses (followed to the end)."""
    scripts = sorted((ROOT / "bench").glob("*.py"))
    assert scripts, "bench/ has no scripts to check"
    seen: set[Path] = set()
    todo = list(scripts)
    found = []
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {m}" for m in sorted(imported_test_modules(node))
            ]
            todo += sorted(helper_modules(node) - seen)
    assert found == [], "bench/ must take what it needs from tests/fakes/, not from test modules:\n" + "\n".join(found)


@pytest.mark.parametrize("script", sorted(p.stem for p in (ROOT / "bench").glob("*.py")))
def test_every_bench_script_imports(script: str) -> None:
    importlib.import_module(f"bench.{script}")  # a moved module shows here, not when someone runs the bench


def test_the_check_sees_every_way_of_importing_a_test_module() -> None:
    source = """
import tests.conftest
import tests.test_cli as cli
from tests.conftest import TOKEN
from tests import conftest, test_sync
from tests.test_bench import measure
def inside():
    from tests.conftest import provision
import tests.fakes.airtable
from tests.fakes.airtable_setup import TOKEN
from tests import fakes
from tests.managers_fixtures import REFERENCE
"""
    found = [m for node in ast.walk(ast.parse(source)) for m in sorted(imported_test_modules(node))]
    assert sorted(found) == sorted(
        [
            "tests.conftest",
            "tests.test_cli",
            "tests.conftest",
            "tests.conftest",
            "tests.test_sync",
            "tests.test_bench",
            "tests.conftest",
        ]
    )

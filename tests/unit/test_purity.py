"""service/her2 imports nothing but the standard library and itself (house style)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import service.her2

PACKAGE_DIR = Path(service.her2.__file__).parent
SOURCES = sorted(PACKAGE_DIR.rglob("*.py"))


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            assert node.module is not None
            names.append(node.module)
    return names


def test_there_are_sources_to_check() -> None:
    assert len(SOURCES) >= 5


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_only_stdlib_and_own_package(path: Path) -> None:
    for module in _imported_modules(path):
        top = module.split(".")[0]
        allowed = top in sys.stdlib_module_names or top == "__future__"
        allowed = allowed or module == "service.her2" or module.startswith("service.her2.")
        assert allowed, f"{path.name} imports {module}"


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import flask\nfrom service.fhir import mapping\n", encoding="utf-8")
    assert _imported_modules(bad) == ["flask", "service.fhir"]


def test_no_float_literals_in_rules() -> None:
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        floats = [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, float)
        ]
        assert not floats, f"{path.name} has float literals {floats}"

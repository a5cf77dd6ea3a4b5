"""service/trials imports nothing but the standard library, the rules and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import service.trials

SOURCES = sorted(Path(service.trials.__file__).parent.rglob("*.py"))
ALLOWED = ("service.her2", "service.trials")


def _imported(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            assert node.module is not None
            names.append(node.module)
    return names


def test_there_are_sources() -> None:
    assert len(SOURCES) >= 4


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_only_stdlib_rules_and_own_package(path: Path) -> None:
    for module in _imported(path):
        top = module.split(".")[0]
        allowed = top in sys.stdlib_module_names or top == "__future__"
        allowed = allowed or any(module == a or module.startswith(f"{a}.") for a in ALLOWED)
        assert allowed, f"{path.name} imports {module}"

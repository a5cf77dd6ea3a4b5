"""The layout of tests/: no test module imports another test module or a conftest.

Shared builders and constants come from ``tests.builders``; shared fixtures from the
layer's ``conftest.py``, which pytest provides without an import.  Support modules
that are not tests (``tests/integration/hapi.py``) may be imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# Imports kept for a module that is being changed elsewhere; remove once it is fixed.
KNOWN: set[tuple[str, str]] = set()


def _forbidden(module: str) -> bool:
    """A conftest anywhere, or a test module of tests/."""
    parts = module.split(".")
    return "conftest" in parts or (
        parts[0] == "tests" and any(p.startswith("test_") for p in parts[1:])
    )


def _imported(path: Path, root: Path) -> list[str]:
    """The modules ``path`` imports, absolute (``from . import x`` resolved).

    ``from package import name`` counts as ``package.name``: the name may be a module.
    """
    package = ["tests", *path.relative_to(root).parent.parts]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if _forbidden(base):
                found.append(base)
            else:
                found += [f"{base}.{alias.name}" for alias in node.names]
    return found


def layout_violations(root: Path) -> set[tuple[str, str]]:
    """(test module, what it imports) for every test module importing a test or conftest."""
    return {
        (path.relative_to(root).as_posix(), module)
        for path in sorted(root.rglob("test_*.py"))
        for module in _imported(path, root)
        if _forbidden(module)
    }


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    assert layout_violations(TESTS) - KNOWN == set()


BAD = {
    "from tests.api.conftest import NOW": "tests.api.conftest",
    "from tests.unit.test_golden_fhir import FIXTURES": "tests.unit.test_golden_fhir",
    "import tests.unit.test_public_cases": "tests.unit.test_public_cases",
    "from tests.api import test_serve": "tests.api.test_serve",
    "from tests.integration.conftest import Fhir": "tests.integration.conftest",
    "from . import conftest": "tests.api.conftest",
    "from .test_serve import free_port": "tests.api.test_serve",
    "from ..unit.test_golden_fhir import FIXTURES": "tests.unit.test_golden_fhir",
}
GOOD = [
    "from tests.builders import NOW, bundle",
    "from tests.integration.hapi import free_port",
    "from . import helpers",
    "import pytest",
]


def test_the_check_catches_every_form_of_import(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    for index, line in enumerate([*BAD, *GOOD]):
        (tmp_path / "api" / f"test_{index}.py").write_text(line + "\n", encoding="utf-8")
    (tmp_path / "api" / "helpers.py").write_text("from tests.api import conftest\n")
    expected = {(f"api/test_{index}.py", module) for index, module in enumerate(BAD.values())}
    assert layout_violations(tmp_path) == expected  # helpers.py is no test module

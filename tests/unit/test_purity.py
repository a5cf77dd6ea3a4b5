"""The pure packages import nothing but the standard library and what they may (house style).

``service/her2`` (the rules) imports only itself; ``service/trials`` the rules and itself.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import service.her2
import service.trials

# package -> (the packages it may import besides the standard library, its fewest sources)
PACKAGES = {
    "service.her2": (("service.her2",), 5),
    "service.trials": (("service.her2", "service.trials"), 4),
}
PACKAGE_DIRS = {
    "service.her2": Path(service.her2.__file__).parent,
    "service.trials": Path(service.trials.__file__).parent,
}
SOURCES = sorted(PACKAGE_DIRS["service.her2"].rglob("*.py"))
CASES = [
    (package, path)
    for package, directory in PACKAGE_DIRS.items()
    for path in sorted(directory.rglob("*.py"))
]


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


@pytest.mark.parametrize("package", PACKAGES)
def test_there_are_sources_to_check(package: str) -> None:
    _, fewest = PACKAGES[package]
    assert len([p for name, p in CASES if name == package]) >= fewest


@pytest.mark.parametrize(
    ("package", "path"), CASES, ids=[f"{n.split('.')[-1]}/{p.name}" for n, p in CASES]
)
def test_only_stdlib_and_allowed_packages(package: str, path: Path) -> None:
    allowed_packages, _ = PACKAGES[package]
    for module in _imported_modules(path):
        top = module.split(".")[0]
        allowed = top in sys.stdlib_module_names or top == "__future__"
        allowed = allowed or any(
            module == a or module.startswith(f"{a}.") for a in allowed_packages
        )
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

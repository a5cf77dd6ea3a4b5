"""The installed package stands alone: nothing under service/ uses the checkout's build tools.

The wheel ships ``service/`` only.  The guide generator (``scripts/``) reads
``tests/fixtures`` and writes ``fhir_profiles/``; an import of either from the service
would work in a checkout and fail in the container.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import service

PACKAGE_DIR = Path(service.__file__).parent
ROOT = PACKAGE_DIR.parent
SOURCES = sorted(PACKAGE_DIR.rglob("*.py"))
# Top-level directories of the checkout that the wheel does not contain.
CHECKOUT_ONLY = ("scripts", "tests", "fhir_profiles")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Resolve "from ..x import y" against this module's package.
                package = module.split(".")
                base = package[: len(package) - node.level + (1 if is_package else 0)]
                names.append(".".join([*base, *([node.module] if node.module else [])]))
            else:
                assert node.module is not None
                names.append(node.module)
    return names


def _checkout_paths(path: Path) -> list[str]:
    """String constants naming a checkout-only directory (a path the service would read)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # Docstrings (bare string statements) may mention the checkout; they are never read.
    bare = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return sorted(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in bare
        and any(node.value == d or node.value.startswith(f"{d}/") for d in CHECKOUT_ONLY)
    )


def test_there_are_sources_to_check() -> None:
    assert len(SOURCES) >= 20
    assert PACKAGE_DIR / "fhir" / "conformance" / "capability.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=[_module_name(p) for p in SOURCES])
def test_service_imports_nothing_from_the_checkout(path: Path) -> None:
    for module in _imported_modules(path, _module_name(path)):
        assert module.split(".")[0] not in CHECKOUT_ONLY, f"{_module_name(path)} imports {module}"


@pytest.mark.parametrize("path", SOURCES, ids=[_module_name(p) for p in SOURCES])
def test_service_names_no_checkout_path(path: Path) -> None:
    assert _checkout_paths(path) == []


def test_checkers_catch_forbidden_imports_and_paths(tmp_path: Path) -> None:
    package = tmp_path / "service" / "fhir"
    package.mkdir(parents=True)
    bad = package / "bad.py"
    bad.write_text(
        '"""tests/ in a docstring is fine."""\n'
        "import scripts.build_profiles\n"
        "from tests.helpers import x\n"
        "from . import jsonio\n"
        "from ..her2 import RULESET\n"
        'FIXTURES = ROOT / "tests" / "fixtures"\n'
        'GUIDE = f"fhir_profiles/{name}"\n',
        encoding="utf-8",
    )
    imported = _imported_modules(bad, "service.fhir.bad")
    assert imported == ["scripts.build_profiles", "tests.helpers", "service.fhir", "service.her2"]
    assert [m for m in imported if m.split(".")[0] in CHECKOUT_ONLY] == imported[:2]
    assert _checkout_paths(bad) == ["fhir_profiles/", "tests"]


def test_loading_the_service_loads_nothing_from_the_checkout() -> None:
    # A fresh interpreter in the checkout root, where scripts/ and tests/ are importable:
    # the entry points must not pull them in, directly or through another module.
    code = (
        "import sys, service.cli, service.api, service.fhir.conformance\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *CHECKOUT_ONLY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]"

"""The official HL7 validator (engine 6.10.4, offline) on the guide package and real outputs.

Gate: no error on any file of ``fhir_profiles/`` (the package is loaded as ``npm pack``
made it) nor on any golden output ``tests/fixtures/expected/*.json``.  References resolve
against the resources the FHIR server holds when the file is written: for a golden output,
its request (``tests/fixtures/inputs/<same name>.json``) and what the request references;
for the guide, the example input and the guide's own resources.  Warnings are counted by
kind and may not grow beyond ``fhir_profiles/validation-warnings.md``, which explains each.
The snapshots committed with the StructureDefinitions must be what the engine generates.
"""

from __future__ import annotations

import collections
import copy
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from scripts.build_profiles import EXAMPLE_INPUT, PROFILES
from scripts.guide import validator
from scripts.guide.snapshots import tidy
from scripts.guide.validator import Result, Target

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "tests" / "fixtures" / "expected").glob("*.json"))
INPUTS = ROOT / "tests" / "fixtures" / "inputs"
WARNINGS = PROFILES / "validation-warnings.md"
GUIDE_FILES = sorted(p for p in PROFILES.rglob("*.json") if p.name != "package.json")
EXAMPLES = sorted((PROFILES / "examples").glob("*.json"))
SCOPES = {"guide": GUIDE_FILES, "outputs": GOLDEN}

# Errors the service's own outputs still have, by kind; each is removed when outbound stops
# producing it.  Nothing else may be an error.
# Errors the golden outputs may still carry: none (the Device travels in the Bundle, and
# the request's urn:uuid entries are not cited).
KNOWN_OUTPUT_ERRORS: dict[str, re.Pattern[str]] = {}


def _targets(tmp: Path) -> list[Target]:
    served = (EXAMPLE_INPUT, *GUIDE_FILES)
    targets = [Target(p, server=served) for p in GUIDE_FILES]
    targets += [Target(p, server=(INPUTS / p.name,)) for p in GOLDEN]
    # Planted errors, so the gate is seen to catch them: a component code outside the
    # profile's closed slicing, and a broken reference.
    status = json.loads(
        (PROFILES / "examples" / "Observation-example-her2-status.json").read_text()
    )
    bad = copy.deepcopy(status)
    bad["component"][0]["code"]["coding"][0]["code"] = "no-such-code"
    (tmp / "planted-bad-code.json").write_text(json.dumps(bad))
    broken = copy.deepcopy(status)
    broken["subject"] = {"reference": "Patient/no-such-patient"}
    (tmp / "planted-broken-reference.json").write_text(json.dumps(broken))
    targets += [Target(tmp / n, server=served) for n in PLANTED]
    return targets


PLANTED = ("planted-bad-code.json", "planted-broken-reference.json")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    """One validator run over everything (the engine takes ~20 s to load)."""
    tmp = tmp_path_factory.mktemp("hl7")
    package = validator.pack(PROFILES, tmp / "package")
    return validator.run(package, _targets(tmp))


def _issues(result: Result, paths: list[Path], severity: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (str(p), issue)
        for p in paths
        for issue in result.issues[str(p)]
        if issue["severity"] in ((severity, "fatal") if severity == "error" else (severity,))
    ]


def test_the_guide_has_no_errors(result: Result) -> None:
    errors = _issues(result, GUIDE_FILES, "error")
    assert errors == [], json.dumps(errors, indent=1)


def test_golden_outputs_have_only_the_known_errors(result: Result) -> None:
    unknown = [
        (path, issue)
        for path, issue in _issues(result, GOLDEN, "error")
        if not any(p.search(issue["message"]) for p in KNOWN_OUTPUT_ERRORS.values())
    ]
    assert unknown == [], json.dumps(unknown, indent=1)


def test_planted_errors_are_caught(result: Result) -> None:
    planted = {n: [i for i in v if i["severity"] == "error"] for n, v in result.issues.items()}
    bad_code, broken = (next(v for n, v in planted.items() if n.endswith(p)) for p in PLANTED)
    assert any("no-such-code" in i["message"] for i in bad_code), bad_code
    assert any("Patient/no-such-patient" in i["message"] for i in broken), broken


def warning_counts(result: Result) -> dict[tuple[str, str], int]:
    """Warnings by (scope, message id)."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for scope, paths in SCOPES.items():
        for _, issue in _issues(result, paths, "warning"):
            counts[scope, issue["messageId"] or issue["message"][:60]] += 1
    return dict(counts)


def recorded_counts() -> dict[tuple[str, str], int]:
    """The table of ``validation-warnings.md``: | scope | message id | count | why |."""
    rows = re.findall(r"^\| (guide|outputs) \| `([^`]+)` \| (\d+) \|", WARNINGS.read_text(), re.M)
    return {(scope, mid): int(n) for scope, mid, n in rows}


def test_warnings_do_not_grow(result: Result) -> None:
    found, recorded = warning_counts(result), recorded_counts()
    grown = {k: (n, recorded.get(k, 0)) for k, n in found.items() if n > recorded.get(k, 0)}
    assert grown == {}, f"(found, recorded) beyond {WARNINGS.name}: {grown}"


def test_snapshots_are_what_the_engine_generates(result: Result) -> None:
    for path in GUIDE_FILES:
        if path.name.startswith("StructureDefinition-"):
            committed = json.loads(path.read_text())["snapshot"]
            assert tidy(result.snapshots[path.name]["snapshot"]) == committed, path.name


def test_npm_pack_makes_a_fhir_package(tmp_path: Path) -> None:
    with tarfile.open(validator.pack(PROFILES, tmp_path)) as tgz:
        names = set(tgz.getnames())
    assert "package/package.json" in names
    assert {f"package/{p.relative_to(PROFILES)}" for p in GUIDE_FILES} <= names

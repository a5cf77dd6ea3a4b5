"""The official HL7 validator (offline) on the mCODE tumour-marker export, against base R4.

The export claims the mCODE profiles ``mcode-tumor-marker`` (STU1) and
``mcode-tumor-marker-test`` (STU2-4), but the mCODE package cannot be loaded offline:
it depends on US Core and other packages that are not on the registries this
machine can reach (npm carries neither ``hl7.fhir.us.mcode`` nor its dependency
chain).  So the gate here is base FHIR R4 plus THO plus the project's own guide (for
the ``her2-category`` codes): no error.  The engine only warns that it could not check
the two mCODE profiles (``VALIDATION_VAL_PROFILE_UNKNOWN_NOT_POLICY``).  The mCODE
rules themselves (category, code, value, no component) are asserted in
``tests/unit/fhir/test_mcode_marker.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from scripts.build_profiles import PROFILES
from scripts.guide import validator
from scripts.guide.validator import Result, Target
from service.app.derivation import derive
from service.app.tumor_markers import tumor_markers
from service.fhir import jsonio
from service.fhir.mcode_marker import MCODE_PROFILES
from tests.builders import NOW

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "tests" / "fixtures" / "inputs"
# Breast with HER2-low, ultralow/null by IHC 0, a gastro case, preliminary results.
CASES = (
    "breast-ihc2-dual-separate.json",
    "breast-components-parameters.json",
    "serum-ultralow-preliminary.json",
    "gastro-valueratio-tumorsite.json",
)
# Should a later engine make the unknown mCODE profiles an error, only those are allowed.
UNKNOWN_PROFILE = re.compile("|".join(re.escape(p) for p in MCODE_PROFILES))


PLANTED = "planted-two-values.json"


def _exported(tmp: Path) -> list[Target]:
    targets = []
    device = PROFILES / "examples" / "Device-her2-status-service.json"
    for name in CASES:
        payload = jsonio.loads((INPUTS / name).read_bytes())
        bundle = tumor_markers(derive(payload, NOW), NOW).bundle
        for index, entry in enumerate(bundle["entry"]):
            if entry["resource"]["resourceType"] != "Observation":
                continue
            # Alone, as a reader stores it: its references resolve on the server that
            # holds the request's resources; the Device is stored by write-back.
            marker = {**entry["resource"], "device": {"reference": "Device/her2-status-service"}}
            path = tmp / f"{Path(name).stem}-{index}.json"
            path.write_text(jsonio.dumps(marker))
            targets.append(Target(path, server=(INPUTS / name, device)))
    # The shape the matching library's own fixture uses to get a coded marker through
    # its extractor (a valueQuantity beside the valueCodeableConcept): R4 forbids it.
    planted = json.loads(targets[0].path.read_text())
    planted["valueQuantity"] = {"value": 3}
    (tmp / PLANTED).write_text(json.dumps(planted))
    return [*targets, Target(tmp / PLANTED, server=targets[0].server)]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Target], Result]:
    tmp = tmp_path_factory.mktemp("hl7-mcode")
    targets = _exported(tmp)
    package = validator.pack(PROFILES, tmp / "package")
    return targets, validator.run(package, targets)


def _errors(result: Result, target: Target) -> list[dict[str, Any]]:
    issues = result.issues[str(target.path)]
    return [i for i in issues if i["severity"] in ("error", "fatal")]


def test_exported_markers_are_valid_r4(checked: tuple[list[Target], Result]) -> None:
    targets, result = checked
    exported = [t for t in targets if t.path.name != PLANTED]
    assert len(exported) >= len(CASES)
    for target in exported:
        errors = _errors(result, target)
        unexpected = [i for i in errors if not UNKNOWN_PROFILE.search(i["message"])]
        assert unexpected == [], json.dumps(unexpected, indent=1)


def test_a_planted_second_value_is_caught(checked: tuple[list[Target], Result]) -> None:
    """The same run rejects a defect, so the silence above means something."""
    targets, result = checked
    (planted,) = [t for t in targets if t.path.name == PLANTED]
    errors = _errors(result, planted)
    assert any("value" in f"{i['location']} {i['message']}" for i in errors), errors

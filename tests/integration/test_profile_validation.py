"""fhir_profiles/ on a real HAPI server: upload the guide, then $validate examples and outputs.

Policy for terminology that cannot be checked offline (README, "Profile validation"):
LOINC, SNOMED CT, RxNorm, ATC and NCIt are not loaded on the test server.  An error
issue that names one of those systems and says a code could not be checked is
reported as "not verifiable offline" and does not fail the test; every other error
or fatal issue fails it.  The project's own CodeSystems and ValueSets are uploaded,
so their codes are fully checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from service.app.derivation import derive
from service.fhir import jsonio
from service.fhir.codes import CANONICAL
from tests.builders import FIXTURES, NOW
from tests.integration.fhir_server import Fhir

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "fhir_profiles"
INPUTS = sorted((FIXTURES / "inputs").glob("*.json"))
EXTERNAL = re.compile(
    r"loinc\.org|snomed\.info|umls/rxnorm|whocc\.no|ncicb\.nci\.nih\.gov|urn:oid:2\.16\.840\.1\.113883\.6\.1"
)
UNCHECKABLE = re.compile(
    r"unable to validate|unknown code ?system|could not be resolved|not found", re.I
)
PROFILE_OF = {"Observation": "her2-status", "List": "her2-therapy-list"}


@pytest.fixture(scope="module")
def guide(fhir: Fhir) -> Fhir:
    """Upload every StructureDefinition, CodeSystem and ValueSet (package.json is none)."""
    for path in sorted(PROFILES.glob("*.json")):
        resource = jsonio.loads(path.read_text())
        if resource.get("resourceType") in ("StructureDefinition", "CodeSystem", "ValueSet"):
            fhir.put(resource)
    return fhir


def validate(fhir: Fhir, resource: dict[str, Any], profile: str) -> list[dict[str, Any]]:
    """The error/fatal issues that count under the offline terminology policy."""
    url = f"{fhir.base_url}/{resource['resourceType']}/$validate"
    response = fhir.request(
        "POST", url, params={"profile": profile}, data=jsonio.dumps(resource), timeout=120
    )
    outcome = json.loads(response.text)
    assert outcome["resourceType"] == "OperationOutcome", response.text
    counted = []
    for issue in outcome.get("issue", []):
        if issue["severity"] not in ("error", "fatal"):
            continue
        text = issue.get("diagnostics", "")
        if EXTERNAL.search(text) and UNCHECKABLE.search(text):
            continue  # not verifiable offline (policy above)
        counted.append(issue)
    return counted


EXAMPLES = sorted((PROFILES / "examples").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_validates_against_its_profile(guide: Fhir, path: Path) -> None:
    resource = jsonio.loads(path.read_text())
    # The Device the outputs cite claims no profile of the guide: its base profile.
    base = f"http://hl7.org/fhir/StructureDefinition/{resource['resourceType']}"
    assert validate(guide, resource, resource.get("meta", {}).get("profile", [base])[0]) == []


def _outputs() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in INPUTS:
        derivation = derive(jsonio.loads(path.read_text()), NOW)
        for entry in derivation.bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in PROFILE_OF:
                found.append((f"{path.stem}-{resource['resourceType']}", resource))
    return found


OUTPUTS = _outputs()


@pytest.mark.parametrize(("name", "resource"), OUTPUTS, ids=[n for n, _ in OUTPUTS])
def test_real_outputs_validate_against_their_profiles(
    guide: Fhir, name: str, resource: dict[str, Any]
) -> None:
    profile = f"{CANONICAL}/StructureDefinition/{PROFILE_OF[resource['resourceType']]}"
    assert validate(guide, resource, profile) == [], name


def test_validation_is_real(guide: Fhir) -> None:
    resource = jsonio.loads(
        (PROFILES / "examples" / "Observation-example-her2-status.json").read_text()
    )
    resource["component"][0]["code"]["coding"][0]["code"] = "not-a-component"
    errors = validate(guide, resource, f"{CANONICAL}/StructureDefinition/her2-status")
    assert errors
    assert any("not-a-component" in e.get("diagnostics", "") for e in errors)

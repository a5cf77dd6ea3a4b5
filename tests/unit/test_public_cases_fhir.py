"""Every public case, as FHIR input, through read → rules → write (issue: FHIR mapping)."""

from __future__ import annotations

from typing import Any

import pytest

from service.app.derivation import derive
from service.fhir.codes import CS_COMPONENT, CS_INPUT_ERROR, CS_STATUS, SID_STATUS
from tests.builders import NOW, case_to_fhir, public_cases

CASES = public_cases()


def _components(observation: dict[str, Any]) -> dict[str, object]:
    found: dict[str, object] = {}
    for component in observation.get("component", []):
        code = component["code"]["coding"][0]
        assert code["system"] == CS_COMPONENT
        value = component.get("valueBoolean", component.get("valueInteger"))
        if "valueCodeableConcept" in component:
            value = component["valueCodeableConcept"]["coding"][0]["code"]
        found[code["code"]] = value
    return found


def _current_observation(bundle: dict[str, Any]) -> dict[str, Any]:
    observations = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and ":Specimen/current:" in e["resource"]["identifier"][0]["value"]
    ]
    assert len(observations) == 1
    found: dict[str, Any] = observations[0]
    return found


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_public_case_through_fhir(case: dict[str, Any]) -> None:
    expected = case["expected"]
    derivation = derive(case_to_fhir(case), NOW)
    if expected["error"] is not None:
        errors = [i for i in derivation.issues if i.input_error is not None]
        assert [e.input_error for e in errors] == [expected["error"]]
        outcome = derivation.outcome()
        codings = [c for i in outcome["issue"] for c in i.get("details", {}).get("coding", [])]
        assert {"system": CS_INPUT_ERROR, "code": expected["error"]} in codings
        return
    observation = _current_observation(derivation.bundle)
    assert observation["identifier"][0]["system"] == SID_STATUS
    status = [
        c["code"] for c in observation["valueCodeableConcept"]["coding"] if c["system"] == CS_STATUS
    ]
    assert status == [expected["status"]]
    components = _components(observation)
    wanted = {
        "her2-low": expected["her2_low"],
        "her2-ultralow": expected["ultralow"],
        "ish-group": expected["ish_group"],
        "next-step": expected["next_step"],
    }
    # A component is present only when its value is known (contract section 5).
    assert components == {k: v for k, v in wanted.items() if v is not None}

"""The mCODE tumour-marker shape of the status Observation (service/fhir/mcode_marker.py).

Every status x her2_low x ultralow combination (including those the rules never
produce, to prove the mapping never claims more than it is given), and every public
worked example through the real rules; every output is checked with its R4B model.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from typing import Any

import pytest

from service.app.derivation import build_outputs, derive
from service.fhir.codes import CS_STATUS, LOINC, SNOMED, STATUS_CODINGS, V3_INTERPRETATION
from service.fhir.mcode_marker import (
    CS_CATEGORY,
    MCODE_TUMOR_MARKER_STU1,
    MCODE_TUMOR_MARKER_TEST,
    Category,
    category_code,
    tumor_marker,
)
from service.fhir.outbound import Derived
from service.her2 import Her2Result, NextStep, Status, evaluate, therapies_for
from tests.builders import NOW, bundle, ihc_score, public_cases, spec, spec_from_case
from tests.unit.fhir.outputs import validate

POSITIVE_CLAIMS = {(SNOMED, "10828004"), (LOINC, "LA6576-8"), (CS_STATUS, "positive")}
FLAGS = (True, False, None)

# What the category coding must be (her2-rules.md section 2): negatives only, and
# only when her2_low is known; low and ultralow together is contradictory: none.
EXPECTED_CATEGORY: dict[tuple[bool | None, bool | None], str | None] = {
    (True, False): Category.LOW,
    (True, None): Category.LOW,
    (True, True): None,
    (False, True): Category.ULTRALOW,
    (False, False): Category.NULL,
    (False, None): Category.ZERO_NOT_SUBCLASSIFIED,
    (None, True): None,
    (None, False): None,
    (None, None): None,
}


# A real group of a real request (breast, subject, specimen, effective time, inputs).
_GROUP = (
    derive(bundle(ihc_score("ihc-1", "1+", specimen="Specimen/s-1", version="2")), NOW)
    .outputs[0]
    .derived.group
)


def _status_observation(result: Her2Result) -> dict[str, Any]:
    derived = Derived(_GROUP, result, therapies_for(result))
    return build_outputs(derived, NOW).observation


def _codes(concept: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in concept["coding"]]


def _category_codes(marker: dict[str, Any]) -> list[str]:
    return [c for s, c in _codes(marker["valueCodeableConcept"]) if s == CS_CATEGORY]


def _check_shape(marker: dict[str, Any], status: str) -> None:
    """What every exported Observation must be, whatever the result."""
    validate(marker)
    assert marker["meta"]["profile"] == [MCODE_TUMOR_MARKER_STU1, MCODE_TUMOR_MARKER_TEST]
    assert _codes(marker["code"]) == [(LOINC, "48676-1")]
    categories = [_codes(c) for c in marker["category"]]
    assert [("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")] in (
        categories
    )
    assert [(SNOMED, "250724005")] in categories
    assert "component" not in marker  # mCODE STU1: component ..0
    assert len(marker.get("interpretation", [])) <= 1  # mCODE STU1: interpretation ..1
    value = _codes(marker["valueCodeableConcept"])
    snomed, loinc = STATUS_CODINGS[status]
    assert value[0] == snomed[:2]  # SNOMED CT first: extractors read coding[0]
    assert loinc[:2] in value
    assert (CS_STATUS, status) in value
    if status != "positive":
        assert not POSITIVE_CLAIMS & set(value)
        interpretations = [_codes(i) for i in marker.get("interpretation", [])]
        assert [(V3_INTERPRETATION, "POS")] not in interpretations


@pytest.mark.parametrize(
    ("status", "her2_low", "ultralow"),
    list(itertools.product(list(Status), FLAGS, FLAGS)),
)
def test_every_status_and_flag_combination(
    status: Status, her2_low: bool | None, ultralow: bool | None
) -> None:
    base = evaluate(spec("breast", "1+"))
    result = dataclasses.replace(base, status=status, her2_low=her2_low, ultralow=ultralow)
    observation = _status_observation(result)
    before = copy.deepcopy(observation)
    marker = tumor_marker(observation)
    assert observation == before  # the status Observation is not changed
    marker["subject"]["reference"] = "Patient/other"
    marker["valueCodeableConcept"]["coding"][0]["code"] = "changed"
    assert observation == before  # nor shared with the export
    marker = tumor_marker(observation)
    _check_shape(marker, status.value)
    expected = EXPECTED_CATEGORY[(her2_low, ultralow)] if status is Status.NEGATIVE else None
    assert _category_codes(marker) == ([expected] if expected else [])
    assert marker["subject"] == observation["subject"]
    assert marker["status"] == observation["status"]
    for element in ("effectiveDateTime", "specimen", "derivedFrom", "method", "issued"):
        assert marker[element] == observation[element]


def test_every_public_case_keeps_its_category() -> None:
    cases = public_cases()
    assert len(cases) > 40
    seen = set()
    for case in cases:
        expected = case["expected"]
        if expected["error"] is not None:
            continue  # no status Observation is written for an input error
        result = evaluate(spec_from_case(case))
        marker = tumor_marker(_status_observation(result))
        _check_shape(marker, expected["status"])
        category = category_code(expected["status"], expected["her2_low"], expected["ultralow"])
        assert _category_codes(marker) == ([category] if category else []), case["id"]
        seen.add(category)
    assert seen >= {Category.LOW, Category.ULTRALOW, Category.NULL, None}


@pytest.mark.parametrize(
    ("ihc", "assessed", "category"),
    [
        ("1+", True, Category.LOW),
        ("0-ultralow", True, Category.ULTRALOW),
        ("0", True, Category.NULL),
        ("0", False, Category.ZERO_NOT_SUBCLASSIFIED),
        ("3+", True, None),
        ("2+", True, None),
    ],
)
def test_breast_ihc_alone(ihc: str, assessed: bool, category: str | None) -> None:
    result = evaluate(spec("breast", ihc, ihc0_ultralow_assessed=assessed))
    marker = tumor_marker(_status_observation(result))
    assert _category_codes(marker) == ([category] if category else [])
    if category is not None:
        assert marker["valueCodeableConcept"]["text"].startswith("HER2 negative (")


def test_gastroesophageal_and_unknown_site_negatives_get_no_category() -> None:
    for site in ("gastroesophageal", None):
        result = evaluate(spec(site, "1+"))
        assert result.status is Status.NEGATIVE
        assert _category_codes(tumor_marker(_status_observation(result))) == []


def test_ish_group_and_next_step_are_kept_in_the_note() -> None:
    result = evaluate(spec("breast", "2+"))
    result = dataclasses.replace(
        result, ish_group=4, next_step=NextStep.ISH_RECOUNT_BLINDED_OBSERVER
    )
    marker = tumor_marker(_status_observation(result))
    text = "\n".join(n["text"] for n in marker["note"])
    assert "ISH group (ASCO/CAP 2018): 4." in text
    assert "ish_recount_blinded_observer" in text


def test_a_resource_that_is_not_a_status_observation_is_refused() -> None:
    with pytest.raises(ValueError, match="not a her2-status"):
        tumor_marker({"resourceType": "Observation", "valueCodeableConcept": {"coding": []}})

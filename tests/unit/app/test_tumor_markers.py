"""The ``$her2-tumor-marker`` answer built from a derivation (service/app/tumor_markers.py)."""

from __future__ import annotations

from typing import Any

from service.app.derivation import DEVICE_URL, derive
from service.app.tumor_markers import NO_SUBJECT, tumor_markers
from service.fhir.mcode_marker import CS_CATEGORY, MCODE_PROFILES
from tests.builders import NOW, bundle, case_to_fhir, ihc_score, public_cases
from tests.unit.fhir.outputs import validate_bundle


def _markers(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in answer["entry"]
        if e["resource"].get("meta", {}).get("profile") == list(MCODE_PROFILES)
    ]


def test_every_public_case_as_fhir_exports_one_valid_marker_per_status() -> None:
    categories: set[str] = set()
    for case in public_cases():
        derivation = derive(case_to_fhir(case), NOW)
        export = tumor_markers(derivation, NOW)
        assert export.count == len(derivation.outputs), case["id"]
        if not export.count:
            continue
        types = validate_bundle(export.bundle)
        assert types.count("Observation") == export.count
        assert "Device" in types
        for marker in _markers(export.bundle):
            assert marker["device"] == {"reference": DEVICE_URL}  # resolvable in the Bundle
            codings = marker["valueCodeableConcept"]["coding"]
            categories.update(c["code"] for c in codings if c["system"] == CS_CATEGORY)
    assert categories == {"her2-low", "her2-ultralow", "her2-null", "her2-0"}


def test_a_group_without_a_subject_reference_is_left_out_and_said() -> None:
    no_subject = ihc_score("ihc-a", "1+", subject=None, specimen="Specimen/a")
    with_subject = ihc_score("ihc-b", "3+", specimen="Specimen/b")
    derivation = derive(bundle(no_subject, with_subject), NOW)
    assert len(derivation.outputs) == 2
    export = tumor_markers(derivation, NOW)
    assert export.count == 1
    assert NO_SUBJECT in export.issues
    types = validate_bundle(export.bundle)
    assert types == ["Observation", "Device", "OperationOutcome"]


def test_nothing_exportable_counts_zero() -> None:
    derivation = derive(ihc_score("ihc-a", "1+", subject=None), NOW)
    export = tumor_markers(derivation, NOW)
    assert export.count == 0
    assert export.issues == [NO_SUBJECT]

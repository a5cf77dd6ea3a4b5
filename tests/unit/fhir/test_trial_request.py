"""Reading the mCODE /getClinicalTrial body and the trial filters (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir.research_study_codes import (
    PHASES,
    STATUSES,
    ctgov_phases,
    ctgov_statuses,
    fhir_phase,
    fhir_status,
)
from service.fhir.trial_request import (
    TrialFilters,
    TrialRequestError,
    read_filters,
    read_match_request,
)
from tests.builders.trials import mcode_request, with_parameters

SECRET = "Jane-Doe-1968"  # stands for request text that must never come back


def _refused(body: Any) -> str:
    with pytest.raises(TrialRequestError) as info:
        read_match_request(body)
    (issue,) = info.value.issues
    assert SECRET not in issue.diagnostics
    return issue.code


def test_the_library_shaped_body_gives_the_patient_resources_and_the_filters() -> None:
    body = mcode_request("breast-her2-low")
    asked = read_match_request(body)
    payload, filters = asked.payload, asked.filters
    assert asked.patient == f"Patient/{body['entry'][0]['resource']['id']}"
    kinds = [e["resource"]["resourceType"] for e in payload["entry"]]
    assert payload["type"] == "collection"
    assert kinds == ["Patient", "Condition", "Observation", "Observation"]
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in payload["entry"])
    assert filters == TrialFilters(
        frozenset({"RECRUITING", "ENROLLING_BY_INVITATION", "ACTIVE"}),
        frozenset({"PHASE3", "PHASE-3"}),
    )


def test_zip_code_and_travel_radius_are_accepted_and_no_filter() -> None:
    body = with_parameters(mcode_request("breast-her2-low"), zipCode="01730", travelRadius="25")
    assert read_match_request(body).filters == TrialFilters()


def test_a_patient_without_a_valid_id_is_named_inside_the_request() -> None:
    body = mcode_request("breast-her2-low")
    body["entry"][0]["resource"]["id"] = "search_patient"  # as the mCODE app names it
    asked = read_match_request(body)
    assert asked.patient == "Patient/request-patient"
    assert asked.payload["entry"][0]["resource"]["id"] == "request-patient"
    assert body["entry"][0]["resource"]["id"] == "search_patient"  # the request is not changed


@pytest.mark.parametrize("full_url", [True, False])
def test_resources_without_subject_are_the_patients(full_url: bool) -> None:
    body = mcode_request("breast-her2-low")
    patient_url = body["entry"][0]["fullUrl"]
    for entry in body["entry"]:
        entry["resource"].pop("subject", None)
        if not full_url:
            entry.pop("fullUrl", None)
    asked = read_match_request(body)
    expected = patient_url if full_url else asked.patient
    subjects = [
        e["resource"]["subject"]["reference"]
        for e in asked.payload["entry"]
        if e["resource"]["resourceType"] != "Patient"
    ]
    assert subjects == [expected] * 3
    assert all("subject" not in e["resource"] for e in body["entry"])


@pytest.mark.parametrize("pid", [None, "search_patient"])  # its own id; one that is no FHIR id
def test_a_subject_naming_the_patient_in_any_form_is_taken_as_one_reference(
    pid: str | None,
) -> None:
    body = mcode_request("breast-her2-low")
    if pid is not None:
        body["entry"][0]["resource"]["id"] = pid
    named = body["entry"][0]["resource"]["id"]
    body["entry"][2]["resource"]["subject"] = {"reference": f"Patient/{named}"}
    kept = read_match_request(body).payload["entry"]
    patient_url = body["entry"][0]["fullUrl"]
    assert kept[2]["resource"]["subject"] == {"reference": patient_url}
    assert kept[3]["resource"]["subject"]["reference"] == patient_url


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "Patient/someone-else"},
        {"reference": f"Patient/{SECRET} x"},  # not a valid reference: cannot be read
        {"display": SECRET},
        {"identifier": {"system": "urn:mrn", "value": SECRET}},
        {"reference": "Group/g1"},
        f"Patient/{SECRET}",
        None,
    ],
)
def test_a_subject_that_is_not_the_patient_is_refused(subject: Any) -> None:
    # Never taken for the Patient's: another patient's result must not make this
    # patient a candidate (and a subject the derivation cannot read is no exception).
    body = mcode_request("breast-her2-low")
    body["entry"][2]["resource"]["subject"] = subject
    assert _refused(body) == "invariant"


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Bundle", "type": ["collection"], "entry": []},
        {"resourceType": "Bundle", "type": {}, "entry": []},
    ],
)
def test_a_bundle_type_that_is_no_string_is_refused(body: Any) -> None:
    assert _refused(body) == "structure"


@pytest.mark.parametrize("kind", [["Patient"], {}, 7])
def test_an_entry_whose_resource_type_is_no_string_is_left_out(kind: Any) -> None:
    body = mcode_request("breast-her2-low")
    body["entry"].append({"resource": {"resourceType": kind}})
    kept = read_match_request(body).payload["entry"]
    assert len(kept) == 4


@pytest.mark.parametrize(
    "body",
    [
        [],
        "Bundle",
        {"resourceType": "Parameters", "parameter": []},
        {"resourceType": "Bundle", "type": "collection"},
        {"resourceType": "Bundle", "type": SECRET, "entry": []},
        {"resourceType": "Bundle", "type": "collection", "entry": {}},
        {"patientData": {}},  # the library's own "bad patient data" test body
    ],
)
def test_anything_but_a_bundle_with_an_entry_list_is_refused(body: Any) -> None:
    assert _refused(body) == "structure"


def test_a_bundle_without_exactly_one_patient_is_refused() -> None:
    empty = {"resourceType": "Bundle", "type": "collection", "entry": []}
    assert _refused(empty) == "required"
    body = mcode_request("breast-her2-low")
    twice = {**body, "entry": [body["entry"][0], *body["entry"]]}
    assert _refused(twice) == "required"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("phase", SECRET),
        ("phase", "PHASE3"),
        ("recruitmentStatus", "RECRUITING"),
        ("recruitmentStatus", ""),
        ("phase", "phase-1,nope"),
    ],
)
def test_a_filter_that_is_no_fhir_code_is_refused_by_name(name: str, value: str) -> None:
    body = with_parameters(mcode_request("breast-her2-low"), **{name: value})
    with pytest.raises(TrialRequestError) as info:
        read_match_request(body)
    (issue,) = info.value.issues
    assert (issue.code, issue.expression) == ("value", name)
    assert value not in issue.diagnostics or value == ""


def test_a_filter_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TrialRequestError):
        read_filters(3, None)


def test_comma_separated_codes_are_alternatives() -> None:
    filters = read_filters("approved, closed-to-accrual", "phase-1-phase-2")
    assert filters.statuses == frozenset(
        {
            "NOT_YET_RECRUITING",
            "APPROVED",
            "ACTIVE_NOT_RECRUITING",
            "NO_LONGER_AVAILABLE",
            "CLOSED-TO-ACCRUAL",
        }
    )
    assert filters.phases == frozenset({"PHASE1", "PHASE2", "PHASE-1-PHASE-2"})


def test_every_fhir_status_is_a_filter_and_ctgov_values_map_back() -> None:
    assert len(STATUSES) == 11  # FHIR R4 research-study-status
    for code, values in STATUSES.items():
        assert ctgov_statuses([code]) >= values
        for value in values:
            assert fhir_status(value) == code
    assert fhir_status("active") == "active"  # a FHIR code is kept
    assert fhir_status(None) == fhir_status("SOMETHING_NEW") == "in-review"


def test_phases_map_as_the_mcode_library_maps_them() -> None:
    assert len(PHASES) == 8  # research-study-phase
    assert fhir_phase(("PHASE1", "PHASE2")) == {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/research-study-phase",
                "code": "phase-1-phase-2",
                "display": "Phase 1/Phase 2",
            }
        ],
        "text": "Phase 1/Phase 2",
    }
    assert fhir_phase(("PHASE3",))["text"] == "Phase 3"  # type: ignore[index]
    assert fhir_phase(("phase-4",))["text"] == "Phase 4"  # type: ignore[index]
    assert fhir_phase(()) is None
    assert fhir_phase(("PHASE1", "PHASE3")) is None  # no such FHIR code: left out
    assert ctgov_phases(["n-a"]) == {"NA", "N-A"}

"""ResearchStudy (+ enrollment Groups) → Study (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir.research_study_codes import ctgov_statuses, fhir_status
from service.fhir.research_study_in import (
    PHASE_TO_CTGOV,
    STATUS_TO_CTGOV,
    NotAResearchStudy,
    enrollment_groups,
    study_from_research_study,
)
from service.her2 import Site, Status
from service.trials.matching import Outcome, PatientHer2, match_study
from service.trials.model import CriterionKind, Section
from tests.builders.trials import (
    SNOMED,
    component,
    concept,
    group,
    interpretation,
    research_study,
)

BASE = "http://ehr.test/fhir"
LOW_TEXT = "Inclusion Criteria:\n- HER2-low breast cancer (IHC 1+ or IHC 2+/ISH-negative)"
R4_STATUSES = [
    "active",
    "administratively-completed",
    "approved",
    "closed-to-accrual",
    "closed-to-accrual-and-intervention",
    "completed",
    "disapproved",
    "in-review",
    "temporarily-closed-to-accrual",
    "temporarily-closed-to-accrual-and-intervention",
    "withdrawn",
]
EXPECTED_STATUS = {
    "active": "RECRUITING",
    "administratively-completed": "TERMINATED",
    "approved": "NOT_YET_RECRUITING",
    "closed-to-accrual": "ACTIVE_NOT_RECRUITING",
    "closed-to-accrual-and-intervention": "CLOSED-TO-ACCRUAL-AND-INTERVENTION",
    "completed": "COMPLETED",
    "disapproved": "DISAPPROVED",
    "in-review": "UNKNOWN",
    "temporarily-closed-to-accrual": "SUSPENDED",
    "temporarily-closed-to-accrual-and-intervention": (
        "TEMPORARILY-CLOSED-TO-ACCRUAL-AND-INTERVENTION"
    ),
    "withdrawn": "WITHDRAWN",
}
LOW = {Site.BREAST: PatientHer2(Site.BREAST, Status.NEGATIVE, her2_low=True, ultralow=False)}
POSITIVE = {Site.BREAST: PatientHer2(Site.BREAST, Status.POSITIVE, her2_low=False, ultralow=False)}


def read(resource: dict[str, Any], groups: dict[str, Any] | None = None) -> Any:
    return study_from_research_study(resource, groups, BASE)


@pytest.mark.parametrize("status", R4_STATUSES)
def test_every_r4_status_is_mapped(status: str) -> None:
    assert read(research_study("rs", status=status)).overall_status == EXPECTED_STATUS[status]


def test_status_table_covers_r4_exactly_and_only_active_recruits() -> None:
    assert set(STATUS_TO_CTGOV) == set(R4_STATUSES)
    assert [s for s, v in STATUS_TO_CTGOV.items() if v == "RECRUITING"] == ["active"]


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("n-a", ("NA",)),
        ("early-phase-1", ("EARLY_PHASE1",)),
        ("phase-1", ("PHASE1",)),
        ("phase-1-phase-2", ("PHASE1", "PHASE2")),
        ("phase-2", ("PHASE2",)),
        ("phase-2-phase-3", ("PHASE2", "PHASE3")),
        ("phase-3", ("PHASE3",)),
        ("phase-4", ("PHASE4",)),
        ("phase-5", ()),
    ],
)
def test_every_phase_code(phase: str, expected: tuple[str, ...]) -> None:
    assert read(research_study("rs", phase=phase)).phases == expected


def test_phase_table_size_and_other_systems() -> None:
    assert len(PHASE_TO_CTGOV) == 8
    resource = research_study("rs", phase=None)
    resource["phase"] = {
        "coding": [{"system": "http://example.org/phase", "code": "phase-3"}],
        "text": "Phase 3",
    }
    assert read(resource).phases == ()
    assert read(research_study("rs", phase=None)).phases == ()


@pytest.mark.parametrize(
    ("identifiers", "expected"),
    [
        ([{"system": "http://clinicaltrials.gov/", "value": "NCT03734029"}], "NCT03734029"),
        ([{"system": "http://clinicaltrials.gov", "value": "NCT03734029"}], "NCT03734029"),
        (
            [
                {"system": "http://sponsor.example/id", "value": "DS8201-A-U303"},
                {"system": "http://other.example/registry", "value": "NCT04494425"},
            ],
            "NCT04494425",
        ),
        ([{"system": "http://sponsor.example/id", "value": "DS8201-A-U303"}], "rs-1"),
        ([{"system": "http://sponsor.example/id", "value": "NCT123"}], "rs-1"),
        ([], "rs-1"),
    ],
)
def test_nct_identifier_is_preferred(identifiers: list[dict[str, str]], expected: str) -> None:
    resource = research_study("rs-1")
    resource["identifier"] = identifiers
    assert read(resource).study_id == expected


def test_title_conditions_keywords_and_text() -> None:
    resource = research_study(
        "rs",
        title="DESTINY-Breast04",
        conditions=("HER2-low Breast Cancer",),
        eligibility=LOW_TEXT,
    )
    resource["condition"].append(concept(SNOMED, "254837009", "Malignant neoplasm of breast"))
    resource["keyword"] = [{"text": "HER2-low"}, concept("http://example.org", "k", "T-DXd")]
    resource["description"] = "Inclusion Criteria:\n- HER2-positive"  # the summary: not read
    study = read(resource)
    assert study.title == "DESTINY-Breast04"
    assert study.conditions == ("HER2-low Breast Cancer", "Malignant neoplasm of breast")
    assert study.keywords == ("HER2-low", "T-DXd")
    assert study.eligibility == LOW_TEXT
    assert study.coded is None
    assert match_study(study, LOW).outcome is Outcome.CANDIDATE


def test_mcode_shape_empty_contained_group_with_the_text_as_display() -> None:
    resource = research_study("rs", contained=group("grouprs"), eligibility=LOW_TEXT)
    assert resource["enrollment"] == [{"reference": "#grouprs", "display": LOW_TEXT}]
    study = read(resource)
    assert study.eligibility == LOW_TEXT
    assert study.coded is None


def test_contained_coded_group_replaces_the_text() -> None:
    coded = group("g", component("her2-low", True), interpretation((SNOMED, "10828004"), True))
    resource = research_study(
        "rs", contained=coded, eligibility="Inclusion Criteria:\n- HER2-positive"
    )
    study = read(resource)
    assert study.coded is not None
    assert [(c.kind, c.section) for c in study.coded] == [
        (CriterionKind.HER2_LOW, Section.INCLUSION),
        (CriterionKind.HER2_POSITIVE, Section.EXCLUSION),
    ]
    assert match_study(study, LOW).outcome is Outcome.CANDIDATE
    assert match_study(study, POSITIVE).outcome is Outcome.EXCLUDED


def test_non_her2_characteristics_leave_the_text() -> None:
    age = {
        "code": {"text": "Age"},
        "valueRange": {"low": {"value": 18}},
        "exclude": False,
    }
    study = read(research_study("rs", contained=group("g", age), eligibility=LOW_TEXT))
    assert study.coded is None
    assert match_study(study, LOW).outcome is Outcome.CANDIDATE


@pytest.mark.parametrize("reference", ["Group/g-1", f"{BASE}/Group/g-1"])
def test_referenced_group_from_the_server(reference: str) -> None:
    resource = research_study("rs", enrollment=reference)
    assert enrollment_groups(resource, BASE) == ["Group/g-1"]
    study = read(resource, {"Group/g-1": group("g-1", component("her2-ultralow", True))})
    assert study.coded is not None
    assert [c.kind for c in study.coded] == [CriterionKind.HER2_ULTRALOW]


def test_a_group_on_another_server_is_not_fetched_nor_confused() -> None:
    resource = research_study("rs", enrollment="http://elsewhere.test/fhir/Group/g-1")
    assert enrollment_groups(resource, BASE) == []
    study = read(resource, {"Group/g-1": group("g-1", component("her2-low", True))})
    assert study.coded is not None
    assert [c.kind for c in study.coded] == [CriterionKind.NOT_UNDERSTOOD]


def test_a_referenced_group_not_found_is_not_understood() -> None:
    resource = research_study("rs", enrollment="Group/gone", eligibility=LOW_TEXT)
    study = read(resource, {})
    assert study.coded is not None
    assert [(c.kind, c.source) for c in study.coded] == [
        (CriterionKind.NOT_UNDERSTOOD, "characteristic")
    ]
    assert match_study(study, LOW).outcome is Outcome.NOT_UNDERSTOOD


def test_missing_contained_group_is_not_understood() -> None:
    resource = research_study("rs", eligibility=LOW_TEXT)
    resource["enrollment"] = [{"reference": "#nowhere", "display": LOW_TEXT}]
    study = read(resource)
    assert study.coded is not None
    assert study.coded[0].kind is CriterionKind.NOT_UNDERSTOOD


@pytest.mark.parametrize(
    "broken",
    [
        {"resourceType": "Observation", "id": "x", "status": "final", "code": {"text": "x"}},
        {"resourceType": "ResearchStudy", "id": "x"},  # status is required
        {"resourceType": "ResearchStudy", "id": "x", "status": "active", "phase": "phase-3"},
        {"resourceType": "ResearchStudy", "id": "x", "status": "active", "unknownElement": 1},
        {
            "resourceType": "ResearchStudy",
            "id": "x",
            "status": "active",
            "contained": [{"resourceType": "Group", "id": "g", "type": "person"}],
            "enrollment": [{"reference": "#g"}],
        },
    ],
)
def test_invalid_resources_are_not_studies(broken: dict[str, Any]) -> None:
    with pytest.raises(NotAResearchStudy) as raised:
        read(broken)
    assert "x" not in str(raised.value).split()


def test_an_invalid_referenced_group_makes_the_study_unreadable() -> None:
    resource = research_study("rs", enrollment="Group/g")
    invalid = group("g", component("her2-low", True)) | {"actual": "perhaps"}
    with pytest.raises(NotAResearchStudy):
        read(resource, {"Group/g": invalid})


def test_a_status_filter_keeps_a_research_study_of_that_status_and_no_other() -> None:
    # Both trial sources meet one filter: a ResearchStudy read with FHIR status c must
    # be kept by the recruitmentStatus filter c, and by no filter of another code.
    for code, ctgov in STATUS_TO_CTGOV.items():
        assert ctgov in ctgov_statuses([code]), code
        assert fhir_status(ctgov) == code
        others = [c for c in STATUS_TO_CTGOV if c != code]
        assert ctgov not in ctgov_statuses(others), code

"""Trials from ResearchStudy resources on a real HAPI FHIR server, matched for a patient.

Seeded on the session's HAPI (tokens from Keycloak): studies whose HER2 eligibility is
text only, coded in a contained Group, coded in a Group of its own, and one whose Group
is missing; and a patient's HER2 IHC result.  The service's own parts read them
through the authenticated FHIR client: ``FhirResearchStudies`` (paging, the bound, the
Group search), the patient's derivation (``service.app.patient``), its current
result (``current_her2``) and matching.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from service.app.fhir_store import FhirStore
from service.app.patient import derive_patient
from service.app.trial_matching import current_her2
from service.clients.errors import FhirForbidden
from service.clients.fhir import FhirClient
from service.clients.research_studies import FhirResearchStudies
from service.settings import DerivationSettings
from service.trials.matching import Outcome, match_studies
from tests.builders import concept, observation
from tests.builders.trials import SNOMED, component, group, interpretation, research_study
from tests.integration.fhir_server import RUN, Fhir
from tests.integration.keycloak import SERVICE_CLIENT, Keycloak

READ_SCOPES = (
    "system/Observation.rs system/DiagnosticReport.rs system/Specimen.rs system/Condition.rs"
)
TRIAL_SCOPES = f"{READ_SCOPES} system/ResearchStudy.rs system/Group.rs"
LOW_TEXT = (
    "Inclusion Criteria:\n"
    "- Pathologically documented breast cancer that is HER2-low (IHC 1+ or IHC 2+/ISH-)\n"
    "Exclusion Criteria:\n"
    "- Prior HER2-targeted therapy"
)
POSITIVE_TEXT = "Inclusion Criteria:\n- HER2-positive (IHC 3+ or ISH amplified) breast cancer"


def rid(name: str) -> str:
    return f"h2-{RUN}-{name}"


@pytest.fixture(scope="module")
def seeded(fhir: Fhir) -> dict[str, str]:
    """The seeded studies, by role: role -> the Study id the source should report."""
    separate = group(rid("g-pos"), interpretation((SNOMED, "10828004")))
    fhir.put(separate)
    studies = {
        # Text only (the mCODE shape: an empty contained Group, the text as display).
        "text": research_study(
            rid("rs-text"),
            nct="NCT99000001",
            contained=group("eligibility"),
            eligibility=LOW_TEXT,
        ),
        # Coded, contained: HER2-low required, HER2-positive excluded; the text is not read.
        "contained": research_study(
            rid("rs-contained"),
            contained=group(
                "g",
                component("her2-low", True),
                interpretation((SNOMED, "10828004"), exclude=True),
                {"code": {"text": "Age"}, "valueBoolean": True, "exclude": False},
            ),
            eligibility=POSITIVE_TEXT,
        ),
        # Coded in a Group resource of its own: HER2-positive required.
        "separate": research_study(
            rid("rs-separate"), enrollment=f"Group/{rid('g-pos')}", eligibility=LOW_TEXT
        ),
        # A referenced Group the server does not have.
        "missing": research_study(
            rid("rs-missing"), enrollment=f"Group/{rid('g-none')}", eligibility=LOW_TEXT
        ),
        # Closed to accrual, phase 2: dropped by a recruiting filter.
        "closed": research_study(
            rid("rs-closed"), status="closed-to-accrual", phase="phase-2", eligibility=LOW_TEXT
        ),
    }
    for resource in studies.values():
        fhir.put(resource)
    ids = {role: resource["id"] for role, resource in studies.items()}
    ids["text"] = "NCT99000001"
    return ids


def client(fhir_base_url: str, keycloak: Keycloak, scopes: str, calls: list[str]) -> FhirClient:
    return FhirClient(
        fhir_base_url,
        tokens=keycloak.tokens(SERVICE_CLIENT, scopes),
        page_size=2,
        observe=lambda method, outcome, _seconds: calls.append(f"{method} {outcome}"),
    )


def ours(studies: Any, seeded: dict[str, str]) -> dict[str, Any]:
    """The studies this run seeded, by role (the session's server may hold others)."""
    roles = {study_id: role for role, study_id in seeded.items()}
    return {roles[s.study_id]: s for s in studies if s.study_id in roles}


def test_studies_read_and_matched_for_a_her2_low_patient(
    fhir: Fhir,
    fhir_base_url: str,
    keycloak_server: Keycloak,
    patient_id: str,
    seeded: dict[str, str],
) -> None:
    on = {
        "subject": f"Patient/{patient_id}",
        "specimen": f"Specimen/{patient_id}-s1",
        "effective": "2026-05-01",
    }
    fhir.put(observation(f"{patient_id}-ihc", "85319-2", **on, **concept("LA11841-6")))
    calls: list[str] = []
    fhir_client = client(fhir_base_url, keycloak_server, TRIAL_SCOPES, calls)
    source = FhirResearchStudies(fhir_client)

    read = source.read()
    studies = ours(read.studies, seeded)

    assert set(studies) == set(seeded)
    assert read.skipped == 0
    assert not read.truncated
    # Five studies at two a page: at least three pages, then one Group search.
    assert calls.count("GET ok") >= 4
    assert studies["text"].coded is None
    assert studies["closed"].overall_status == "ACTIVE_NOT_RECRUITING"
    assert studies["closed"].phases == ("PHASE2",)

    settings = DerivationSettings()
    payload = FhirStore(fhir_client).patient_inputs(patient_id, settings.code_map.kinds.keys())
    derivation = derive_patient(payload, dt.datetime.now(dt.UTC), settings)
    assert derivation.usable
    current = current_her2(derivation.derived)
    matches = match_studies(studies.values(), current)
    outcomes = {m.study.study_id: m.outcome for m in matches}
    assert outcomes == {
        seeded["text"]: Outcome.CANDIDATE,
        seeded["contained"]: Outcome.CANDIDATE,
        seeded["separate"]: Outcome.EXCLUDED,
        seeded["missing"]: Outcome.NOT_UNDERSTOOD,
        seeded["closed"]: Outcome.CANDIDATE,
    }
    contained = next(m for m in matches if m.study.study_id == seeded["contained"])
    assert {f.criterion.source for f in contained.findings if f.criterion} == {"characteristic"}
    recruiting = match_studies(studies.values(), current, statuses=["RECRUITING"])
    assert seeded["closed"] not in {m.study.study_id for m in recruiting}
    assert len(recruiting) == 4


def test_the_bound_and_the_group_batches(
    fhir_base_url: str, keycloak_server: Keycloak, seeded: dict[str, str]
) -> None:
    calls: list[str] = []
    fhir_client = client(fhir_base_url, keycloak_server, TRIAL_SCOPES, calls)
    bounded = FhirResearchStudies(fhir_client, max_studies=3, group_batch=1)
    read = bounded.read()
    assert len(read.studies) == 3
    assert read.truncated

    calls.clear()
    everything = FhirResearchStudies(fhir_client, group_batch=1)
    found = everything.studies()
    studies = ours(found, seeded)
    assert [c.kind.value for c in studies["separate"].coded or ()] == ["her2_positive"]
    # Two referenced Groups (one missing), one id a request: two Group searches at least.
    pages = -(-len(found) // 2)
    assert calls.count("GET ok") >= pages + 2


def test_without_the_research_study_scope_the_server_refuses(
    fhir_base_url: str, keycloak_server: Keycloak, seeded: dict[str, str]
) -> None:
    calls: list[str] = []
    fhir_client = client(fhir_base_url, keycloak_server, READ_SCOPES, calls)
    with pytest.raises(FhirForbidden):
        FhirResearchStudies(fhir_client).studies()
    assert seeded  # the studies exist: the refusal is the scope's

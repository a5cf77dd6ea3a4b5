"""The trial endpoints on a real HAPI FHIR server, with Keycloak tokens both ways.

``Patient/{id}/$her2-trial-candidates`` reads the patient's HER2 IHC from the session's
HAPI (through the authenticated FHIR client, as ``Patient/{id}/$her2-status`` does) and
matches it against the ClinicalTrials.gov fixtures (``HER2_TRIALS_DIR``);
``/getClinicalTrial`` answers the mCODE-shaped body with the same token; with
``HER2_TRIALS_FHIR=on`` the ResearchStudy resources seeded on HAPI are matched too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from service.settings import DEFAULT_SMART_SCOPES, TrialSettings
from service.settings.fhir import TRIAL_SMART_SCOPES
from tests.builders import concept, observation
from tests.builders.trials import CTGOV, group, interpretation, mcode_request, research_study
from tests.integration.fhir_server import Fhir
from tests.integration.keycloak import Keycloak

LOW_TEXT = (
    "Inclusion Criteria:\n"
    "- Pathologically documented breast cancer that is HER2-low (IHC 1+ or IHC 2+/ISH-)\n"
)

OP = "/fhir/Patient/{}/$her2-trial-candidates"


def _scores(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.data
    return {
        e["resource"]["id"]: e["search"]["score"]
        for e in response.json["entry"]
        if e["search"]["mode"] == "match"
    }


def test_a_her2_low_patient_on_the_fhir_server_gets_her2_low_candidates(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    on = {"subject": f"Patient/{patient_id}", "specimen": f"Specimen/{patient_id}-s1"}
    fhir.put(
        observation(
            f"{patient_id}-ihc", "85319-2", effective="2026-05-01", **on, **concept("LA11841-6")
        )
    )
    service = service_factory(trials=TrialSettings(CTGOV))
    found = _scores(service.get(OP.format(patient_id) + "?recruitmentStatus=active"))
    assert found == {"NCT03734029": 1, "FIXTURE-GASTRIC-POS": 0}  # breast HER2-low; other site
    assert _scores(service.get(OP.format(patient_id)))["NCT02614794"] == 0  # HER2-positive
    body = json.dumps(mcode_request("breast-her2-low"))
    answer = service.post("/getClinicalTrial", data=body, content_type="application/json")
    assert _scores(answer) == {"NCT03734029": 1}


def test_trials_stored_on_the_fhir_server_are_matched_when_switched_on(
    fhir: Fhir,
    patient_id: str,
    keycloak_server: Keycloak,
    service_factory: Callable[..., FlaskClient],
) -> None:
    # HER2_TRIALS_FHIR=on: the ResearchStudy resources of the EHR's server are a trial
    # source; the service's token asks for their read scopes besides the default ones.
    on = {"subject": f"Patient/{patient_id}", "specimen": f"Specimen/{patient_id}-s1"}
    fhir.put(
        observation(
            f"{patient_id}-ihc", "85319-2", effective="2026-05-01", **on, **concept("LA11841-6")
        )
    )
    low, positive = f"{patient_id}-rs-low", f"{patient_id}-rs-pos"
    fhir.put(research_study(low, eligibility=LOW_TEXT))
    fhir.put(research_study(positive, contained=group("g", interpretation())))
    scopes = f"{DEFAULT_SMART_SCOPES} {TRIAL_SMART_SCOPES}"
    service = service_factory(
        trials=TrialSettings(from_fhir=True, refresh_seconds=0),
        fhir_smart=keycloak_server.service_smart(scopes=scopes),
    )
    found = _scores(service.get(OP.format(patient_id)))
    assert (found[low], found[positive]) == (1, 0)  # HER2-low text; coded HER2-positive
    # Without the switch the same server's studies are no trial source at all.
    plain = service_factory(trials=TrialSettings(CTGOV))
    assert low not in _scores(plain.get(OP.format(patient_id)))

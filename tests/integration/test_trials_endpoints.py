"""The trial endpoints on a real HAPI FHIR server, with Keycloak tokens both ways.

``Patient/{id}/$her2-trial-candidates`` reads the patient's HER2 IHC from the session's
HAPI (through the authenticated FHIR client, as ``Patient/{id}/$her2-status`` does) and
matches it against the ClinicalTrials.gov fixtures (``HER2_TRIALS_DIR``);
``/getClinicalTrial`` answers the mCODE-shaped body with the same token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from service.settings import TrialSettings
from tests.builders import concept, observation
from tests.builders.trials import CTGOV, mcode_request
from tests.integration.fhir_server import Fhir

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

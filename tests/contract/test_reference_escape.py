"""A Specimen reference that escapes the FHIR path is never requested from the server."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import responses

from service.api import create_app
from service.clients.errors import FhirInvalidReference
from service.clients.fhir import FhirClient
from service.settings import AuthSettings, Settings

BASE = "http://ehr.test/fhir"


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


@pytest.mark.parametrize(
    "reference", ["Specimen/../../admin/secret", "Specimen/..", "Specimen/a?x=1", "Specimen/a/b/c"]
)
@responses.activate
def test_patient_operation_never_requests_an_escaping_reference(
    tmp_path: Path, reference: str
) -> None:
    ihc = {
        "resourceType": "Observation",
        "id": "ihc",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85319-2"}]},
        "subject": {"reference": "Patient/p1"},
        "specimen": {"reference": reference},
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA11843-2"}]},
    }
    responses.get(f"{BASE}/Observation", body=json.dumps(searchset(ihc)))
    for resource_type in ("DiagnosticReport", "Condition"):
        responses.get(f"{BASE}/{resource_type}", json=searchset())
    settings = Settings(
        fhir_base_url=BASE,
        fhir_token="secret-token",
        lock_dir=tmp_path,
        retries=0,
        auth=AuthSettings.off(),
    )
    app = create_app(settings, clock=lambda: dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    response = app.test_client().post(
        "/fhir/Patient/p1/$her2-status",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "persist", "valueBoolean": False}],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    requested = [str(call.request.url) for call in responses.calls]
    searches = ("/Observation", "/DiagnosticReport", "/Condition")
    assert all(url.split("?")[0].endswith(searches) for url in requested), requested
    assert "reference grammar" in response.get_data(as_text=True)


@responses.activate
def test_the_client_refuses_to_read_outside_the_grammar() -> None:
    client = FhirClient(BASE, retries=0)
    with pytest.raises(FhirInvalidReference):
        client.read("Specimen/../../admin/secret")
    assert len(responses.calls) == 0

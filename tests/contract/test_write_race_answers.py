"""HAPI's answers to lost write races (409, HAPI-0825) become 409 or success, never 502."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import responses

from service.api import create_app
from service.settings import AuthSettings, Settings

BASE = "http://ehr.test/fhir"
DEVICE = f"{BASE}/Device/her2-status-service"
HAPI_0825 = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "processing",
            "diagnostics": "HAPI-0550: HAPI-0825: The operation has failed with a "
            "client-assigned ID constraint failure.",
        }
    ],
}
IHC = {
    "resourceType": "Observation",
    "id": "ihc",
    "meta": {"versionId": "1"},
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85319-2"}]},
    "subject": {"reference": "Patient/p1"},
    "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA11843-2"}]},
}


def searchset(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def _searches() -> None:
    def observations(request: Any) -> tuple[int, dict[str, str], str]:
        found = searchset() if "identifier" in request.params else searchset(IHC)
        return 200, {}, json.dumps(found)

    responses.add_callback(responses.GET, f"{BASE}/Observation", callback=observations)
    for resource_type in ("DiagnosticReport", "Condition", "List"):
        responses.get(f"{BASE}/{resource_type}", json=searchset())
    responses.get(f"{BASE}/Provenance", status=404)


def _call(tmp_path: Path) -> Any:
    settings = Settings(fhir_base_url=BASE, lock_dir=tmp_path, retries=0, auth=AuthSettings.off())
    app = create_app(settings, clock=lambda: dt.datetime(2026, 11, 25, tzinfo=dt.UTC))
    return app.test_client().post("/fhir/Patient/p1/$her2-status")


@responses.activate
def test_a_transaction_that_lost_a_create_race_is_409(tmp_path: Path) -> None:
    _searches()
    responses.get(DEVICE, json={"resourceType": "Device", "id": "her2-status-service"})
    responses.post(BASE, status=409, json=HAPI_0825)
    response = _call(tmp_path)
    assert response.status_code == 409
    assert response.json["issue"][0]["code"] == "conflict"


@responses.activate
def test_the_device_is_written_on_its_own_and_a_lost_race_is_no_failure(tmp_path: Path) -> None:
    _searches()
    # Absent when first read, created by a concurrent call meanwhile.
    responses.get(DEVICE, status=404)
    responses.get(DEVICE, json={"resourceType": "Device", "id": "her2-status-service"})
    responses.put(DEVICE, status=409, json=HAPI_0825)
    responses.post(BASE, json={"resourceType": "Bundle", "type": "transaction-response"})
    response = _call(tmp_path)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = next(c.request.body for c in responses.calls if c.request.method == "POST")
    assert body is not None
    posted = json.loads(body)
    assert all(e["resource"]["resourceType"] != "Device" for e in posted["entry"])

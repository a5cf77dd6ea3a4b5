"""The Patient-level operation when the server answers 412 (a race no real server stages on cue)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses

from service.api import create_app
from service.settings import AuthSettings, Settings
from tests.builders import NOW, concept, observation, outcome, searchset

BASE = "http://ehr.test/fhir"
IHC = observation("ihc", "85319-2", effective=None, version="1", **concept("LA11843-2"))


@pytest.mark.parametrize(
    ("diagnostics", "code"),
    [
        ("HAPI-0989: Invalid version: the resource was updated", "conflict"),
        (
            "Failed to UPDATE resource with match URL because this search matched 2 resources",
            "multiple-matches",
        ),
    ],
)
@responses.activate
def test_412_from_the_transaction_is_409(tmp_path: Path, diagnostics: str, code: str) -> None:
    def observations(request: Any) -> tuple[int, dict[str, str], str]:
        # The patient's results for the code search; nothing stored for the identifier.
        found = searchset() if "identifier" in request.params else searchset(IHC)
        return 200, {}, json.dumps(found)

    responses.add_callback(responses.GET, f"{BASE}/Observation", callback=observations)
    for resource_type in ("DiagnosticReport", "Condition", "List"):
        responses.get(f"{BASE}/{resource_type}", json=searchset())
    responses.get(f"{BASE}/Device/her2-status-service", json={"resourceType": "Device"})
    responses.post(
        BASE,
        status=412,
        json=outcome(diagnostics, code="conflict"),
    )
    settings = Settings(fhir_base_url=BASE, lock_dir=tmp_path, retries=0, auth=AuthSettings.off())
    client = create_app(settings, clock=lambda: NOW)
    response = client.test_client().post("/fhir/Patient/p1/$her2-status")
    assert response.status_code == 409
    issues = response.json["issue"]  # type: ignore[index]
    assert issues[0]["code"] == code
    assert "FHIR server: " + diagnostics in [i["diagnostics"] for i in issues]


@responses.activate
def test_throttling_server_delay_is_passed_on(tmp_path: Path) -> None:
    responses.get(f"{BASE}/Observation", status=503, headers={"Retry-After": "120"})
    settings = Settings(fhir_base_url=BASE, lock_dir=tmp_path, retries=0, auth=AuthSettings.off())
    client = create_app(settings, clock=lambda: NOW)
    response = client.test_client().post("/fhir/Patient/p1/$her2-status")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "120"
    assert response.json["resourceType"] == "OperationOutcome"  # type: ignore[index]

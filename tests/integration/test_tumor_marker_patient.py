"""The Patient-level ``$her2-tumor-marker`` against a real HAPI FHIR server: read, never write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from service.fhir.codes import SID_STATUS
from service.fhir.mcode_marker import CS_CATEGORY, MCODE_PROFILES
from tests.builders import concept, observation
from tests.integration.fhir_server import Fhir
from tests.integration.keycloak import READ_ONLY_ENGINE


def test_reads_the_patient_and_writes_nothing(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    on = {"subject": f"Patient/{patient_id}", "specimen": f"Specimen/{patient_id}-s1"}
    # IHC 1+ on the breast specimen: negative, HER2-low.
    fhir.put(observation(f"{patient_id}-ihc", "85319-2", **on, **concept("LA11841-6")))
    # A read-only token is enough: the operation never writes.
    service = service_factory(READ_ONLY_ENGINE)
    response = service.post(f"/fhir/Patient/{patient_id}/$her2-tumor-marker")
    assert response.status_code == 200, response.data
    bundle: dict[str, Any] = response.json  # type: ignore[assignment]
    (marker,) = [e["resource"] for e in bundle["entry"] if "meta" in e["resource"]]
    assert marker["meta"]["profile"] == list(MCODE_PROFILES)
    assert marker["subject"] == {"reference": f"Patient/{patient_id}"}
    codings = marker["valueCodeableConcept"]["coding"]
    assert codings[0] == {
        "system": "http://snomed.info/sct",
        "code": "260385009",
        "display": "Negative",
    }
    assert [c["code"] for c in codings if c["system"] == CS_CATEGORY] == ["her2-low"]
    key = f"{patient_id}:Specimen/{patient_id}-s1:breast"
    assert fhir.search("Observation", identifier=f"{SID_STATUS}|{key}") == []
    assert [o["id"] for o in fhir.search("Observation", subject=f"Patient/{patient_id}")] == [
        f"{patient_id}-ihc"
    ]

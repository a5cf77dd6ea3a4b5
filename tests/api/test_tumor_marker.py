"""``$her2-tumor-marker`` over HTTP: both invocations, their errors, auth and audit.

The Patient-level invocation reads the in-memory store (a real FHIR server is the
integration suite's); that it never writes is checked on the store's commits.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.fhir.mcode_marker import CS_CATEGORY, MCODE_PROFILES
from service.settings import AuthSettings, Settings
from tests.builders import FIXTURES, NOW, case_ihc, ihc_score, observation
from tests.builders.tokens import AUDIENCE, ISSUER, Issuer, bearer, jwks_server
from tests.unit.fhir.outputs import validate_bundle

STATELESS = "/fhir/$her2-tumor-marker"
PATIENT = "/fhir/Patient/{}/$her2-tumor-marker"
FHIR_JSON = "application/fhir+json"
READ = "system/Observation.rs"
BREAST_SITE = {"coding": [{"system": "http://snomed.info/sct", "code": "76752008"}]}
# A value that must never come back in an error answer.
CANARY = "canary-7f3e-do-not-echo"


def _post(client: FlaskClient, body: bytes | str, content_type: str = FHIR_JSON) -> Any:
    return client.post(STATELESS, data=body, content_type=content_type)


def _json(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json
    return body


def _outcome(response: Any) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    body: dict[str, Any] = response.json
    assert body["resourceType"] == "OperationOutcome"
    assert CANARY not in json.dumps(body)
    return body


def _markers(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    types = validate_bundle(bundle)
    assert bundle["type"] == "collection"
    assert "Device" in types
    found = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    for marker in found:
        assert marker["meta"]["profile"] == list(MCODE_PROFILES)
    return found


def _category(marker: dict[str, Any]) -> list[str]:
    codings = marker["valueCodeableConcept"]["coding"]
    return [c["code"] for c in codings if c["system"] == CS_CATEGORY]


class _Store(MemoryStore):
    """The in-memory store, counting the reads of patient data."""

    reads = 0

    def patient_inputs(self, patient_id: str, codes: Any) -> dict[str, Any]:
        self.reads += 1
        return super().patient_inputs(patient_id, codes)


@pytest.fixture
def store() -> _Store:
    store = _Store()
    store.put({"resourceType": "Patient", "id": "case-patient"})
    store.put(case_ihc("ihc", "1+", bodySite=BREAST_SITE))
    return store


@pytest.fixture
def served(store: _Store, tmp_path: Path) -> FlaskClient:
    """Authentication off, a store configured: the Patient-level invocation works."""
    app = create_app(Settings(), clock=lambda: NOW, store=store, locks=FileLocks(tmp_path))
    return app.test_client()


def test_stateless_answers_the_mcode_shape_of_each_status(client: FlaskClient) -> None:
    body = (FIXTURES / "inputs" / "breast-ihc2-dual-separate.json").read_bytes()
    response = _post(client, body)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(FHIR_JSON)
    (marker,) = _markers(_json(response))
    assert marker["code"]["coding"][0]["code"] == "48676-1"
    assert marker["valueCodeableConcept"]["coding"][0]["system"] == "http://snomed.info/sct"
    answer = _json(client.post("/fhir/$her2-status", data=body, content_type=FHIR_JSON))
    status = answer["entry"][0]["resource"]
    assert marker["valueCodeableConcept"]["coding"][:3] == status["valueCodeableConcept"]["coding"]


def test_a_breast_ihc_1_plus_is_negative_and_her2_low(client: FlaskClient) -> None:
    response = _post(client, json.dumps(case_ihc("ihc", "1+", bodySite=BREAST_SITE)))
    (marker,) = _markers(_json(response))
    assert marker["valueCodeableConcept"]["coding"][0]["code"] == "260385009"
    assert _category(marker) == ["her2-low"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_unsupported_content_type_is_415(client: FlaskClient, content_type: str) -> None:
    response = _post(client, json.dumps({"resourceType": "Bundle", "id": CANARY}), content_type)
    assert response.status_code == 415
    _outcome(response)


@pytest.mark.parametrize(
    "body",
    [f'{{"resourceType": "{CANARY}"', json.dumps({"resourceType": "Patient", "id": CANARY})],
    ids=["not-json", "not-a-request"],
)
def test_bad_bodies_are_400_without_echo(client: FlaskClient, body: str) -> None:
    response = _post(client, body)
    assert response.status_code == 400
    _outcome(response)


def test_body_over_the_limit_is_413(client: FlaskClient) -> None:
    response = _post(client, CANARY.encode() + b" " * (65 * 1024))
    assert response.status_code == 413
    _outcome(response)


def test_no_usable_result_is_422_without_echo(client: FlaskClient) -> None:
    body = observation(
        None, "49683-6", subject="Patient/x", effective=None, valueQuantity={"value": -1.5}
    )
    body["note"] = [{"text": CANARY}]
    response = _post(client, json.dumps(body))
    assert response.status_code == 422
    assert "1.5" not in json.dumps(_outcome(response))


def test_a_status_without_a_subject_cannot_be_offered_422(client: FlaskClient) -> None:
    response = _post(client, json.dumps(ihc_score("ihc", "3+", subject=None)))
    assert response.status_code == 422
    (issue,) = _outcome(response)["issue"]
    assert issue["code"] == "incomplete"


def test_patient_level_reads_and_never_writes(served: FlaskClient, store: _Store) -> None:
    response = served.post(PATIENT.format("case-patient"))
    assert response.status_code == 200
    (marker,) = _markers(_json(response))
    assert marker["subject"] == {"reference": "Patient/case-patient"}
    assert _category(marker) == ["her2-low"]
    assert store.reads == 1
    assert store.commits == 0
    assert not [
        ref for ref in store.resources if ref.startswith("Observation/") and "ihc" not in ref
    ]


def test_patient_level_without_a_server_is_400_not_supported(client: FlaskClient) -> None:
    response = client.post(PATIENT.format("p1"))
    assert response.status_code == 400
    (issue,) = _outcome(response)["issue"]
    assert issue["code"] == "not-supported"
    assert "$her2-tumor-marker" in issue["diagnostics"]


@pytest.mark.parametrize("patient_id", ["a b", "x" * 65])
def test_patient_level_rejects_invalid_ids(
    served: FlaskClient, store: _Store, patient_id: str
) -> None:
    response = served.post(PATIENT.format(patient_id))
    assert response.status_code in (400, 404)
    assert patient_id not in json.dumps(_outcome(response))
    assert store.reads == 0


def test_patient_without_results_is_422(served: FlaskClient) -> None:
    response = served.post(PATIENT.format("nobody"))
    assert response.status_code == 422
    _outcome(response)


def test_metadata_and_definitions_name_the_operation(served: FlaskClient) -> None:
    statement = _json(served.get("/fhir/metadata"))
    rest = statement["rest"][0]
    assert "her2-tumor-marker" in [o["name"] for o in rest["operation"]]
    (patient,) = [r for r in rest["resource"] if r["type"] == "Patient"]
    assert "her2-tumor-marker" in [o["name"] for o in patient["operation"]]
    for definition_id, instance in (
        ("her2-tumor-marker", False),
        ("her2-tumor-marker-patient", True),
    ):
        definition = _json(served.get(f"/fhir/OperationDefinition/{definition_id}"))
        assert (definition["code"], definition["affectsState"]) == ("her2-tumor-marker", False)
        assert definition["instance"] is instance


# -- authentication on: a real JWKS endpoint on loopback ------------------------------


@pytest.fixture
def issuer() -> Issuer:
    return Issuer.with_keys(**{"rsa-1": "RS256"})


@pytest.fixture
def secured(issuer: Issuer, store: _Store, tmp_path: Path) -> Iterator[FlaskClient]:
    """Bearer tokens required, AuditEvents in the store (``HER2_AUDIT=fhir``)."""
    with jwks_server(issuer) as server:
        auth = AuthSettings(ISSUER, server.url, AUDIENCE)
        settings = Settings(fhir_base_url="http://memory.test/fhir", auth=auth, audit="fhir")
        app = create_app(settings, clock=lambda: NOW, store=store, locks=FileLocks(tmp_path))
        yield app.test_client()


def test_both_levels_are_401_without_a_token(secured: FlaskClient, store: _Store) -> None:
    for response in (
        _post(secured, json.dumps(case_ihc("ihc", "1+"))),
        secured.post(PATIENT.format("case-patient")),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert [i["code"] for i in _outcome(response)["issue"]] == ["login"]
    assert store.reads == 0


def test_patient_level_needs_observation_read(
    secured: FlaskClient, store: _Store, issuer: Issuer
) -> None:
    response = secured.post(PATIENT.format("case-patient"), headers=bearer(issuer.token("openid")))
    assert response.status_code == 403
    assert store.reads == 0
    response = secured.post(PATIENT.format("case-patient"), headers=bearer(issuer.token(READ)))
    assert response.status_code == 200
    assert _markers(_json(response))


def test_the_audit_event_names_this_operation_and_no_write(
    secured: FlaskClient, store: _Store, issuer: Issuer
) -> None:
    response = secured.post(PATIENT.format("case-patient"), headers=bearer(issuer.token(READ)))
    assert response.status_code == 200
    events = [r for ref, r in store.resources.items() if ref.startswith("AuditEvent/")]
    (event,) = events  # the audit record only: no result was written
    queries = [base64.b64decode(e["query"]).decode() for e in event["entity"] if "query" in e]
    assert queries == ["POST /fhir/Patient/case-patient/$her2-tumor-marker\npersist=false"]
    written = [r for r in store.resources if r.split("/")[0] in ("Observation", "List")]
    assert written == ["Observation/ihc"]

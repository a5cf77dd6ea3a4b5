"""HER2_AUDIT=fhir against a real HAPI FHIR server: AuditEvents land with the write-back.

A write's AuditEvent is an entry of the same transaction (HAPI answers it in the
transaction-response and resolves its references to what it wrote); a call that
writes nothing records one alone; a transaction HAPI refuses (a real version
conflict, made by writing the stored result between our read and our write)
leaves no AuditEvent claiming success, only the failure.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from service.api import create_app
from service.app.fhir_store import FhirStore
from service.app.locks import FileLocks
from service.clients.fhir import FhirClient
from service.fhir import jsonio
from service.settings import DEFAULT_SMART_SCOPES, Settings
from tests.builders import concept, observation
from tests.integration.fhir_server import Fhir
from tests.integration.keycloak import AUDIT_SCOPE, ENGINE, SERVICE_CLIENT, Keycloak

OP = "/fhir/Patient/{}/$her2-status"
PROFILE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientQuery"
# HER2_FHIR_SCOPES of a service with HER2_AUDIT=fhir: the defaults and AuditEvent creation.
AUDIT_SCOPES = f"{DEFAULT_SMART_SCOPES} {AUDIT_SCOPE}"


def ihc(pid: str, answer: str) -> dict[str, Any]:
    on = {"subject": f"Patient/{pid}", "specimen": f"Specimen/{pid}-s1", "effective": "2026-05-01"}
    return observation(f"{pid}-ihc", "85319-2", **on, **concept(answer))


def call(service: FlaskClient, pid: str, persist: bool, request_id: str) -> Any:
    body = json.dumps(
        {"resourceType": "Parameters", "parameter": [{"name": "persist", "valueBoolean": persist}]}
    )
    return service.post(
        OP.format(pid),
        data=body,
        content_type="application/fhir+json",
        headers={"X-Request-ID": request_id},
    )


def events(fhir: Fhir, pid: str) -> dict[str, list[dict[str, Any]]]:
    """The patient's AuditEvents by request id."""
    found: dict[str, list[dict[str, Any]]] = {}
    for event in fhir.search("AuditEvent", entity=f"Patient/{pid}"):
        (request_id,) = [
            e["what"]["identifier"]["value"]
            for e in event["entity"]
            if e["type"]["code"] == "XrequestId"
        ]
        found.setdefault(request_id, []).append(event)
    return found


def written(event: dict[str, Any]) -> set[str]:
    return {e["what"]["reference"] for e in event["entity"] if e.get("role", {}).get("code") == "4"}


def audited(service_factory: Callable[..., FlaskClient], keycloak_server: Keycloak) -> FlaskClient:
    """A service with HER2_AUDIT=fhir whose token may create AuditEvents."""
    smart = keycloak_server.service_smart(scopes=AUDIT_SCOPES)
    return service_factory(audit="fhir", fhir_smart=smart)


def test_audit_events_land_with_the_transaction_and_alone(
    fhir: Fhir,
    patient_id: str,
    keycloak_server: Keycloak,
    service_factory: Callable[..., FlaskClient],
) -> None:
    fhir.put(ihc(patient_id, "LA11842-4"))
    service = audited(service_factory, keycloak_server)

    first = call(service, patient_id, True, f"{patient_id}-write")
    assert first.status_code == 200, first.data
    response = first.json["entry"][-1]["resource"]
    locations = [e["response"]["location"] for e in response["entry"]]
    # One transaction: the results and the AuditEvent, answered together.
    assert sum(loc.startswith("AuditEvent/") for loc in locations) == 1
    assert call(service, patient_id, True, f"{patient_id}-same").status_code == 200
    assert call(service, patient_id, False, f"{patient_id}-read").status_code == 200

    found = events(fhir, patient_id)
    assert set(found) == {f"{patient_id}-{n}" for n in ("write", "same", "read")}
    assert all(len(v) == 1 for v in found.values())
    (event,) = found[f"{patient_id}-write"]
    assert event["outcome"] == "0"
    assert event["meta"]["profile"] == [PROFILE]
    # HAPI resolved the urn:uuid references to the resources it wrote.
    stored = {f"{loc.split('/')[0]}/{loc.split('/')[1]}" for loc in locations}
    assert written(event)
    assert written(event) <= stored
    assert any(ref.startswith("Observation/") for ref in written(event))
    for request_id in ("same", "read"):
        (alone,) = found[f"{patient_id}-{request_id}"]
        assert (alone["outcome"], written(alone)) == ("0", set())
    # Never a value of the patient's data.
    text = json.dumps(found)
    assert "LA11842-4" not in text
    assert "positive" not in text


class _RivalStore(FhirStore):
    """Another writer stores a second result with the same key between our read and commit."""

    rival = False

    def commit(self, bundle: dict[str, Any]) -> dict[str, Any]:
        if self.rival:
            self.rival = False
            entry = next(
                e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
            )
            duplicate = {k: v for k, v in entry["resource"].items() if k not in ("id", "meta")}
            duplicate["id"] = f"rival-{uuid.uuid4().hex[:12]}"
            # Now the conditional update matches two: HAPI refuses the whole transaction.
            self.client.update(duplicate)
        return super().commit(bundle)


def test_a_refused_transaction_leaves_no_audit_event_claiming_success(
    fhir: Fhir, patient_id: str, fhir_base_url: str, keycloak_server: Keycloak, tmp_path: Path
) -> None:
    fhir.put(ihc(patient_id, "LA11842-4"))  # 2+
    settings = Settings(
        fhir_base_url=fhir_base_url,
        fhir_smart=keycloak_server.service_smart(scopes=AUDIT_SCOPES),
        auth=keycloak_server.service_auth(),
        audit="fhir",
        lock_dir=tmp_path / "locks",
    )
    # The store the composition root would build: the service client's own token.
    tokens = keycloak_server.tokens(SERVICE_CLIENT, AUDIT_SCOPES)
    store = _RivalStore(FhirClient(fhir_base_url, tokens=tokens))
    service = create_app(settings, store=store, locks=FileLocks(tmp_path / "locks")).test_client()
    service.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {keycloak_server.token(*ENGINE)}"
    assert call(service, patient_id, True, f"{patient_id}-first").status_code == 200
    fhir.put(ihc(patient_id, "LA11841-6"))  # now 1+: a different result to write
    store.rival = True
    lost = call(service, patient_id, True, f"{patient_id}-lost")
    assert lost.status_code == 409, lost.data

    found = events(fhir, patient_id)
    assert [e["outcome"] for e in found[f"{patient_id}-first"]] == ["0"]
    # Nothing of the refused transaction was stored, its AuditEvent included; the
    # failure was recorded alone.
    (failure,) = found[f"{patient_id}-lost"]
    assert failure["outcome"] == "4"
    assert "profile" not in failure.get("meta", {})
    assert written(failure) == set()


def test_hapi_validates_the_audit_event_as_r4(
    fhir: Fhir,
    patient_id: str,
    keycloak_server: Keycloak,
    service_factory: Callable[..., FlaskClient],
) -> None:
    fhir.put(ihc(patient_id, "LA11842-4"))
    service = audited(service_factory, keycloak_server)
    assert call(service, patient_id, False, "v").status_code == 200
    ((event,),) = events(fhir, patient_id).values()
    event = {k: v for k, v in event.items() if k not in ("id", "meta")}
    response = fhir.request(
        "POST", f"{fhir.base_url}/AuditEvent/$validate", data=jsonio.dumps(event), timeout=120
    )
    outcome = json.loads(response.text)
    errors = [i for i in outcome.get("issue", []) if i["severity"] in ("error", "fatal")]
    assert errors == [], errors

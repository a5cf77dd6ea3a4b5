"""The AuditEvent of a Patient-level call: IHE BALP shape, valid R4, no clinical values."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from service.app.auditing import audit_entry, written_references
from service.fhir.audit_event import (
    PATIENT_QUERY_PROFILE,
    AuditedCall,
    audit_event,
    outcome_for,
    query_text,
)

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
ISSUER = "https://issuer.test/realms/h"
CALL = AuditedCall(
    patient_id="p-1",
    operation_path="/fhir/Patient/p-1/$her2-status",
    service_url="http://her2.test/fhir",
    request_id="req-123",
    persist=True,
    client_id="lab-app",
    subject="user-9",
    issuer=ISSUER,
    client_address="127.0.0.1",
)


def _by_type(event: dict[str, object], code: str) -> dict[str, object]:
    agents = event["agent"]
    assert isinstance(agents, list)
    (agent,) = [a for a in agents if a["type"]["coding"][0]["code"] == code]
    return dict(agent)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        *[(200, "0"), (400, "4"), (403, "4"), (409, "4"), (422, "4")],
        *[(500, "8"), (502, "8"), (504, "8"), (503, "12")],
    ],
)
def test_outcome_codes_by_status(status: int, code: str) -> None:
    assert outcome_for(status) == code


@pytest.mark.parametrize("outcome", ["0", "4", "8", "12"])
def test_every_outcome_is_a_valid_r4_audit_event(outcome: str) -> None:
    written = [("Observation", "urn:uuid:1"), ("Provenance", "Provenance/prov-1")]
    event = audit_event(CALL, outcome, NOW, written)
    AuditEvent.model_validate(event)  # raises when not valid R4(B)
    assert event["outcome"] == outcome
    # BALP profiles fix outcome 0: only a success claims PatientQuery.
    assert ("meta" in event) is (outcome == "0")


def test_success_follows_balp_patient_query() -> None:
    event = audit_event(CALL, "0", NOW)
    assert event["meta"] == {"profile": [PATIENT_QUERY_PROFILE]}
    assert event["type"]["system"] == "http://terminology.hl7.org/CodeSystem/audit-event-type"
    assert event["type"]["code"] == "rest"
    assert [(c["system"], c["code"]) for c in event["subtype"]] == [
        ("http://hl7.org/fhir/restful-interaction", "operation")
    ]
    assert event["action"] == "E"
    assert event["recorded"] == "2026-11-25T12:00:00Z"
    client = _by_type(event, "110153")
    assert client["who"] == {"identifier": {"system": ISSUER, "value": "lab-app"}}
    assert client["network"] == {"address": "127.0.0.1", "type": "2"}
    assert client["requestor"] is False  # the user is the requestor
    user = _by_type(event, "IRCP")
    assert user["who"] == {"identifier": {"system": ISSUER, "value": "user-9"}}
    assert user["requestor"] is True
    server = _by_type(event, "110152")
    assert server["who"] == {"reference": "Device/her2-status-service"}
    assert server["network"] == {"address": "http://her2.test/fhir", "type": "5"}
    assert event["source"]["observer"] == {"reference": "Device/her2-status-service"}
    patient, query, request_id = event["entity"]
    assert patient["what"] == {"reference": "Patient/p-1"}
    assert (patient["type"]["code"], patient["role"]["code"]) == ("1", "1")
    assert (query["type"]["code"], query["role"]["code"]) == ("2", "24")
    assert "what" not in query
    assert base64.b64decode(query["query"]).decode() == query["description"]
    assert query["description"] == "POST /fhir/Patient/p-1/$her2-status\npersist=true"
    assert request_id["what"] == {"identifier": {"value": "req-123"}}
    assert request_id["type"]["code"] == "XrequestId"


def test_without_a_user_the_client_is_the_requestor() -> None:
    call = AuditedCall("p-1", "/fhir/Patient/p-1/$her2-status", client_id="backend")
    event = audit_event(call, "4", NOW)
    assert [a["type"]["coding"][0]["code"] for a in event["agent"]] == ["110153", "110152"]
    assert _by_type(event, "110153")["requestor"] is True
    AuditEvent.model_validate(event)


def test_authentication_off_names_no_caller_and_no_bad_address() -> None:
    call = AuditedCall("p-1", "/x", client_address="not an address", persist=None)
    event = audit_event(call, "0", NOW)
    client = _by_type(event, "110153")
    assert client["who"] == {"display": "unidentified client (authentication off)"}
    assert "network" not in client
    assert query_text(call) == "POST /x"
    AuditEvent.model_validate(event)


def test_written_resources_are_entities_named_as_the_transaction_resolves_them() -> None:
    def entry(kind: str, full_url: str, url: str) -> dict[str, Any]:
        return {"fullUrl": full_url, "resource": {"resourceType": kind}, "request": {"url": url}}

    entries = [
        entry("Observation", "urn:uuid:a", "Observation?identifier=s|k"),
        entry("List", "urn:uuid:b", "List?identifier=s|k"),
        entry("Provenance", "http://x/Provenance/p", "Provenance/p"),
    ]
    assert written_references(entries) == [
        ("Observation", "urn:uuid:a"),
        ("List", "urn:uuid:b"),
        ("Provenance", "Provenance/p"),
    ]
    created = audit_entry(CALL, "0", NOW, entries)
    assert created["request"] == {"method": "POST", "url": "AuditEvent"}
    written = created["resource"]["entity"][3:]
    assert [(e["what"]["reference"], e["type"]["code"], e["role"]["code"]) for e in written] == [
        ("urn:uuid:a", "Observation", "4"),
        ("urn:uuid:b", "List", "4"),
        ("Provenance/p", "Provenance", "4"),
    ]


def test_no_clinical_value_or_free_text_reaches_the_event() -> None:
    event = json.dumps(audit_event(CALL, "0", NOW, [("Observation", "urn:uuid:a")]))
    for value in ("3+", "positive", "HER2", "cep17", "ihc", "loinc", "valueCodeableConcept"):
        assert value not in event

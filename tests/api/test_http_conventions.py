"""FHIR HTTP conventions: truthful conformance resources, JSON only, Allow, ETag."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationdefinition import OperationDefinition
from flask import Flask
from flask.testing import FlaskClient

from service.api import create_app
from service.app.memory_store import MemoryStore
from service.fhir.codes import CANONICAL
from service.settings import Settings
from tests.builders import FIXTURES, NOW

INPUT = FIXTURES / "inputs" / "unknown-site.json"
OP = "/fhir/$her2-status"
DEF = f"{CANONICAL}/OperationDefinition"


def _json(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.data)
    return body


def _with_store() -> FlaskClient:
    return create_app(Settings(), clock=lambda: NOW, store=MemoryStore()).test_client()


def test_metadata_without_a_server_lists_only_the_stateless_operation(
    client: FlaskClient,
) -> None:
    body = _json(client.get("/fhir/metadata"))
    CapabilityStatement.model_validate(body)
    (rest,) = body["rest"]
    assert rest["operation"] == [
        {"name": "her2-status", "definition": f"{DEF}/her2-status"},
        {"name": "her2-tumor-marker", "definition": f"{DEF}/her2-tumor-marker"},
    ]
    assert [r["type"] for r in rest["resource"]] == ["OperationDefinition"]
    assert rest["security"]["cors"] is False
    assert rest["security"]["description"].startswith("None.")


def test_metadata_with_a_server_lists_the_patient_operation() -> None:
    body = _json(_with_store().get("/fhir/metadata"))
    CapabilityStatement.model_validate(body)
    patient = next(r for r in body["rest"][0]["resource"] if r["type"] == "Patient")
    assert patient["operation"] == [
        {"name": "her2-status", "definition": f"{DEF}/her2-status-patient"},
        {"name": "her2-tumor-marker", "definition": f"{DEF}/her2-tumor-marker-patient"},
    ]


def test_operation_definitions_say_which_invocation_changes_state(client: FlaskClient) -> None:
    system = _json(client.get("/fhir/OperationDefinition/her2-status"))
    patient = _json(client.get("/fhir/OperationDefinition/her2-status-patient"))
    for body in (system, patient):
        OperationDefinition.model_validate(body)
        assert body["code"] == "her2-status"
    assert (system["affectsState"], system["system"], system["instance"]) == (False, True, False)
    assert (patient["affectsState"], patient["system"], patient["instance"]) == (True, False, True)
    assert patient["resource"] == ["Patient"]
    assert "persist" not in {p["name"] for p in system["parameter"]}
    assert {p["name"] for p in patient["parameter"]} == {"persist", "return"}
    assert system["url"] == f"{DEF}/her2-status"
    assert patient["url"] == f"{DEF}/her2-status-patient"


def test_unknown_operation_definition_is_404(client: FlaskClient) -> None:
    response = client.get("/fhir/OperationDefinition/nothing")
    assert response.status_code == 404
    assert _json(response)["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "path", ["/fhir/metadata", "/fhir/OperationDefinition/her2-status-patient"]
)
def test_conformance_resources_are_conditional(client: FlaskClient, path: str) -> None:
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    other = client.get(path, headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200
    assert other.data == first.data


def test_the_etag_follows_the_configuration(client: FlaskClient) -> None:
    assert (
        client.get("/fhir/metadata").headers["ETag"]
        != _with_store().get("/fhir/metadata").headers["ETag"]
    )


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("get", "/fhir/metadata", {"Accept": "application/fhir+xml"}),
        ("get", "/fhir/metadata?_format=xml", {}),
        ("get", "/fhir/metadata?_format=application/fhir%2Bxml", {}),
        ("get", "/fhir/metadata?_format=json", {"Accept": "application/fhir+xml"}),
        ("get", "/fhir/OperationDefinition/her2-status", {"Accept": "application/xml"}),
        ("post", OP, {"Accept": "application/fhir+xml"}),
        ("post", f"{OP}?_format=xml", {}),
    ],
)
def test_xml_answers_are_refused_with_406(
    client: FlaskClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = getattr(client, method)(
        path, data=INPUT.read_bytes(), content_type="application/fhir+json", headers=headers
    )
    if "_format=json" in path:  # _format overrides Accept
        assert response.status_code == 200
        return
    assert response.status_code == 406
    body = _json(response)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize(
    "accept",
    [
        "application/fhir+json; fhirVersion=4.0",
        "application/json",
        "*/*",
        "application/fhir+xml;q=0.9, application/fhir+json;q=0.5",
        "text/html,application/xhtml+xml,*/*;q=0.8",
    ],
)
def test_accept_that_allows_json_is_served(client: FlaskClient, accept: str) -> None:
    response = client.get("/fhir/metadata", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"


def test_an_xml_body_is_415(client: FlaskClient) -> None:
    xml = b'<Observation xmlns="http://hl7.org/fhir"><status value="final"/></Observation>'
    response = client.post(OP, data=xml, content_type="application/fhir+xml")
    assert response.status_code == 415
    assert "XML" in _json(response)["issue"][0]["diagnostics"]


def test_operations_endpoints_are_not_negotiated(client: FlaskClient) -> None:
    # Prometheus asks for openmetrics first; health checks may send anything.
    assert client.get("/healthz", headers={"Accept": "text/plain"}).status_code == 200
    assert client.get("/metrics", headers={"Accept": "application/fhir+xml"}).status_code == 200


def test_every_route_answers_405_with_allow(app: Flask) -> None:
    client = app.test_client()
    rules = list(app.url_map.iter_rules())
    # 10 FHIR and operations, 3 CDS Hooks, 7 decision view routes, 2 trial-candidate routes
    assert len(rules) == 13 + 7 + 2
    by_path: dict[str, set[str]] = {}
    for rule in rules:
        by_path.setdefault(rule.rule, set()).update(rule.methods or ())
    for rule in rules:
        path = rule.rule.replace("<patient_id>", "p1").replace("<definition_id>", "her2-status")
        path = path.replace("<service_id>", "her2-status")
        allowed = by_path[rule.rule]
        wrong = next(m for m in ("DELETE", "PUT", "PATCH") if m not in allowed)
        response = client.open(path, method=wrong)
        assert response.status_code == 405, rule.rule
        assert set(response.headers["Allow"].split(", ")) == allowed, rule.rule
        assert _json(response)["resourceType"] == "OperationOutcome"

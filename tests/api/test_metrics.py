"""/metrics with the Flask test client (one process, the default registry)."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from service.clients import errors
from service.clients.fhir import outcome_of
from tests.builders import FIXTURES

INPUTS = FIXTURES / "inputs"
SECRET_ID = "patient-id-4711"


def samples(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.data.decode())
        for s in family.samples
    }


def value(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def test_requests_and_derivations_are_counted(client: FlaskClient) -> None:
    before = samples(client)
    for _ in range(3):
        client.get("/healthz")
    body = (INPUTS / "breast-ihc2-dual-separate.json").read_bytes()
    assert (
        client.post(
            "/fhir/$her2-status", data=body, content_type="application/fhir+json"
        ).status_code
        == 200
    )
    after = samples(client)
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert (
        value(after, "her2_http_requests_total", **healthz)
        - value(before, "her2_http_requests_total", **healthz)
        == 3
    )
    latency = {"method": "GET", "route": "/healthz"}
    assert (
        value(after, "her2_http_request_duration_seconds_count", **latency)
        - value(before, "her2_http_request_duration_seconds_count", **latency)
        == 3
    )
    derived = {"status": "negative", "site": "breast"}
    assert (
        value(after, "her2_derivations_total", **derived)
        - value(before, "her2_derivations_total", **derived)
        == 1
    )


def test_no_patient_id_or_raw_path_in_metrics(client: FlaskClient) -> None:
    client.post(f"/fhir/Patient/{SECRET_ID}/$her2-status")
    client.get(f"/fhir/Nothing/{SECRET_ID}")
    text = client.get("/metrics").data.decode()
    assert 'route="/fhir/Patient/<patient_id>/$her2-status"' in text
    assert 'route="unmatched"' in text
    assert SECRET_ID not in text


def test_upstream_fhir_calls_are_counted_by_outcome(unreachable_client: FlaskClient) -> None:
    client = unreachable_client
    labels = {"method": "GET", "outcome": "server_unavailable"}
    before = value(samples(client), "her2_fhir_requests_total", **labels)
    assert client.post(f"/fhir/Patient/{SECRET_ID}/$her2-status").status_code == 503
    assert client.get("/readyz").status_code == 503
    scraped = samples(client)
    assert value(scraped, "her2_fhir_requests_total", **labels) - before == 2
    assert SECRET_ID not in json.dumps([list(k[1]) for k in scraped])


def test_outcome_labels_are_one_per_error_class() -> None:
    assert outcome_of(None) == "ok"
    assert outcome_of(errors.FhirTimeout()) == "timeout"
    assert outcome_of(errors.FhirTooManyMatches()) == "too_many_matches"
    assert outcome_of(errors.FhirServerError("secret detail")) == "server_error"

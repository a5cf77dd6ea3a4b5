"""The FHIR client against answers a real server cannot easily be made to give (responses).

Paging and writes against a real server are in tests/integration (HAPI FHIR).
"""

from __future__ import annotations

from typing import Any

import pytest
import responses

from service.clients.errors import (
    FhirClientError,
    FhirForbidden,
    FhirForeignLink,
    FhirNotFound,
    FhirPreconditionFailed,
    FhirRequestRejected,
    FhirServerError,
    FhirServerUnavailable,
    FhirTimeout,
    FhirTooManyMatches,
    FhirUnauthorized,
)
from service.clients.fhir import FhirClient
from tests.builders import outcome, searchset

BASE = "http://ehr.test/fhir"


def client(**kw: Any) -> FhirClient:
    return FhirClient(BASE, retries=kw.pop("retries", 2), **kw)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, FhirRequestRejected),
        (401, FhirUnauthorized),
        (403, FhirForbidden),
        (404, FhirNotFound),
        (410, FhirNotFound),
        (412, FhirPreconditionFailed),
        (422, FhirRequestRejected),
        (429, FhirServerUnavailable),
        (500, FhirServerError),
        (502, FhirServerError),
        (503, FhirServerUnavailable),
        (504, FhirTimeout),
    ],
)
@responses.activate
def test_status_mapping(status: int, error: type[FhirClientError]) -> None:
    responses.get(f"{BASE}/Patient/p", json=outcome("nope"), status=status)
    with pytest.raises(error) as raised:
        client(retries=0).read("Patient/p")
    assert raised.value.status == status
    assert raised.value.upstream_issues[0].diagnostics == "FHIR server: nope"


@responses.activate
def test_412_matched_several_is_its_own_error() -> None:
    text = (
        'Failed to UPDATE resource with match URL "Observation?identifier=x" because this '
        "search matched 2 resources"
    )
    responses.post(BASE, json=outcome(text), status=412)
    with pytest.raises(FhirTooManyMatches):
        client().transaction({"resourceType": "Bundle", "type": "transaction"})
    assert len(responses.calls) == 1  # never retried


@responses.activate
def test_transient_status_is_retried_for_get() -> None:
    responses.get(f"{BASE}/metadata", status=503)
    responses.get(f"{BASE}/metadata", json={"resourceType": "CapabilityStatement"})
    assert client().capabilities()["resourceType"] == "CapabilityStatement"
    assert len(responses.calls) == 2


@responses.activate
def test_retries_are_bounded() -> None:
    responses.get(f"{BASE}/metadata", status=502)
    with pytest.raises(FhirServerError):
        client(retries=2).capabilities()
    assert len(responses.calls) == 3


@responses.activate
def test_post_is_never_retried() -> None:
    responses.post(BASE, status=503)
    with pytest.raises(FhirServerUnavailable):
        client().transaction({"resourceType": "Bundle", "type": "transaction"})
    assert len(responses.calls) == 1


@responses.activate
def test_paging_follows_next_links_verbatim() -> None:
    responses.get(
        f"{BASE}/Observation",
        json=searchset(
            {"resourceType": "Observation", "id": "1"},
            next_url=f"{BASE}?_getpages=abc&_getpagesoffset=1",
        ),
    )
    responses.get(
        f"{BASE}?_getpages=abc&_getpagesoffset=1",
        json=searchset({"resourceType": "Observation", "id": "2"}),
    )
    found = list(client(page_size=1).search("Observation", {"subject": "Patient/p"}))
    assert [r["id"] for r in found] == ["1", "2"]
    assert responses.calls[0].request.url == f"{BASE}/Observation?_count=1&subject=Patient%2Fp"
    assert responses.calls[1].request.url == f"{BASE}?_getpages=abc&_getpagesoffset=1"


@responses.activate
def test_included_entries_are_not_matches() -> None:
    bundle = searchset({"resourceType": "Observation", "id": "1"})
    bundle["entry"].append(
        {"resource": {"resourceType": "Patient", "id": "p"}, "search": {"mode": "include"}}
    )
    responses.get(f"{BASE}/Observation", json=bundle)
    assert [r["id"] for r in client().search("Observation", {})] == ["1"]


@responses.activate
def test_next_link_to_another_host_is_not_followed_and_no_token_leaks() -> None:
    responses.get(f"{BASE}/Observation", json=searchset(next_url="http://evil.test/steal?page=2"))
    responses.get("http://evil.test/steal", json=searchset())
    with pytest.raises(FhirForeignLink):
        list(client(token="s3cret").search("Observation", {}))
    assert len(responses.calls) == 1
    assert responses.calls[0].request.headers["Authorization"] == "Bearer s3cret"


@responses.activate
def test_token_only_sent_to_its_server() -> None:
    responses.get(f"{BASE}/metadata", json={"resourceType": "CapabilityStatement"})
    client(token="t").capabilities()
    assert responses.calls[0].request.headers["Authorization"] == "Bearer t"
    plain = FhirClient(BASE)
    plain.capabilities()
    assert "Authorization" not in responses.calls[1].request.headers


@responses.activate
def test_repeated_next_link_stops_paging() -> None:
    responses.get(
        f"{BASE}/Observation",
        json=searchset({"resourceType": "Observation", "id": "1"}, next_url=f"{BASE}?p=2"),
    )
    responses.get(
        f"{BASE}?p=2",
        json=searchset({"resourceType": "Observation", "id": "2"}, next_url=f"{BASE}?p=2"),
    )
    assert len(list(client().search("Observation", {}))) == 2
    assert len(responses.calls) == 2


@responses.activate
def test_non_json_answer_is_a_server_error() -> None:
    responses.get(f"{BASE}/metadata", body="<html>proxy error</html>", status=200)
    with pytest.raises(FhirServerError):
        client().capabilities()


@responses.activate
def test_decimals_from_the_server_stay_exact() -> None:
    responses.get(
        f"{BASE}/Observation/r",
        body='{"resourceType": "Observation", "id": "r", "valueQuantity": {"value": 2.10}}',
        content_type="application/fhir+json",
    )
    assert str(client().read("Observation/r")["valueQuantity"]["value"]) == "2.10"


@responses.activate
def test_timeouts_are_passed_on_every_call() -> None:
    responses.get(f"{BASE}/metadata", json={"resourceType": "CapabilityStatement"})
    responses.post(BASE, json={"resourceType": "Bundle", "type": "transaction-response"})
    fhir = FhirClient(BASE, connect_timeout=1.5, read_timeout=7.0)
    fhir.capabilities()
    fhir.transaction({"resourceType": "Bundle", "type": "transaction"})
    # responses records the keyword arguments each request was sent with.
    sent = [getattr(c.request, "req_kwargs")["timeout"] for c in responses.calls]  # noqa: B009
    assert sent == [(1.5, 7.0)] * 2

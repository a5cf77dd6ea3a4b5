"""CDS Hooks over HTTP: the hooks' answers from prefetch, the FHIR fallback, 412.

The EHR is the project's CDS Hooks client (``tests.builders.cds``) with its JWK Set
served on loopback; FHIR servers for the fallback are real loopback HTTP servers
(``FhirStub``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from tests.builders import BREAST, ihc, ihc_score, specimen
from tests.builders.cds import (
    RXNORM,
    CdsClient,
    FhirStub,
    cards_of,
    draft_orders,
    flask_transport,
    hook_body,
    medication_request,
    prefetch_of,
    refused,
)
from tests.builders.tokens import Issuer

EQUIVOCAL = [specimen("s1", body_site=BREAST), ihc("ihc1", specimen="Specimen/s1")]
HER2_LOW = [specimen("s1", body_site=BREAST), ihc_score("ihc1", "1+", specimen="Specimen/s1")]


# --- patient-view ------------------------------------------------------------------------


def test_patient_view_from_prefetch(cds: CdsClient) -> None:
    cards = cards_of(cds.call("her2-status", hook_body(prefetch=prefetch_of(EQUIVOCAL))))
    (card,) = cards
    assert card["summary"] == "HER2 equivocal (breast, 2026-01-10): reflex ISH pending"
    assert card["indicator"] == "warning"
    assert card["links"][0]["url"] == "https://her2.test/view/Patient/p1"
    action = card["suggestions"][0]["actions"][0]
    assert action["resource"]["specimen"] == [{"reference": "Specimen/s1"}]


def test_each_specimen_group_gets_a_card_and_other_patients_none(cds: CdsClient) -> None:
    resources = [
        *HER2_LOW,
        specimen("s2", body_site=BREAST),
        ihc_score("ihc2", "3+", specimen="Specimen/s2", effectiveDateTime="2026-03-01"),
        specimen("x1", subject="Patient/other", body_site=BREAST),
        ihc_score("ihcx", "3+", specimen="Specimen/x1", subject="Patient/other"),
    ]
    cards = cards_of(cds.call("her2-status", hook_body(prefetch=prefetch_of(resources))))
    assert [c["summary"] for c in cards] == [
        "HER2-positive (breast, 2026-03-01): heterogeneity: clinician review",
        "HER2-negative, HER2-low (breast, 2026-01-10)",
    ]


def test_null_prefetch_keys_mean_no_data(cds: CdsClient) -> None:
    prefetch = dict.fromkeys(
        ["her2Observations", "her2Reports", "her2Specimens", "cancerConditions"]
    )
    assert cards_of(cds.call("her2-status", hook_body(prefetch=prefetch))) == []


def test_missing_prefetch_without_fhir_access_is_412(cds: CdsClient) -> None:
    prefetch = prefetch_of(EQUIVOCAL)
    del prefetch["her2Observations"]
    outcome = refused(cds.call("her2-status", hook_body(prefetch=prefetch)), 412)
    assert "could not be obtained" in outcome["issue"][0]["diagnostics"]
    refused(cds.call("her2-status", hook_body()), 412)


def test_an_operation_outcome_prefetch_without_fhir_access_is_412(cds: CdsClient) -> None:
    prefetch = prefetch_of(EQUIVOCAL)
    prefetch["her2Specimens"] = {"resourceType": "OperationOutcome", "issue": []}
    refused(cds.call("her2-status", hook_body(prefetch=prefetch)), 412)


def test_missing_prefetch_is_fetched_from_an_allow_listed_fhir_server(
    make_app: Callable[..., Flask], ehr: Issuer
) -> None:
    server = FhirStub(EQUIVOCAL)
    with server.loopback.running():
        app = make_app(fhir_servers=(server.url,))
        client = CdsClient(ehr, flask_transport(app.test_client()))
        prefetch = prefetch_of(EQUIVOCAL)
        prefetch["her2Observations"] = {"resourceType": "OperationOutcome", "issue": []}
        del prefetch["her2Specimens"]
        body = hook_body(prefetch=prefetch, fhir_server=server.url, access_token="ehr-token-1")
        (card,) = cards_of(client.call("her2-status", body))
    assert card["summary"].startswith("HER2 equivocal (breast")
    paths = sorted(urlsplit(s.path).path for s in server.loopback.seen)
    assert paths == ["/fhir/Observation", "/fhir/Specimen"]
    assert {s.authorization for s in server.loopback.seen} == {"Bearer ehr-token-1"}
    query = parse_qs(urlsplit(server.loopback.seen[0].path).query)
    assert query["patient"] == ["p1"]


def test_a_referenced_specimen_the_search_missed_is_read(
    make_app: Callable[..., Flask], ehr: Issuer
) -> None:
    unlinked = {k: v for k, v in specimen("s1", body_site=BREAST).items() if k != "subject"}
    others = {k: v for k, v in specimen("s2", body_site=BREAST).items() if k != "subject"}
    resources = [
        unlinked,
        others,
        ihc("ihc1", specimen="Specimen/s1"),
        ihc("ihc2", specimen="Specimen/s3"),  # the server answers that read with a Bundle
    ]
    server = FhirStub(resources)
    with server.loopback.running():
        client = CdsClient(ehr, flask_transport(make_app(fhir_servers=(server.url,)).test_client()))
        body = hook_body(fhir_server=server.url, access_token="ehr-token-1")
        cards = cards_of(client.call("her2-status", body))
    reads = sorted(urlsplit(s.path).path for s in server.loopback.seen if s.path.count("/") == 3)
    assert reads == ["/fhir/Specimen/s1", "/fhir/Specimen/s3"]
    summaries = sorted(c["summary"] for c in cards)
    assert summaries == [
        "HER2 equivocal (breast, 2026-01-10): reflex ISH pending",
        "HER2 equivocal (site unknown, 2026-01-10): reflex ISH pending",
    ]


def test_a_fhir_server_not_allow_listed_is_never_called(
    make_app: Callable[..., Flask], ehr: Issuer
) -> None:
    server = FhirStub(EQUIVOCAL)
    with server.loopback.running():
        client = CdsClient(ehr, flask_transport(make_app().test_client()))
        body = hook_body(fhir_server=server.url, access_token="ehr-token-1")
        refused(client.call("her2-status", body), 412)
    assert server.loopback.seen == []


def test_a_slow_fhir_server_cannot_hold_the_hook(
    make_app: Callable[..., Flask], ehr: Issuer
) -> None:
    server = FhirStub(EQUIVOCAL, delay=6.0)
    with server.loopback.running():
        app = make_app(fhir_servers=(server.url,), fhir_timeout=0.5)
        client = CdsClient(ehr, flask_transport(app.test_client()))
        started = time.monotonic()
        answer = client.call(
            "her2-status", hook_body(fhir_server=server.url, access_token="ehr-token-1")
        )
        waited = time.monotonic() - started
        refused(answer, 412)
        # Answered while the server was still sleeping on the first request.
        assert waited < server.delay
        assert server.loopback.seen


def test_a_failing_fhir_server_is_412(make_app: Callable[..., Flask], ehr: Issuer) -> None:
    server = FhirStub(EQUIVOCAL, status=500)
    with server.loopback.running():
        client = CdsClient(ehr, flask_transport(make_app(fhir_servers=(server.url,)).test_client()))
        body = hook_body(fhir_server=server.url, access_token="ehr-token-1")
        refused(client.call("her2-status", body), 412)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"hook": "order-sign"}, 400),
        ({"hookInstance": None}, 400),
        ({"context": {"patientId": "../Patient/x"}}, 400),
        ({"prefetch": "everything"}, 400),
        ({"prefetch": {"her2Observations": ["not", "a", "resource"]}}, 400),
        ({"fhirAuthorization": {"access_token": "t", "token_type": "Bearer"}}, 400),
    ],
)
def test_malformed_hook_requests_are_400_without_echo(
    cds: CdsClient, change: dict[str, Any], status: int
) -> None:
    body = {**hook_body(prefetch=prefetch_of(EQUIVOCAL)), **change}
    outcome = refused(cds.call("her2-status", body), status)
    assert "../Patient/x" not in json.dumps(outcome)
    assert "everything" not in json.dumps(outcome)


def test_unknown_service_is_404_after_the_token_check(cds: CdsClient) -> None:
    refused(cds.call("no-such-service", hook_body()), 404)


# --- order-select / order-sign -----------------------------------------------------------


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_check_warns_when_the_label_does_not_cover_the_result(
    cds: CdsClient, hook: str
) -> None:
    orders = draft_orders(medication_request((RXNORM, "224905")))
    body = hook_body(hook, prefetch=prefetch_of(HER2_LOW), orders=orders)
    (card,) = cards_of(cds.call("her2-order-check", body))
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "trastuzumab: the label does not cover HER2-low (HER2-negative) breast cancer"
    )
    assert card["overrideReasons"]


def test_order_check_suggests_the_pending_reflex_ish(cds: CdsClient) -> None:
    orders = draft_orders(medication_request((RXNORM, "2267574")))
    body = hook_body("order-sign", prefetch=prefetch_of(EQUIVOCAL), orders=orders)
    (card,) = cards_of(cds.call("her2-order-check", body))
    assert card["indicator"] == "warning"
    assert card["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "ServiceRequest"


def test_order_check_has_nothing_to_say_about_other_drugs(cds: CdsClient) -> None:
    orders = draft_orders(medication_request((RXNORM, "1547545")))
    body = hook_body("order-sign", prefetch=prefetch_of(HER2_LOW), orders=orders)
    assert cards_of(cds.call("her2-order-check", body)) == []


def test_patient_view_is_not_an_order_check_hook(cds: CdsClient) -> None:
    refused(cds.call("her2-order-check", hook_body(prefetch=prefetch_of(HER2_LOW))), 400)

"""CDS Hooks over HTTP: discovery, hooks, feedback, tokens, prefetch, 412, CORS.

The EHR is the project's CDS Hooks client (``tests.builders.cds``) with its JWK Set
served on loopback; FHIR servers for the fallback are real loopback HTTP servers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask import Flask

from service.api import create_app
from service.settings import Settings
from service.settings_cds import CdsSettings
from tests.builders import BREAST, NOW, ihc, ihc_score, searchset, specimen
from tests.builders.cds import (
    PUBLIC_URL,
    RXNORM,
    Answer,
    CdsClient,
    cds_settings,
    draft_orders,
    ehr_issuer,
    ehr_jwt,
    flask_transport,
    hook_body,
    medication_request,
    prefetch_of,
)
from tests.builders.cds_schema import DISCOVERY, RESPONSE, schema_errors
from tests.builders.smart import Loopback, Reply, Seen
from tests.builders.tokens import Issuer, JwksServer, jwks_server

EQUIVOCAL = [specimen("s1", body_site=BREAST), ihc("ihc1", specimen="Specimen/s1")]
HER2_LOW = [specimen("s1", body_site=BREAST), ihc_score("ihc1", "1+", specimen="Specimen/s1")]


@pytest.fixture(scope="module")
def ehr() -> Issuer:
    return ehr_issuer()


@pytest.fixture
def jwks(ehr: Issuer) -> Iterator[JwksServer]:
    with jwks_server(ehr) as server:
        yield server


@pytest.fixture
def make_app(jwks: JwksServer, tmp_path: Path) -> Callable[..., Flask]:
    def make(**cds: Any) -> Flask:
        settings = Settings(cds=cds_settings(jwks.url, tmp_path / "data", **cds))
        app = create_app(settings, clock=lambda: NOW)
        app.config["TESTING"] = True
        return app

    return make


@pytest.fixture
def cds(make_app: Callable[..., Flask], ehr: Issuer) -> CdsClient:
    return CdsClient(ehr, flask_transport(make_app().test_client()))


class FhirServer:
    """A loopback FHIR server answering the prefetch searches from ``resources``."""

    def __init__(self, resources: list[dict[str, Any]], delay: float = 0.0, status: int = 200):
        self.resources = resources
        self.delay = delay
        self.status = status
        self.loopback = Loopback(self.handle, "/fhir")

    def handle(self, request: Seen) -> Reply:
        time.sleep(self.delay)
        if self.status != 200:
            return self.status, {"Content-Type": "application/fhir+json"}, b"{}"
        parts = urlsplit(request.path)
        segments = parts.path.split("/")
        if len(segments) == 4:  # a read: /fhir/Type/id
            read = [r for r in self.resources if r.get("id") == segments[3]]
            body = json.dumps(read[0] if read else {"resourceType": "Bundle"}).encode()
            return 200, {"Content-Type": "application/fhir+json"}, body
        kind = segments[-1]
        patient = parse_qs(parts.query).get("patient", [""])[0]
        found = [
            r
            for r in self.resources
            if r["resourceType"] == kind
            and r.get("subject", {}).get("reference", "").endswith(patient)
        ]
        body = json.dumps(searchset(*found), default=str).encode()
        return 200, {"Content-Type": "application/fhir+json"}, body

    @property
    def url(self) -> str:
        return self.loopback.url


def _ok(answer: Answer) -> list[dict[str, Any]]:
    assert answer.status == 200, answer.json
    assert answer.headers["Content-Type"].startswith("application/json")
    assert schema_errors(answer.json, RESPONSE) == []
    cards: list[dict[str, Any]] = answer.json["cards"]
    return cards


def _refused(answer: Answer, status: int) -> dict[str, Any]:
    assert answer.status == status, answer.json
    assert answer.json["resourceType"] == "OperationOutcome"
    outcome: dict[str, Any] = answer.json
    return outcome


# --- discovery and tokens -------------------------------------------------------------


def test_discovery_names_both_services_and_their_prefetch(cds: CdsClient) -> None:
    answer = cds.discovery()
    assert answer.status == 200
    assert schema_errors(answer.json, DISCOVERY) == []
    services = {(s["id"], s["hook"]) for s in answer.json["services"]}
    assert services == {
        ("her2-status", "patient-view"),
        ("her2-order-check", "order-select"),
        ("her2-order-check", "order-sign"),
    }
    prefetch = answer.json["services"][0]["prefetch"]
    assert set(prefetch) == {"her2Observations", "her2Reports", "her2Specimens", "cancerConditions"}
    assert prefetch["cancerConditions"] == "Condition?patient={{context.patientId}}"
    assert "http://loinc.org|85319-2" in prefetch["her2Observations"]
    # Earlier interpretations too (prior specimens), as the Patient-level operation reads.
    assert "http://loinc.org|48676-1" in prefetch["her2Observations"]


def test_no_token_is_refused_with_a_bearer_challenge(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for response in (
        client.get("/cds-services"),
        client.post("/cds-services/her2-status", json=hook_body()),
        client.post("/cds-services/her2-status/feedback", json={"feedback": []}),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["resourceType"] == "OperationOutcome"


def test_a_token_for_another_endpoint_is_refused(cds: CdsClient, ehr: Issuer) -> None:
    token = ehr_jwt(ehr, f"{PUBLIC_URL}/cds-services/her2-status")
    _refused(cds.send("GET", "/cds-services", token=token), 401)
    token = ehr_jwt(ehr, f"{PUBLIC_URL}/cds-services")
    _refused(cds.send("POST", "/cds-services/her2-status", hook_body(), token=token), 401)


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    if signature:
        signature = hmac.new(signature, head.encode(), hashlib.sha256).digest()
    return f"{head}.{part(signature)}"


def test_forged_tokens_are_refused_over_http(cds: CdsClient, ehr: Issuer, jwks: JwksServer) -> None:
    now = int(time.time())
    aud = f"{PUBLIC_URL}/cds-services"
    claims: dict[str, Any] = {
        "iss": ehr.issuer,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": "forged",
    }
    rogue = ehr_issuer(**{"ec-1": "ES384"})
    with jwks_server(rogue) as rogue_jwks:
        tokens = {
            "alg none": _unsigned({"alg": "none", "typ": "JWT", "kid": "ec-1"}, claims),
            "HS256": _unsigned({"alg": "HS256", "typ": "JWT", "kid": "ec-1"}, claims, b"k" * 32),
            "unknown iss": ehr_jwt(ehr, aud, iss="https://evil.test/"),
            "jku elsewhere": ehr_jwt(rogue, aud, headers={"jku": rogue_jwks.url}),
            "no kid": jwt.encode(claims, ehr.keys["ec-1"][1], "ES384", headers={"typ": "JWT"}),
        }
        for name, token in tokens.items():
            assert cds.send("GET", "/cds-services", token=token).status == 401, name
        assert rogue_jwks.fetches == 0
    assert jwks.fetches == 0  # every one of them was refused before any key was needed


def test_a_replayed_token_is_refused(cds: CdsClient) -> None:
    assert cds.discovery().status == 200
    _refused(cds.send("GET", "/cds-services", token=cds.sent[-1]), 401)


def test_expired_and_over_long_tokens_are_refused(cds: CdsClient, ehr: Issuer) -> None:
    aud = f"{PUBLIC_URL}/cds-services"
    expired = ehr_jwt(ehr, aud, iat=int(time.time()) - 400, lifetime=120)
    _refused(cds.send("GET", "/cds-services", token=expired), 401)
    long_lived = ehr_jwt(ehr, aud, lifetime=3600)
    _refused(cds.send("GET", "/cds-services", token=long_lived), 401)


def test_without_an_allow_listed_issuer_every_call_is_refused(tmp_path: Path, ehr: Issuer) -> None:
    app = create_app(Settings(cds=CdsSettings(data_dir=tmp_path)), clock=lambda: NOW)
    client = CdsClient(ehr, flask_transport(app.test_client()))
    outcome = _refused(client.discovery(), 401)
    assert "none configured" in outcome["issue"][0]["diagnostics"]
    assert not (tmp_path / "cds-jti.sqlite").exists()


def test_the_token_and_its_claims_never_reach_the_answer_or_the_logs(
    cds: CdsClient, ehr: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = ehr_jwt(ehr, f"{PUBLIC_URL}/cds-services/her2-status", tenant="tenant-canary")
    with caplog.at_level(logging.INFO, logger="her2"):
        answer = cds.send("POST", "/cds-services/her2-status", hook_body(), token=token)
        replay = cds.send("POST", "/cds-services/her2-status", hook_body(), token=token)
    assert replay.status == 401
    text = json.dumps([answer.json, replay.json]) + caplog.text
    assert token not in text
    assert token.split(".")[1] not in text
    assert "tenant-canary" not in text


# --- CORS -------------------------------------------------------------------------------


def test_preflight_needs_no_token_and_allows_the_jwt_header(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app().test_client()
    response = client.options(
        "/cds-services/her2-status",
        headers={
            "Origin": "https://ehr-ui.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_cors_headers_on_answers_and_refusals_for_configured_origins(
    make_app: Callable[..., Flask], ehr: Issuer
) -> None:
    client = make_app(cors_origins=("https://ehr-ui.test",)).test_client()
    refused = client.get("/cds-services", headers={"Origin": "https://ehr-ui.test"})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "https://ehr-ui.test"
    other = client.get("/cds-services", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in other.headers
    token = ehr_jwt(ehr, f"{PUBLIC_URL}/cds-services")
    answered = client.get(
        "/cds-services",
        headers={"Origin": "https://ehr-ui.test", "Authorization": f"Bearer {token}"},
    )
    assert answered.status_code == 200
    assert answered.headers["Access-Control-Allow-Origin"] == "https://ehr-ui.test"
    # The FHIR API is not opened to browsers by this.
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/fhir/metadata", headers={"Origin": "https://ehr-ui.test"}).headers
    )


# --- patient-view ------------------------------------------------------------------------


def test_patient_view_from_prefetch(cds: CdsClient) -> None:
    cards = _ok(cds.call("her2-status", hook_body(prefetch=prefetch_of(EQUIVOCAL))))
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
    cards = _ok(cds.call("her2-status", hook_body(prefetch=prefetch_of(resources))))
    assert [c["summary"] for c in cards] == [
        "HER2-positive (breast, 2026-03-01): heterogeneity: clinician review",
        "HER2-negative, HER2-low (breast, 2026-01-10)",
    ]


def test_null_prefetch_keys_mean_no_data(cds: CdsClient) -> None:
    prefetch = dict.fromkeys(
        ["her2Observations", "her2Reports", "her2Specimens", "cancerConditions"]
    )
    assert _ok(cds.call("her2-status", hook_body(prefetch=prefetch))) == []


def test_missing_prefetch_without_fhir_access_is_412(cds: CdsClient) -> None:
    prefetch = prefetch_of(EQUIVOCAL)
    del prefetch["her2Observations"]
    outcome = _refused(cds.call("her2-status", hook_body(prefetch=prefetch)), 412)
    assert "could not be obtained" in outcome["issue"][0]["diagnostics"]
    _refused(cds.call("her2-status", hook_body()), 412)


def test_an_operation_outcome_prefetch_without_fhir_access_is_412(cds: CdsClient) -> None:
    prefetch = prefetch_of(EQUIVOCAL)
    prefetch["her2Specimens"] = {"resourceType": "OperationOutcome", "issue": []}
    _refused(cds.call("her2-status", hook_body(prefetch=prefetch)), 412)


def test_missing_prefetch_is_fetched_from_an_allow_listed_fhir_server(
    make_app: Callable[..., Flask], ehr: Issuer
) -> None:
    server = FhirServer(EQUIVOCAL)
    with server.loopback.running():
        app = make_app(fhir_servers=(server.url,))
        client = CdsClient(ehr, flask_transport(app.test_client()))
        prefetch = prefetch_of(EQUIVOCAL)
        prefetch["her2Observations"] = {"resourceType": "OperationOutcome", "issue": []}
        del prefetch["her2Specimens"]
        body = hook_body(prefetch=prefetch, fhir_server=server.url, access_token="ehr-token-1")
        (card,) = _ok(client.call("her2-status", body))
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
    server = FhirServer(resources)
    with server.loopback.running():
        client = CdsClient(ehr, flask_transport(make_app(fhir_servers=(server.url,)).test_client()))
        body = hook_body(fhir_server=server.url, access_token="ehr-token-1")
        cards = _ok(client.call("her2-status", body))
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
    server = FhirServer(EQUIVOCAL)
    with server.loopback.running():
        client = CdsClient(ehr, flask_transport(make_app().test_client()))
        body = hook_body(fhir_server=server.url, access_token="ehr-token-1")
        _refused(client.call("her2-status", body), 412)
    assert server.loopback.seen == []


def test_a_slow_fhir_server_cannot_hold_the_hook(
    make_app: Callable[..., Flask], ehr: Issuer
) -> None:
    server = FhirServer(EQUIVOCAL, delay=6.0)
    with server.loopback.running():
        app = make_app(fhir_servers=(server.url,), fhir_timeout=0.5)
        client = CdsClient(ehr, flask_transport(app.test_client()))
        started = time.monotonic()
        answer = client.call(
            "her2-status", hook_body(fhir_server=server.url, access_token="ehr-token-1")
        )
        waited = time.monotonic() - started
        _refused(answer, 412)
        # Answered while the server was still sleeping on the first request.
        assert waited < server.delay
        assert server.loopback.seen


def test_a_failing_fhir_server_is_412(make_app: Callable[..., Flask], ehr: Issuer) -> None:
    server = FhirServer(EQUIVOCAL, status=500)
    with server.loopback.running():
        client = CdsClient(ehr, flask_transport(make_app(fhir_servers=(server.url,)).test_client()))
        body = hook_body(fhir_server=server.url, access_token="ehr-token-1")
        _refused(client.call("her2-status", body), 412)


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
    outcome = _refused(cds.call("her2-status", body), status)
    assert "../Patient/x" not in json.dumps(outcome)
    assert "everything" not in json.dumps(outcome)


def test_unknown_service_is_404_after_the_token_check(cds: CdsClient) -> None:
    _refused(cds.call("no-such-service", hook_body()), 404)


# --- order-select / order-sign -----------------------------------------------------------


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_order_check_warns_when_the_label_does_not_cover_the_result(
    cds: CdsClient, hook: str
) -> None:
    orders = draft_orders(medication_request((RXNORM, "224905")))
    body = hook_body(hook, prefetch=prefetch_of(HER2_LOW), orders=orders)
    (card,) = _ok(cds.call("her2-order-check", body))
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "trastuzumab: the label does not cover HER2-low (HER2-negative) breast cancer"
    )
    assert card["overrideReasons"]


def test_order_check_suggests_the_pending_reflex_ish(cds: CdsClient) -> None:
    orders = draft_orders(medication_request((RXNORM, "2267574")))
    body = hook_body("order-sign", prefetch=prefetch_of(EQUIVOCAL), orders=orders)
    (card,) = _ok(cds.call("her2-order-check", body))
    assert card["indicator"] == "warning"
    assert card["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "ServiceRequest"


def test_order_check_has_nothing_to_say_about_other_drugs(cds: CdsClient) -> None:
    orders = draft_orders(medication_request((RXNORM, "1547545")))
    body = hook_body("order-sign", prefetch=prefetch_of(HER2_LOW), orders=orders)
    assert _ok(cds.call("her2-order-check", body)) == []


def test_patient_view_is_not_an_order_check_hook(cds: CdsClient) -> None:
    _refused(cds.call("her2-order-check", hook_body(prefetch=prefetch_of(HER2_LOW))), 400)


# --- feedback -----------------------------------------------------------------------------


def test_feedback_is_counted_and_logged_without_the_comment(
    cds: CdsClient, caplog: pytest.LogCaptureFixture
) -> None:
    items: list[dict[str, Any]] = [
        {
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "overridden",
            "overrideReason": {
                "reason": {
                    "system": "https://her2-status.org/fhir/CodeSystem/her2-cds-override-reason",
                    "code": "tumour-board",
                },
                "userComment": "comment-canary about the patient",
            },
            "outcomeTimestamp": "2026-11-25T12:00:00Z",
        },
        {
            "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
            "outcomeTimestamp": "2026-11-25T12:00:00Z",
        },
    ]
    with caplog.at_level(logging.INFO, logger="her2.cds"):
        answer = cds.feedback("her2-order-check", items)
    assert answer.status == 200
    assert "comment-canary" not in caplog.text
    records = [r for r in caplog.records if r.getMessage() == "cds-feedback"]
    assert [(r.fields["outcome"], r.fields["override_reason"]) for r in records] == [  # type: ignore[attr-defined]
        ("overridden", "tumour-board"),
        ("accepted", "none"),
    ]


@pytest.mark.parametrize(
    "items",
    [
        [],
        [{"card": "c1", "outcome": "ignored", "outcomeTimestamp": "t"}],
        [{"card": "c1", "outcome": "accepted", "outcomeTimestamp": "t"}],
        [{"card": "<script>", "outcome": "overridden", "outcomeTimestamp": "t"}],
    ],
)
def test_malformed_feedback_is_400(cds: CdsClient, items: list[dict[str, Any]]) -> None:
    _refused(cds.feedback("her2-status", items), 400)

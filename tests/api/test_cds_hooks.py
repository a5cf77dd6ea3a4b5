"""CDS Hooks over HTTP: discovery, tokens, CORS, feedback.

The EHR is the project's CDS Hooks client (``tests.builders.cds``) with its JWK Set
served on loopback.  Hook answers and prefetch: ``test_cds_hooks_data``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask

from service.api import create_app
from service.settings import Settings
from service.settings.cds import CdsSettings
from tests.builders import NOW
from tests.builders.cds import (
    PUBLIC_URL,
    CdsClient,
    ehr_issuer,
    ehr_jwt,
    flask_transport,
    hook_body,
    refused,
)
from tests.builders.cds_schema import DISCOVERY, schema_errors
from tests.builders.tokens import Issuer, JwksServer, jwks_server

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
    refused(cds.send("GET", "/cds-services", token=token), 401)
    token = ehr_jwt(ehr, f"{PUBLIC_URL}/cds-services")
    refused(cds.send("POST", "/cds-services/her2-status", hook_body(), token=token), 401)


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
    refused(cds.send("GET", "/cds-services", token=cds.sent[-1]), 401)


def test_expired_and_over_long_tokens_are_refused(cds: CdsClient, ehr: Issuer) -> None:
    aud = f"{PUBLIC_URL}/cds-services"
    expired = ehr_jwt(ehr, aud, iat=int(time.time()) - 400, lifetime=120)
    refused(cds.send("GET", "/cds-services", token=expired), 401)
    long_lived = ehr_jwt(ehr, aud, lifetime=3600)
    refused(cds.send("GET", "/cds-services", token=long_lived), 401)


def test_without_an_allow_listed_issuer_every_call_is_refused(tmp_path: Path, ehr: Issuer) -> None:
    app = create_app(Settings(cds=CdsSettings(data_dir=tmp_path)), clock=lambda: NOW)
    client = CdsClient(ehr, flask_transport(app.test_client()))
    outcome = refused(client.discovery(), 401)
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
    refused(cds.feedback("her2-status", items), 400)

"""CDS Hooks prefetch fallback against the HAPI test server.

The EHR sends no (or partial) prefetch data, names HAPI as ``fhirServer`` and passes
an access token (``fhirAuthorization``); the service runs its prefetch templates there
and answers from what HAPI holds.  HAPI requires Keycloak's tokens: the EHR's token is a
real one with read scopes, and a token HAPI refuses makes the hook answer 412.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.settings import AuthSettings, Settings
from tests.builders import NOW, ihc, ihc_score
from tests.builders.cds import (
    RXNORM,
    CdsClient,
    cds_settings,
    draft_orders,
    flask_transport,
    hook_body,
    medication_request,
    prefetch_of,
)
from tests.builders.cds_schema import RESPONSE, schema_errors
from tests.builders.tokens import Issuer, JwksServer
from tests.integration.fhir_server import Fhir
from tests.integration.keycloak import SERVICE_CLIENT, Keycloak

# What the EHR grants the CDS service for its prefetch queries: reads of the HER2 inputs.
READ_SCOPES = (
    "system/Observation.rs system/DiagnosticReport.rs system/Specimen.rs system/Condition.rs"
)


@pytest.fixture(scope="module")
def ehr_token(keycloak_server: Keycloak) -> str:
    return keycloak_server.token(SERVICE_CLIENT, READ_SCOPES)


def _client(ehr: Issuer, jwks: JwksServer, tmp_path: Path, fhir_base_url: str) -> CdsClient:
    settings = Settings(
        auth=AuthSettings.off(),
        cds=cds_settings(jwks.url, tmp_path / "data", fhir_servers=(fhir_base_url,)),
    )
    app: FlaskClient = create_app(settings, clock=lambda: NOW).test_client()
    return CdsClient(ehr, flask_transport(app))


def _cards(answer: Any) -> list[dict[str, Any]]:
    assert answer.status == 200, answer.json
    assert schema_errors(answer.json, RESPONSE) == []
    cards: list[dict[str, Any]] = answer.json["cards"]
    return cards


def test_patient_view_without_prefetch_reads_hapi(
    ehr: Issuer,
    jwks: JwksServer,
    tmp_path: Path,
    fhir_base_url: str,
    fhir: Fhir,
    patient_id: str,
    ehr_token: str,
) -> None:
    subject = f"Patient/{patient_id}"
    fhir.put(ihc(f"{patient_id}-ihc", subject=subject, specimen=f"Specimen/{patient_id}-s1"))
    client = _client(ehr, jwks, tmp_path, fhir_base_url)
    body = hook_body(patient_id=patient_id, fhir_server=fhir_base_url, access_token=ehr_token)
    (card,) = _cards(client.call("her2-status", body))
    assert card["summary"] == "HER2 equivocal (breast, 2026-01-10): reflex ISH pending"
    resource = card["suggestions"][0]["actions"][0]["resource"]
    assert resource["specimen"] == [{"reference": f"Specimen/{patient_id}-s1"}]
    assert resource["subject"] == {"reference": subject}


def test_order_sign_with_partial_prefetch_reads_the_rest_from_hapi(
    ehr: Issuer,
    jwks: JwksServer,
    tmp_path: Path,
    fhir_base_url: str,
    fhir: Fhir,
    patient_id: str,
    ehr_token: str,
) -> None:
    subject = f"Patient/{patient_id}"
    observation = ihc_score(
        f"{patient_id}-ihc", "0-ultralow", subject=subject, specimen=f"Specimen/{patient_id}-s1"
    )
    fhir.put(observation)
    client = _client(ehr, jwks, tmp_path, fhir_base_url)
    # The Observation comes prefetched; Specimens, reports and Conditions from HAPI.
    prefetch = {"her2Observations": prefetch_of([observation])["her2Observations"]}
    body = hook_body(
        "order-sign",
        patient_id=patient_id,
        prefetch=prefetch,
        orders=draft_orders(medication_request((RXNORM, "2267574"))),
        fhir_server=fhir_base_url,
        access_token=ehr_token,
    )
    (card,) = _cards(client.call("her2-order-check", body))
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "fam-trastuzumab deruxtecan: the label covers HER2-ultralow (HER2-negative) breast cancer"
    )


def test_a_patient_hapi_does_not_know_has_no_cards(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path, fhir_base_url: str, ehr_token: str
) -> None:
    client = _client(ehr, jwks, tmp_path, fhir_base_url)
    body = hook_body(patient_id="h2-nobody", fhir_server=fhir_base_url, access_token=ehr_token)
    assert _cards(client.call("her2-status", body)) == []


def test_a_token_hapi_refuses_is_412_without_the_token_in_the_answer(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path, fhir_base_url: str
) -> None:
    client = _client(ehr, jwks, tmp_path, fhir_base_url)
    forged = "eyJhbGciOiJFUzM4NCJ9.e30.not-a-signature-canary"
    body = hook_body(patient_id="h2-nobody", fhir_server=fhir_base_url, access_token=forged)
    answer = client.call("her2-status", body)
    assert answer.status == 412
    assert "canary" not in json.dumps(answer.json)

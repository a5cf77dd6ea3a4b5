"""Real tokens end to end: Keycloak issues them, HAPI and the service check them.

HAPI (``BearerTokenAuthorization.java``) and the service (``service.auth``) each verify
signature, issuer, audience, expiry and SMART scopes; the service obtains its own token
for HAPI from Keycloak with ``private_key_jwt``.  Errors from HAPI reach the service's
callers as 502 with an OperationOutcome naming the auth failure, never a token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from flask.testing import FlaskClient

from service.auth.tokens import LEEWAY
from service.clients.errors import FhirAuthRefused
from tests.builders import LOINC, concept, observation
from tests.integration.fhir_server import Fhir
from tests.integration.keycloak import (
    ENGINE,
    PATIENT_APP,
    PATIENT_APP_PATIENT,
    READ_ONLY_ENGINE,
    SERVICE_CLIENT,
    Keycloak,
)

OP = "/fhir/Patient/{}/$her2-status"
PERSIST_FALSE = (
    '{"resourceType": "Parameters", "parameter": [{"name": "persist", "valueBoolean": false}]}'
)
JWT_SHAPE = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
HAPI_SKEW = 2  # HapiAuth.clock_skew_seconds of the test server


def seed_ihc(fhir: Fhir, pid: str) -> None:
    on = {"subject": f"Patient/{pid}", "specimen": f"Specimen/{pid}-s1", "effective": "2026-05-01"}
    fhir.put(observation(f"{pid}-ihc", "85319-2", **on, **concept("LA11843-2")))


def call(service: FlaskClient, pid: str, body: str | None = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return service.post(
        OP.format(pid), data=body, content_type="application/fhir+json", headers=headers
    )


def results(fhir: Fhir, pid: str) -> list[dict[str, Any]]:
    return fhir.search("Observation", subject=f"Patient/{pid}", code=f"{LOINC}|48676-1")


def assert_security_502(response: Any) -> list[str]:
    """502, an OperationOutcome with a ``security`` issue, and no token in the body."""
    assert response.status_code == 502, response.data
    body = response.get_data(as_text=True)
    assert JWT_SHAPE.search(body) is None
    issues = response.json["issue"]
    assert issues[0]["code"] == "security"
    return [i["diagnostics"] for i in issues]


# -- HAPI requires Keycloak's tokens --


def test_hapi_requires_a_bearer_token(fhir: Fhir) -> None:
    url = f"{fhir.base_url}/Observation"
    missing = requests.get(url, timeout=30)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer ")
    forged = requests.get(url, headers={"Authorization": "Bearer e30.e30.e30"}, timeout=30)
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    assert fhir.request("GET", url).status_code == 200
    # Open: the CapabilityStatement and the SMART configuration (token endpoint discovery).
    assert requests.get(f"{fhir.base_url}/metadata", timeout=30).status_code == 200
    smart = requests.get(f"{fhir.base_url}/.well-known/smart-configuration", timeout=30)
    assert smart.json()["token_endpoint"].endswith("/protocol/openid-connect/token")


def test_hapi_maps_scopes_to_what_a_token_may_do(fhir: Fhir, keycloak_server: Keycloak) -> None:
    token = keycloak_server.token(SERVICE_CLIENT, "system/Observation.rs")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    url = f"{fhir.base_url}/Observation"
    assert requests.get(url, headers=headers, timeout=30).status_code == 200
    assert requests.get(f"{fhir.base_url}/Patient", headers=headers, timeout=30).status_code == 403
    created = requests.post(
        url,
        headers=headers,
        data='{"resourceType": "Observation", "status": "final", "code": {"text": "x"}}',
        timeout=30,
    )
    assert created.status_code == 403


# -- the service as HAPI's client (SMART Backend Services) --


def test_service_discovers_the_token_endpoint_at_hapi(
    fhir: Fhir,
    patient_id: str,
    keycloak_server: Keycloak,
    service_factory: Callable[..., FlaskClient],
) -> None:
    seed_ihc(fhir, patient_id)
    service = service_factory(fhir_smart=keycloak_server.service_smart(discover=True))
    assert call(service, patient_id).status_code == 200
    assert len(results(fhir, patient_id)) == 1


def test_service_token_without_write_scopes_is_refused_by_hapi_and_answered_502(
    fhir: Fhir,
    patient_id: str,
    keycloak_server: Keycloak,
    service_factory: Callable[..., FlaskClient],
) -> None:
    seed_ihc(fhir, patient_id)
    reads = (
        "system/Observation.rs system/DiagnosticReport.rs system/Specimen.rs "
        "system/Condition.rs system/List.rs system/Provenance.rs system/Device.rs"
    )
    service = service_factory(fhir_smart=keycloak_server.service_smart(scopes=reads))
    # Reading is granted: derive without writing works.
    assert call(service, patient_id, PERSIST_FALSE).status_code == 200
    diagnostics = assert_security_502(call(service, patient_id))
    assert "403" in diagnostics[0]
    assert results(fhir, patient_id) == []


def test_expired_tokens_are_refused_by_hapi_and_by_the_service(
    fhir: Fhir,
    patient_id: str,
    keycloak_server: Keycloak,
    service_factory: Callable[..., FlaskClient],
) -> None:
    seed_ihc(fhir, patient_id)
    # Keycloak's "short-lived" client: 2-second tokens for both audiences.
    token = keycloak_server.token("short-lived", "system/Observation.rs")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 2
    headers = {"Authorization": f"Bearer {token}"}
    hapi = f"{fhir.base_url}/Observation?subject=Patient/{patient_id}"
    service = service_factory(caller=None)
    # Accepted while valid, by HAPI and by the service (as its caller's token) ...
    assert requests.get(hapi, headers=headers, timeout=30).status_code == 200
    assert call(service, patient_id, PERSIST_FALSE, token=token).status_code == 200
    # ... refused by both once expired (beyond each one's clock-skew leeway).
    time.sleep(max(claims["exp"] + max(LEEWAY, HAPI_SKEW) + 1 - time.time(), 0))
    refused = requests.get(hapi, headers=headers, timeout=30)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    caller_refused = call(service, patient_id, PERSIST_FALSE, token=token)
    assert caller_refused.status_code == 401
    assert 'error="invalid_token"' in caller_refused.headers["WWW-Authenticate"]
    # A service holding it as its (static) token for HAPI, called with a valid token:
    # HAPI's 401 is answered 502, naming the failure.
    static = service_factory(caller=None, fhir_smart=None, fhir_token=token)
    engine = keycloak_server.token(*ENGINE)
    diagnostics = assert_security_502(call(static, patient_id, PERSIST_FALSE, token=engine))
    assert "401" in diagnostics[0]


# -- the service's callers --


def test_callers_need_a_token_and_the_scopes_of_what_they_ask(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    seed_ihc(fhir, patient_id)
    anonymous = call(service_factory(caller=None), patient_id)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    reader = service_factory(caller=READ_ONLY_ENGINE)
    assert call(reader, patient_id, PERSIST_FALSE).status_code == 200
    refused = call(reader, patient_id)  # persist (the default) needs system/Observation.cu
    assert refused.status_code == 403
    assert refused.json["issue"][0]["code"] == "forbidden"
    assert results(fhir, patient_id) == []
    assert call(service_factory(caller=ENGINE), patient_id).status_code == 200
    assert len(results(fhir, patient_id)) == 1


def test_patient_context_token_sees_only_its_patient(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    own = PATIENT_APP_PATIENT
    fhir.put({"resourceType": "Patient", "id": own})
    fhir.put(
        {"resourceType": "Specimen", "id": f"{own}-s1", "subject": {"reference": f"Patient/{own}"}}
    )
    seed_ihc(fhir, own)
    seed_ihc(fhir, patient_id)
    app = service_factory(caller=PATIENT_APP)
    assert call(app, own, PERSIST_FALSE).status_code == 200
    other = call(app, patient_id, PERSIST_FALSE)
    assert other.status_code == 403
    assert other.json["issue"][0]["code"] == "forbidden"


def test_keycloak_refuses_a_scope_the_client_was_not_given(keycloak_server: Keycloak) -> None:
    tokens = keycloak_server.tokens(*READ_ONLY_ENGINE)
    assert tokens.token()
    with pytest.raises(FhirAuthRefused):
        keycloak_server.token(READ_ONLY_ENGINE[0], "system/Observation.cu")

"""Key rotation at the real authorization server: a new realm key, the old one disabled.

Its own Keycloak and HAPI server (module scope): the rotation changes the realm, and the
session's servers keep the original key for every other test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from service.api import create_app
from service.auth import JwksKeys
from service.settings import Settings
from tests.builders import BREAST, LOINC, concept, observation, specimen
from tests.integration.fhir_server import RUN, Fhir
from tests.integration.keycloak import (
    ENGINE,
    SEEDER_CLIENT,
    SEEDER_SCOPES,
    Keycloak,
    keycloak_and_fhir_server,
)

OP = "/fhir/Patient/{}/$her2-status"


@pytest.fixture(scope="module")
def rotation_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Keycloak, str]]:
    with keycloak_and_fhir_server(tmp_path_factory.mktemp("rotation")) as pair:
        yield pair


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_after_rotation_the_service_and_hapi_accept_the_new_key(
    rotation_servers: tuple[Keycloak, str], tmp_path: Path
) -> None:
    kc, hapi_url = rotation_servers
    fhir = Fhir(hapi_url, kc.tokens(SEEDER_CLIENT, SEEDER_SCOPES))
    pid = f"h2-{RUN}-rotation"
    fhir.put({"resourceType": "Patient", "id": pid})
    fhir.put(specimen(f"{pid}-s1", subject=f"Patient/{pid}", body_site=BREAST))
    on = {"subject": f"Patient/{pid}", "specimen": f"Specimen/{pid}-s1", "effective": "2026-05-01"}
    fhir.put(observation(f"{pid}-ihc", "85319-2", **on, **concept("LA11843-2")))
    settings = Settings(
        fhir_base_url=hapi_url,
        lock_dir=tmp_path / "locks",
        fhir_smart=kc.service_smart(),
        auth=kc.service_auth(),
    )
    # The service's own JWKS client, with a 1 s refetch cooldown instead of 60 s (the
    # default would only make this test wait a minute before the new kid is fetched).
    app = create_app(settings, keys=JwksKeys(kc.jwks_url, cooldown=1.0))
    service = app.test_client()
    # The service's token source for HAPI (SMART Backend Services), to see its tokens.
    tokens: Any = app.extensions["her2"].application.client.session.auth.source

    old_caller = kc.token(*ENGINE)
    body = (
        '{"resourceType": "Parameters", "parameter": [{"name": "persist", "valueBoolean": false}]}'
    )
    first = service.post(
        OP.format(pid), data=body, content_type="application/fhir+json", headers=bearer(old_caller)
    )
    assert first.status_code == 200, first.data
    old_service_token = tokens.token()  # cached: the one just used
    old_kid = kid(old_caller)
    assert kid(old_service_token) == old_kid

    new_kid = kc.rotate_signing_key()
    assert new_kid != old_kid
    new_caller = kc.token(*ENGINE)
    assert kid(new_caller) == new_kid
    # HAPI: the new kid is unknown to its cached key set, so it refetches the JWKS ...
    new_seeder = kc.token(SEEDER_CLIENT, SEEDER_SCOPES)
    assert kid(new_seeder) == new_kid
    observations = f"{hapi_url}/Observation?subject=Patient/{pid}"
    assert requests.get(observations, headers=bearer(new_seeder), timeout=30).status_code == 200
    # ... where the old key is gone (disabled): the service's cached token is now refused.
    refused = requests.get(observations, headers=bearer(old_service_token), timeout=30)
    assert refused.status_code == 401

    # The caller's new-key token: an unknown kid for the service, which refetches the JWKS.
    # The service's cached token: refused by HAPI (401), so it gets a new one and retries.
    second = service.post(OP.format(pid), headers=bearer(new_caller))
    assert second.status_code == 200, second.data
    renewed = tokens.token()
    assert renewed != old_service_token
    assert kid(renewed) == new_kid
    written = fhir.search("Observation", subject=f"Patient/{pid}", code=f"{LOINC}|48676-1")
    assert len(written) == 1

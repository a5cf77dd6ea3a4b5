"""Real servers for the integration tests: Keycloak, and HAPI on loopback (or FHIR_BASE_URL).

Authenticated end to end: Keycloak (``tests/integration/keycloak.py``) issues every
token; the HAPI server requires its tokens (audience ``FHIR_AUDIENCE``); the service
gets its own from Keycloak with ``private_key_jwt`` (``HER2_FHIR_AUTH=smart-backend``)
and checks its callers' (``HER2_AUTH_*`` pointing at Keycloak); ``service_factory``'s
clients call it with the token of the ``integration-engine`` client unless told otherwise.

With ``FHIR_BASE_URL`` set (e.g. a public HAPI sandbox), the same tests run against
that server instead; every resource they write uses synthetic data, ids and
identifiers unique to the run (``h2-<run>-<n>``) and the tag ``RUN_TAG``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.settings import Settings
from tests.builders import BREAST, specimen
from tests.integration.fhir_server import RUN, Fhir
from tests.integration.keycloak import (
    ENGINE,
    SEEDER_CLIENT,
    SEEDER_SCOPES,
    Keycloak,
    keycloak_and_fhir_server,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every integration test, and those that use the FHIR server (sandbox runs)."""
    for item in items:
        if "tests/integration" not in str(item.path):
            continue
        item.add_marker(pytest.mark.integration)
        if "fhir_base_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.fhir_server)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Keycloak, str]]:
    """Keycloak and the HAPI server that requires its tokens (started side by side)."""
    with keycloak_and_fhir_server(tmp_path_factory.mktemp("servers")) as pair:
        yield pair


@pytest.fixture(scope="session")
def keycloak_server(servers: tuple[Keycloak, str]) -> Keycloak:
    return servers[0]


@pytest.fixture(scope="session")
def fhir_base_url(servers: tuple[Keycloak, str]) -> str:
    return servers[1]


@pytest.fixture(scope="session")
def fhir(fhir_base_url: str, keycloak_server: Keycloak) -> Fhir:
    return Fhir(fhir_base_url, keycloak_server.tokens(SEEDER_CLIENT, SEEDER_SCOPES))


_COUNTER = itertools.count(1)


@pytest.fixture
def patient_id(fhir: Fhir) -> str:
    """A fresh synthetic patient per test, with one breast specimen ``{id}-s1``."""
    pid = f"h2-{RUN}-{next(_COUNTER)}"
    fhir.put({"resourceType": "Patient", "id": pid})
    fhir.put(specimen(f"{pid}-s1", subject=f"Patient/{pid}", body_site=BREAST))
    return pid


@pytest.fixture
def service_factory(
    fhir_base_url: str, keycloak_server: Keycloak, tmp_path: Path
) -> Callable[..., FlaskClient]:
    """Services on the session's HAPI, their clients calling with a Keycloak token.

    ``caller`` (a client id and its scopes, default ``ENGINE``; None: no token) says
    whose token the client sends; other keywords override ``Settings`` fields.
    """
    callers: dict[tuple[str, str], Any] = {}

    def make(caller: tuple[str, str] | None = ENGINE, **overrides: Any) -> FlaskClient:
        overrides.setdefault("fhir_base_url", fhir_base_url)
        overrides.setdefault("fhir_smart", keycloak_server.service_smart())
        overrides.setdefault("auth", keycloak_server.service_auth())
        settings = Settings(lock_dir=tmp_path / "locks", **overrides)
        client = create_app(settings).test_client()
        if caller is not None:
            if caller not in callers:
                callers[caller] = keycloak_server.tokens(*caller)
            token = callers[caller].token()
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return make

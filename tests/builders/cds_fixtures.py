"""CDS Hooks fixtures shared by every layer: the EHR issuer, its JWK Set, the app.

Registered for all of tests/ by ``tests/conftest.py`` (``pytest_plugins``), so test
modules use them by name without importing each other.  A module may still define a
fixture of the same name to override one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.api import create_app
from service.settings import Settings
from tests.builders import NOW
from tests.builders.cds import CdsClient, cds_settings, ehr_issuer, flask_transport
from tests.builders.tokens import Issuer, JwksServer, jwks_server


@pytest.fixture
def ehr() -> Issuer:
    """A fresh EHR per test: some tests add keys to it."""
    return ehr_issuer()


@pytest.fixture
def jwks(ehr: Issuer) -> Iterator[JwksServer]:
    """The EHR's JWK Set served on a free loopback port."""
    with jwks_server(ehr) as server:
        yield server


@pytest.fixture
def make_app(jwks: JwksServer, tmp_path: Path) -> Callable[..., Flask]:
    """Builds the app trusting the EHR; keyword arguments go to ``cds_settings``."""

    def make(**cds: Any) -> Flask:
        settings = Settings(cds=cds_settings(jwks.url, tmp_path / "data", **cds))
        app = create_app(settings, clock=lambda: NOW)
        app.config["TESTING"] = True
        return app

    return make


@pytest.fixture
def cds(make_app: Callable[..., Flask], ehr: Issuer) -> CdsClient:
    """The EHR calling the default app through Flask's test client."""
    return CdsClient(ehr, flask_transport(make_app().test_client()))

"""Fresh application and client per test (Flask tutorial style), and a free port."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.api import create_app
from service.settings import AuthSettings, Settings
from tests.builders import NOW, ports


@pytest.fixture
def app() -> Flask:
    application = create_app(Settings(max_body_bytes=64 * 1024), clock=lambda: NOW)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def unreachable_client() -> FlaskClient:
    """The app configured with a FHIR server that refuses connections (port 1 of loopback)."""
    settings = Settings(
        fhir_base_url="http://127.0.0.1:1/fhir",
        connect_timeout=0.5,
        retries=0,
        auth=AuthSettings.off(),
    )
    return create_app(settings, clock=lambda: NOW).test_client()


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on right now, for a real server."""
    return ports.free_port()

"""Fresh application and client per test (Flask tutorial style)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.api import create_app
from service.settings import Settings

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def app() -> Flask:
    application = create_app(Settings(max_body_bytes=64 * 1024), clock=lambda: NOW)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()

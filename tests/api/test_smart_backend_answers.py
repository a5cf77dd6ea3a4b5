"""The API's answers when outbound SMART authorization fails, and what never leaks.

The Patient-level operation runs against a loopback token endpoint and FHIR
stand-in (``tests.builders.smart``); the answers must name the authorization
failure, and neither the access token nor the client assertion may appear in an
answer or a log record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.settings import AuthSettings, Settings, SmartBackendSettings
from tests.builders import NOW
from tests.builders.smart import CLIENT_ID, KEY_ID, FhirStandIn, TokenServer, ehr
from tests.builders.tokens import new_key

OP = "/fhir/Patient/p1/$her2-status"


class Collect(logging.Handler):
    """Every log record, formatted with its extra fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TokenServer, FhirStandIn, FlaskClient, Collect]]:
    key = new_key("RS384")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    handler = Collect()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with ehr(key, "RS384") as (tokens, fhir):
            settings = Settings(
                fhir_base_url=fhir.url,
                fhir_smart=SmartBackendSettings(CLIENT_ID, key_file, KEY_ID),
                connect_timeout=0.5,
                read_timeout=5,
                retries=0,
                auth=AuthSettings.off(),
            )
            app = create_app(settings, clock=lambda: NOW, locks=FileLocks(tmp_path / "locks"))
            yield tokens, fhir, app.test_client(), handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _secrets(tokens: TokenServer) -> list[str]:
    return [*tokens.issued, *tokens.assertions]


def _assert_no_secrets(tokens: TokenServer, text: str, handler: Collect) -> None:
    assert tokens.assertions  # something to look for
    for secret in _secrets(tokens):
        assert secret not in text
        assert not any(secret in line for line in handler.lines)


def test_a_working_token_reads_the_patient(
    setup: tuple[TokenServer, FhirStandIn, FlaskClient, Collect],
) -> None:
    tokens, fhir, client, handler = setup
    response = client.post(OP)
    assert len(tokens.issued) == 1
    assert fhir.fhir_requests()  # the search went through with the token
    # The stand-in has no results: the derivation's own answer, not an upstream error.
    assert response.status_code == 422
    assert len(fhir.fhir_requests()) == 4
    _assert_no_secrets(tokens, response.get_data(as_text=True), handler)


def test_a_token_refused_twice_is_502_naming_the_token(
    setup: tuple[TokenServer, FhirStandIn, FlaskClient, Collect],
) -> None:
    tokens, fhir, client, handler = setup
    fhir.unauthorized = 2
    response = client.post(OP)
    assert response.status_code == 502
    (issue,) = response.json["issue"]  # type: ignore[index]
    assert issue["code"] == "security"
    assert "refused the service's access token (401)" in issue["diagnostics"]
    assert len(tokens.issued) == 2
    _assert_no_secrets(tokens, response.get_data(as_text=True), handler)


def test_a_refusing_token_endpoint_is_502(
    setup: tuple[TokenServer, FhirStandIn, FlaskClient, Collect],
) -> None:
    tokens, fhir, client, handler = setup
    tokens.mode = "refuse"
    response = client.post(OP)
    assert response.status_code == 502
    issues = response.json["issue"]  # type: ignore[index]
    assert issues[0]["diagnostics"] == (
        "The EHR's authorization server refused the service's credentials."
    )
    assert issues[1]["diagnostics"] == "authorization server: invalid_client"
    assert "client disabled" not in response.get_data(as_text=True)  # no free text passed on
    assert fhir.fhir_requests() == []
    _assert_no_secrets(tokens, response.get_data(as_text=True), handler)


def test_a_failing_token_endpoint_is_503_with_retry_after(
    setup: tuple[TokenServer, FhirStandIn, FlaskClient, Collect],
) -> None:
    tokens, _, client, handler = setup
    tokens.mode = "fail"
    response = client.post(OP)
    _assert_no_secrets(tokens, response.get_data(as_text=True), handler)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert "authorization server is unavailable" in response.json["issue"][0]["diagnostics"]  # type: ignore[index]


def test_readyz_reports_the_auth_failure(
    setup: tuple[TokenServer, FhirStandIn, FlaskClient, Collect],
) -> None:
    tokens, _, client, handler = setup
    tokens.mode = "refuse"
    response = client.get("/readyz")
    assert response.status_code == 503
    _assert_no_secrets(tokens, response.get_data(as_text=True), handler)

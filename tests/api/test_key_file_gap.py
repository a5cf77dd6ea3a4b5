"""The SMART signing key file disappears after the start's check: clean failures only.

The master checks ``HER2_FHIR_PRIVATE_KEY`` once (``Settings.from_env``); a worker
that starts later, or a token request made later, must not die with a traceback
when the file has gone or become unreadable since.  A request answers 503 with an
OperationOutcome naming the configuration problem (never the path or key), the log
has one line for it without a traceback, and restoring the file is enough.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import redirect_stderr
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from service.api import create_app
from service.app.locks import FileLocks
from service.cli import main
from service.settings import AuthSettings, Settings, SmartBackendSettings
from tests.builders import NOW
from tests.builders.smart import CLIENT_ID, KEY_ID, FhirStandIn, TokenServer, ehr
from tests.builders.tokens import PrivateKey, new_key

OP = "/fhir/Patient/p1/$her2-status"


def _pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Records(logging.Handler):
    """Every record of the her2 loggers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def key() -> PrivateKey:
    return new_key("ES384")


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("her2")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def server(key: PrivateKey) -> Iterator[tuple[TokenServer, FhirStandIn]]:
    with ehr(key, "ES384") as running:
        yield running


def _settings(fhir: FhirStandIn, key_file: Path) -> Settings:
    return Settings(
        fhir_base_url=fhir.url,
        fhir_smart=SmartBackendSettings(CLIENT_ID, key_file, KEY_ID),
        connect_timeout=0.5,
        read_timeout=5,
        retries=0,
        auth=AuthSettings.off(),
    )


def test_a_key_file_gone_before_a_worker_starts_is_a_503_then_recovers(
    key: PrivateKey,
    server: tuple[TokenServer, FhirStandIn],
    records: Records,
    tmp_path: Path,
) -> None:
    tokens, fhir = server
    key_file = tmp_path / "service-key.pem"
    # The settings were checked while the file was there (as the master does) ...
    key_file.write_bytes(_pem(key))
    settings = _settings(fhir, key_file)
    key_file.unlink()
    # ... and a worker starts after it went: the start itself must not fail.
    app = create_app(settings, clock=lambda: NOW, locks=FileLocks(tmp_path / "locks"))
    client = app.test_client()

    response = client.post(OP)

    assert response.status_code == 503
    assert "Retry-After" not in response.headers
    (issue,) = response.json["issue"]  # type: ignore[index]
    assert issue["code"] == "security"
    assert "HER2_FHIR_PRIVATE_KEY" in issue["diagnostics"]
    assert "misconfigured" in issue["diagnostics"]
    body = response.get_data(as_text=True)
    assert str(tmp_path) not in body
    assert "service-key.pem" not in body
    assert tokens.assertions == []  # nothing was sent to the authorization server
    assert fhir.fhir_requests() == []
    problems = [r for r in records.records if "signing key" in r.getMessage()]
    assert len(problems) == 1
    assert problems[0].levelno == logging.ERROR
    assert problems[0].exc_info is None
    assert all(r.exc_info is None for r in records.records)

    # Restoring the file is enough: the next request signs and reads.
    key_file.write_bytes(_pem(key))
    response = client.post(OP)
    assert response.status_code == 422  # the stand-in has no results for p1
    assert len(tokens.issued) == 1


def test_an_unreadable_key_file_is_a_503_not_a_500(
    server: tuple[TokenServer, FhirStandIn],
    records: Records,
    tmp_path: Path,
) -> None:
    _, fhir = server
    key_file = tmp_path / "service-key.pem"
    key_file.write_bytes(b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    app = create_app(
        _settings(fhir, key_file), clock=lambda: NOW, locks=FileLocks(tmp_path / "locks")
    )
    response = app.test_client().post(OP)
    assert response.status_code == 503
    assert response.json["issue"][0]["code"] == "security"  # type: ignore[index]
    assert "bm90IGEga2V5" not in response.get_data(as_text=True)
    assert not any("bm90IGEga2V5" in str(r.__dict__) for r in records.records)


def test_jwks_with_a_key_file_gone_after_the_check_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gone = tmp_path / "gone.pem"
    # The settings' check passed; the file is gone when the key is read.
    monkeypatch.setattr(
        "service.settings.smart_backend_settings",
        lambda: SmartBackendSettings(CLIENT_ID, gone, KEY_ID),
    )
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        code = main(["jwks"], out=io.StringIO())
    assert code == 1
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("her2-status: HER2_FHIR_PRIVATE_KEY: cannot read")

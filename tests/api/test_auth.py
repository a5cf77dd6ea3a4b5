"""Inbound bearer tokens over HTTP: 401/403 per endpoint, open endpoints, secure by default.

The issuer's keys are served by a real JWKS endpoint on loopback
(``tests.builders.tokens``); the Patient-level operation reads the in-memory store,
which records every read so that "checked before the FHIR server" is tested.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.api.logs import JsonFormatter
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.cli import EXIT_USAGE, main
from service.settings import AuthSettings, Settings, SettingsError
from tests.builders import NOW, case_ihc, parameters
from tests.builders.tokens import AUDIENCE, ISSUER, Issuer, JwksServer, bearer, jwks_server

STATELESS = "/fhir/$her2-status"
PATIENT = "/fhir/Patient/{}/$her2-status"
KNOWN = "case-patient"
FHIR_JSON = "application/fhir+json"
READ = "system/Observation.rs"
WRITE = "system/Observation.cu"


class _RecordingStore(MemoryStore):
    """The in-memory store, counting the reads of patient data."""

    reads = 0

    def patient_inputs(self, patient_id: str, codes: Collection[tuple[str, str]]) -> dict[str, Any]:
        self.reads += 1
        return super().patient_inputs(patient_id, codes)


@pytest.fixture
def issuer() -> Issuer:
    return Issuer.with_keys(**{"rsa-1": "RS256", "ec-1": "ES384"})


@pytest.fixture
def server(issuer: Issuer) -> Iterator[JwksServer]:
    with jwks_server(issuer) as running:
        yield running


@pytest.fixture
def store() -> _RecordingStore:
    store = _RecordingStore()
    store.put(case_ihc("ihc", "3+"))
    return store


def _auth(server: JwksServer, token_url: str | None = None) -> AuthSettings:
    return AuthSettings(ISSUER, server.url, AUDIENCE, token_url)


@pytest.fixture
def client(server: JwksServer, store: _RecordingStore, tmp_path: Path) -> FlaskClient:
    settings = Settings(auth=_auth(server, f"{ISSUER}/token"))
    app = create_app(settings, clock=lambda: NOW, store=store, locks=FileLocks(tmp_path))
    return app.test_client()


def _stateless(client: FlaskClient, headers: dict[str, str] | None = None) -> Any:
    body = json.dumps(case_ihc("ihc", "3+"))
    return client.post(STATELESS, data=body, content_type=FHIR_JSON, headers=headers or {})


def _patient(
    client: FlaskClient, token: str | None, persist: bool = False, patient: str = KNOWN
) -> Any:
    body = json.dumps(parameters({"name": "persist", "valueBoolean": persist}))
    headers = bearer(token) if token is not None else {}
    return client.post(PATIENT.format(patient), data=body, content_type=FHIR_JSON, headers=headers)


def _login_failure(response: Any, token_sent: bool) -> None:
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert ('error="invalid_token"' in challenge) is token_sent
    assert response.json["resourceType"] == "OperationOutcome"
    assert [i["code"] for i in response.json["issue"]] == ["login"]


def _security(client: FlaskClient) -> Any:
    statement: Any = client.get("/fhir/metadata").json
    return statement["rest"][0]["security"]


def _forbidden(response: Any) -> None:
    assert response.status_code == 403
    assert [i["code"] for i in response.json["issue"]] == ["forbidden"]


def test_no_token_is_401_without_an_error_code(client: FlaskClient) -> None:
    _login_failure(_stateless(client), token_sent=False)
    _login_failure(_patient(client, None), token_sent=False)
    _login_failure(_stateless(client, {"Authorization": "Basic dXNlcjpwdw=="}), token_sent=False)


def test_an_invalid_token_is_401_invalid_token(client: FlaskClient, issuer: Issuer) -> None:
    for token in ("", "garbage", issuer.token(iss="https://evil.test"), issuer.token(exp=1)):
        _login_failure(_stateless(client, bearer(token)), token_sent=True)
        _login_failure(_patient(client, token), token_sent=True)


def test_stateless_needs_any_valid_token(client: FlaskClient, issuer: Issuer) -> None:
    assert _stateless(client, bearer(issuer.token("openid"))).status_code == 200
    assert _stateless(client, bearer(issuer.token("", kid="ec-1"))).status_code == 200


def test_patient_operation_needs_observation_read(
    client: FlaskClient, issuer: Issuer, store: _RecordingStore
) -> None:
    _forbidden(_patient(client, issuer.token("openid system/Patient.rs")))
    assert store.reads == 0
    assert _patient(client, issuer.token(READ)).status_code == 200
    assert _patient(client, issuer.token("system/Observation.read")).status_code == 200  # v1


def test_persist_needs_the_write_scope(
    client: FlaskClient, issuer: Issuer, store: _RecordingStore
) -> None:
    _forbidden(_patient(client, issuer.token(READ), persist=True))
    assert (store.reads, store.commits) == (0, 0)
    assert _patient(client, issuer.token(f"{READ} {WRITE}"), persist=True).status_code == 200
    assert store.commits == 1
    v1 = "system/Observation.read system/Observation.write"
    assert _patient(client, issuer.token(v1), persist=True).status_code == 200


def test_a_patient_token_covers_its_patient_only(
    client: FlaskClient, issuer: Issuer, store: _RecordingStore
) -> None:
    scope = "patient/Observation.rs patient/Observation.cu"
    _forbidden(_patient(client, issuer.token(scope, patient="someone-else")))
    _forbidden(_patient(client, issuer.token(scope)))  # no patient claim
    assert store.reads == 0
    assert _patient(client, issuer.token(scope, patient=KNOWN), persist=True).status_code == 200
    token = issuer.token("patient/Observation.rs", patient=KNOWN)
    _forbidden(_patient(client, token, persist=True))


def test_unknown_and_known_patients_get_the_same_403(
    client: FlaskClient, issuer: Issuer, store: _RecordingStore
) -> None:
    token = issuer.token("patient/Observation.rs", patient="mine")
    known, unknown = _patient(client, token), _patient(client, token, patient="no-such-patient")
    _forbidden(known)
    assert (unknown.status_code, unknown.get_data()) == (known.status_code, known.get_data())
    assert store.reads == 0


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/metadata",
        "/fhir/OperationDefinition/her2-status",
        "/fhir/OperationDefinition/her2-status-patient",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ],
)
def test_open_endpoints_stay_open(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_metadata_names_smart_and_the_token_endpoint(client: FlaskClient) -> None:
    security = _security(client)
    (service,) = security["service"]
    assert service["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR",
        }
    ]
    (extension,) = security["extension"]
    assert extension["url"] == (
        "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    )
    assert extension["extension"] == [{"url": "token", "valueUri": f"{ISSUER}/token"}]
    assert ISSUER in security["description"]


def test_metadata_without_a_token_endpoint_names_the_issuer(server: JwksServer) -> None:
    client = create_app(Settings(auth=_auth(server)), clock=lambda: NOW).test_client()
    security = _security(client)
    assert "extension" not in security
    assert ISSUER in security["description"]


@contextmanager
def _service_log() -> Iterator[list[dict[str, Any]]]:
    """Every record of the service's loggers (``her2.*``, which do not propagate)."""
    records: list[dict[str, Any]] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(json.loads(JsonFormatter().format(record)))

    handler = _Collect()
    logging.getLogger("her2").addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger("her2").removeHandler(handler)


def test_the_token_and_claims_are_never_echoed(client: FlaskClient, issuer: Issuer) -> None:
    tokens = [
        issuer.token("openid", sub="secret-subject", patient="secret-patient"),
        issuer.token(READ, sub="secret-subject", aud="secret-audience"),
    ]
    with _service_log() as records:
        bodies = [_patient(client, t).get_data(as_text=True) for t in tokens]
        bodies += [_stateless(client, bearer(t)).get_data(as_text=True) for t in tokens]
    assert records
    seen = "\n".join(bodies) + json.dumps(records)
    for secret in [*tokens, "secret-patient", "secret-audience"]:
        assert secret not in seen
    # The caller's subject is named only by the audit record, as the caller.
    outside = [r for r in records if r["logger"] != "her2.audit"]
    assert "secret-subject" not in "\n".join(bodies) + json.dumps(outside)


def test_every_patient_level_call_leaves_one_audit_record(
    client: FlaskClient, issuer: Issuer
) -> None:
    with _service_log() as records:
        _patient(client, None)
        _patient(client, issuer.token("openid", client_id="app-7"))
        _patient(client, issuer.token(f"{READ} {WRITE}", client_id="app-7"), persist=True)
        _patient(client, issuer.token(READ), patient="no such id!")
    audits = [r for r in records if r["logger"] == "her2.audit"]
    summary = [
        (a["status"], a["outcome"], a["patient_id"], a["client_id"], a["subject"], a["persist"])
        for a in audits
    ]
    assert summary == [
        (401, "unauthenticated", KNOWN, None, None, None),
        (403, "forbidden", KNOWN, "app-7", "client-1", None),
        (200, "written", KNOWN, "app-7", "client-1", True),
        (400, "failed", "invalid", None, "client-1", None),
    ]
    requests = {r["request_id"] for r in records if r["logger"] == "her2.request"}
    assert {a["request_id"] for a in audits} <= requests
    assert audits[2]["written"] > 0


def test_unreadable_issuer_keys_are_503(issuer: Issuer) -> None:
    with jwks_server(issuer) as server:
        settings = Settings(auth=_auth(server))
    client = create_app(settings, clock=lambda: NOW).test_client()
    response = _stateless(client, bearer(issuer.token()))
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_without_a_fhir_server_auth_is_optional() -> None:
    # The default configuration: no FHIR server, no issuer, no token needed.
    client = create_app(Settings(), clock=lambda: NOW).test_client()
    assert _stateless(client).status_code == 200
    security = _security(client)
    assert "service" not in security


def test_a_fhir_server_without_auth_does_not_start() -> None:
    with pytest.raises(SettingsError, match="HER2_AUTH_ISSUER"):
        create_app(Settings(fhir_base_url="http://ehr.test/fhir"))
    with pytest.raises(SettingsError, match="HER2_AUTH_ISSUER"):
        Settings.from_env({"HER2_FHIR_BASE_URL": "http://ehr.test/fhir"})


def test_serve_refuses_a_fhir_server_without_auth_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("HER2_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HER2_FHIR_BASE_URL", "http://ehr.test/fhir")
    # An address no interface has: should the check ever be missed, gunicorn fails to bind.
    assert main(["serve", "--host", "203.0.113.1", "--port", "9"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert "HER2_AUTH_ISSUER" in error
    assert "HER2_AUTH=off" in error
    assert len(error.strip().splitlines()) == 1
    assert "Traceback" not in error


def test_auth_off_warns_at_every_start_and_readyz_says_so(
    caplog: pytest.LogCaptureFixture, store: _RecordingStore, tmp_path: Path
) -> None:
    settings = Settings(auth=AuthSettings.off())
    app = create_app(settings, clock=lambda: NOW, store=store, locks=FileLocks(tmp_path))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("AUTHENTICATION IS OFF" in r.getMessage() for r in warnings)
    client = app.test_client()
    assert client.get("/readyz").json == {
        "status": "ready",
        "fhir_server": "not configured",
        "auth": "off",
    }
    assert _patient(client, None, persist=True).status_code == 200
    assert _stateless(client).status_code == 200


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"HER2_AUTH": "maybe"}, "HER2_AUTH must be on or off"),
        ({"HER2_AUTH": "on"}, "HER2_AUTH_ISSUER"),
        ({"HER2_AUTH_ISSUER": "https://idp.test"}, "HER2_AUTH_JWKS_URL"),
        ({"HER2_AUTH_ISSUER": "https://idp.test"}, "HER2_AUTH_AUDIENCE"),
        ({"HER2_AUTH_ISSUER": "idp"}, "HER2_AUTH_ISSUER must be an http(s) URL"),
        ({"HER2_AUTH_AUDIENCE": "x"}, "HER2_AUTH_ISSUER is not"),
    ],
)
def test_auth_settings_are_checked(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)
    assert named in str(raised.value)


def test_auth_off_explicitly_allows_a_fhir_server() -> None:
    settings = Settings.from_env({"HER2_FHIR_BASE_URL": "http://ehr.test/fhir", "HER2_AUTH": "off"})
    assert settings.auth.disabled
    assert not settings.auth.enabled

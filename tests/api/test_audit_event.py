"""HER2_AUDIT=fhir over the in-memory store: where each call's AuditEvent goes, and when.

With a write, the AuditEvent is part of the one transaction; without, it is created
alone after the answer is known; a failed transaction leaves no AuditEvent claiming
success; a failed audit write leaves the answer as it was and one ERROR line.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.clients.errors import FhirServerUnavailable
from service.settings import AuthSettings, Settings, SettingsError
from tests.builders import NOW, case_ihc, parameters
from tests.builders.tokens import AUDIENCE, ISSUER, Issuer, JwksServer, bearer, jwks_server

OP = "/fhir/Patient/case-patient/$her2-status"
READ = "system/Observation.rs"
WRITE = "system/Observation.cu"


class Store(MemoryStore):
    """The in-memory store; it can let a rival commit first, or refuse AuditEvents."""

    rival = False
    refuse_audit = False

    def commit(self, bundle: dict[str, Any]) -> dict[str, Any]:
        kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
        if self.refuse_audit and kinds == {"AuditEvent"}:
            raise FhirServerUnavailable("down")
        if self.rival:
            self.rival = False
            before = set(self.resources)
            super().commit(copy.deepcopy(bundle))
            for ref in set(self.resources) - before:
                if ref.startswith("AuditEvent/"):
                    del self.resources[ref]  # the rival's results stay, not our record
        return super().commit(bundle)

    def events(self) -> list[dict[str, Any]]:
        return [r for ref, r in self.resources.items() if ref.startswith("AuditEvent/")]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def audit(self) -> list[dict[str, Any]]:
        return [
            r.fields  # type: ignore[attr-defined]
            for r in self.records
            if r.name == "her2.audit" and r.getMessage() == "patient-operation"
        ]


@pytest.fixture
def issuer() -> Issuer:
    return Issuer.with_keys(**{"ec-1": "ES384"})


@pytest.fixture
def server(issuer: Issuer) -> Iterator[JwksServer]:
    with jwks_server(issuer) as running:
        yield running


@pytest.fixture
def store() -> Store:
    store = Store()
    store.put({"resourceType": "Patient", "id": "case-patient"})
    store.put(case_ihc("ihc", "3+"))
    return store


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    logger = logging.getLogger("her2")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _client(server: JwksServer, store: Store, tmp_path: Path, audit: str = "fhir") -> FlaskClient:
    settings = Settings(
        fhir_base_url="http://memory.test/fhir",
        auth=AuthSettings(ISSUER, server.url, AUDIENCE),
        audit=audit,
    )
    return create_app(
        settings, clock=lambda: NOW, store=store, locks=FileLocks(tmp_path)
    ).test_client()


@pytest.fixture
def client(server: JwksServer, store: Store, tmp_path: Path) -> FlaskClient:
    return _client(server, store, tmp_path)


def _call(client: FlaskClient, token: str | None, persist: bool, request_id: str) -> Any:
    body = json.dumps(parameters({"name": "persist", "valueBoolean": persist}))
    headers = {"X-Request-ID": request_id, **(bearer(token) if token is not None else {})}
    return client.post(OP, data=body, content_type="application/fhir+json", headers=headers)


def _request_id(event: dict[str, Any]) -> str:
    (entity,) = [e for e in event["entity"] if e["type"]["code"] == "XrequestId"]
    return str(entity["what"]["identifier"]["value"])


def _written(event: dict[str, Any]) -> list[str]:
    return [e["what"]["reference"] for e in event["entity"] if e.get("role", {}).get("code") == "4"]


def test_a_write_commits_its_audit_event_in_the_same_transaction(
    client: FlaskClient, store: Store, issuer: Issuer, lines: Lines
) -> None:
    token = issuer.token(f"{READ} {WRITE}", client_id="lab-app", sub="user-9")
    response = _call(client, token, True, "req-write")
    assert response.status_code == 200
    assert store.commits == 1  # one transaction: the results and the AuditEvent
    (event,) = store.events()
    assert event["outcome"] == "0"
    assert _request_id(event) == "req-write"
    stored = {ref for ref, r in store.resources.items() if r["resourceType"] != "AuditEvent"}
    written = _written(event)
    # The urn:uuid references were resolved to what the transaction wrote.
    assert any(w.startswith("Observation/") for w in written)
    assert set(written) <= stored
    client_agent = next(a for a in event["agent"] if a["type"]["coding"][0]["code"] == "110153")
    assert client_agent["who"]["identifier"] == {"system": ISSUER, "value": "lab-app"}
    (line,) = lines.audit()
    assert line["audit_event"] == "transaction"


def test_a_call_that_writes_nothing_records_its_audit_event_alone(
    client: FlaskClient, store: Store, issuer: Issuer, lines: Lines
) -> None:
    token = issuer.token(f"{READ} {WRITE}", client_id="lab-app")
    assert _call(client, token, True, "req-1").status_code == 200
    commits = store.commits
    assert _call(client, token, True, "req-identical").status_code == 200
    assert _call(client, token, False, "req-read").status_code == 200
    assert store.commits == commits + 2  # one AuditEvent alone per call
    events = {_request_id(e): e for e in store.events()}
    assert set(events) == {"req-1", "req-identical", "req-read"}
    for request_id in ("req-identical", "req-read"):
        assert events[request_id]["outcome"] == "0"
        assert _written(events[request_id]) == []
    assert [line["audit_event"] for line in lines.audit()] == ["transaction", "written", "written"]


def test_a_refused_call_is_recorded_as_a_minor_failure_and_a_401_is_not(
    client: FlaskClient, store: Store, issuer: Issuer, lines: Lines
) -> None:
    assert (
        _call(client, issuer.token(READ, client_id="lab-app"), True, "req-403").status_code == 403
    )
    assert _call(client, None, True, "req-401").status_code == 401
    (event,) = store.events()
    assert (_request_id(event), event["outcome"]) == ("req-403", "4")
    assert "profile" not in event["meta"]  # a failure claims no BALP profile
    assert [line["audit_event"] for line in lines.audit()] == ["written", "not-recorded"]
    # Nothing of the patient's data was written, only the AuditEvent (and the Device).
    assert {r["resourceType"] for r in store.resources.values()} == {
        "Patient",
        "Observation",
        "AuditEvent",
        "Device",
    }


def test_a_failed_transaction_leaves_no_audit_event_claiming_success(
    server: JwksServer, tmp_path: Path, issuer: Issuer, lines: Lines
) -> None:
    store = Store()
    store.put({"resourceType": "Patient", "id": "case-patient"})
    store.put(case_ihc("ihc", "1+"))
    client = _client(server, store, tmp_path)
    token = issuer.token(f"{READ} {WRITE}")
    assert _call(client, token, True, "req-first").status_code == 200
    store.put(case_ihc("ihc", "3+", status="amended"))
    store.rival = True  # another writer commits first: our transaction fails (412)
    response = _call(client, token, True, "req-lost")
    assert response.status_code == 409
    lost = [e for e in store.events() if _request_id(e) == "req-lost"]
    assert [e["outcome"] for e in lost] == ["4"]  # the failure only, recorded alone
    assert _written(lost[0]) == []
    assert lines.audit()[-1]["audit_event"] == "written"


def test_a_failed_audit_write_keeps_the_answer_and_is_logged(
    client: FlaskClient, store: Store, issuer: Issuer, lines: Lines
) -> None:
    store.refuse_audit = True
    response = _call(client, issuer.token(READ), False, "req-down")
    assert response.status_code == 200
    assert response.json["resourceType"] == "Bundle"
    assert store.events() == []
    (failed,) = [r for r in lines.records if r.getMessage() == "audit-event-failed"]
    assert failed.levelno == logging.ERROR
    assert failed.exc_info is None
    assert failed.fields == {  # type: ignore[attr-defined]
        "request_id": "req-down",
        "patient_id": "case-patient",
        "error_type": "FhirServerUnavailable",
    }
    assert lines.audit()[-1]["audit_event"] == "failed"


def test_the_default_writes_no_audit_event(
    server: JwksServer, store: Store, tmp_path: Path, issuer: Issuer, lines: Lines
) -> None:
    client = _client(server, store, tmp_path, audit="log")
    assert _call(client, issuer.token(f"{READ} {WRITE}"), True, "req").status_code == 200
    assert store.events() == []
    assert "audit_event" not in lines.audit()[0]


def test_her2_audit_setting() -> None:
    base = {"HER2_FHIR_BASE_URL": "http://ehr.test/fhir", "HER2_AUTH": "off"}
    assert Settings.from_env(base).audit == "log"
    assert Settings.from_env({**base, "HER2_AUDIT": "FHIR"}).audit == "fhir"
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({**base, "HER2_AUDIT": "syslog"})
    assert bad.value.problems == ["HER2_AUDIT must be log or fhir"]
    with pytest.raises(SettingsError) as alone:
        Settings.from_env({"HER2_AUDIT": "fhir"})
    assert alone.value.problems == ["HER2_AUDIT=fhir needs HER2_FHIR_BASE_URL"]

"""``/fhir-hook``: authentication, payload checks, acknowledgement, queue, readiness.

The store behind the app fails the test on any use: a notification must never be
derived on the request thread.  The queue is the real SQLite file in tmp_path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_queue import MemoryQueue
from service.app.memory_store import MemoryStore
from service.app.queue import DELETED, Notice, QueueError, QueueStats
from service.app.sqlite_queue import SqliteQueue
from service.settings import AuthSettings, Settings
from service.settings.events import EventSettings
from tests.builders import NOW, observation
from tests.builders.tokens import AUDIENCE, ISSUER, Issuer, JwksServer, bearer, jwks_server

SECRET = "s3cret-hook-value-0123456789"
HEADER = {"X-Her2-Hook-Secret": SECRET}
FHIR_JSON = "application/fhir+json"
CANARY = "CANARY-Zq9x"


class UntouchableStore(MemoryStore):
    """Any read or write fails the test."""

    def patient_inputs(self, *_: Any, **__: Any) -> dict[str, Any]:
        raise AssertionError("derived on the request thread")

    def commit(self, *_: Any, **__: Any) -> dict[str, Any]:
        raise AssertionError("written on the request thread")


def _app(tmp_path: Path, auth: AuthSettings | None = None, secret: str | None = SECRET) -> Flask:
    settings = Settings(
        fhir_base_url="http://127.0.0.1:1/fhir",
        auth=auth or AuthSettings.off(),
        events=EventSettings(tmp_path / "data", secret),
    )
    app = create_app(
        settings, clock=lambda: NOW, store=UntouchableStore(), locks=FileLocks(tmp_path / "l")
    )
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return _app(tmp_path).test_client()


@pytest.fixture
def queue(tmp_path: Path, client: FlaskClient) -> SqliteQueue:  # noqa: ARG001
    # After the app: the app creates the data directory and the file.
    return SqliteQueue(tmp_path / "data")


def ihc(rid: str = "ihc-1", version: str | None = "3", **kw: Any) -> dict[str, Any]:
    kw.setdefault("subject", "Patient/p-7")
    resource = observation(rid, "85319-2", **kw)
    if version is not None:
        resource["meta"] = {"versionId": version}
    return resource


def put(client: FlaskClient, resource: Any, path: str | None = None, **headers: str) -> Any:
    path = path or f"/fhir-hook/Observation/{resource['id']}"
    return client.put(
        path,
        data=resource if isinstance(resource, str) else json.dumps(resource),
        content_type=FHIR_JSON,
        headers={**HEADER, **headers},
    )


def claimed(queue: SqliteQueue) -> list[Notice]:
    notices = []
    while (item := queue.claim("t", 2e9, 60)) is not None:
        notices.append(item.notice)
    return notices


def test_a_put_notification_is_acknowledged_and_queued(
    client: FlaskClient, queue: SqliteQueue
) -> None:
    response = put(client, ihc())
    assert response.status_code == 202
    assert response.json["resourceType"] == "OperationOutcome"
    assert claimed(queue) == [Notice("Observation", "ihc-1", "3", "p-7")]


def test_a_redelivered_notification_is_acknowledged_and_recorded_once(
    client: FlaskClient, queue: SqliteQueue
) -> None:
    assert put(client, ihc()).status_code == 202
    again = put(client, ihc())
    assert again.status_code == 202
    assert "Already" in again.json["issue"][0]["diagnostics"]
    assert len(claimed(queue)) == 1


def test_a_delete_notification_is_queued_without_a_version(
    client: FlaskClient, queue: SqliteQueue
) -> None:
    response = client.delete("/fhir-hook/Observation/ihc-1", headers=HEADER)
    assert response.status_code == 202
    assert claimed(queue) == [Notice("Observation", "ihc-1", DELETED)]


def test_an_empty_post_asks_for_a_catch_up(client: FlaskClient, queue: SqliteQueue) -> None:
    response = client.post("/fhir-hook", headers=HEADER)
    assert response.status_code == 202
    assert queue.take_catchup_request()
    assert claimed(queue) == []


def test_a_post_with_the_resource_and_an_id_only_put_are_queued(
    client: FlaskClient, queue: SqliteQueue
) -> None:
    body = json.dumps(ihc("ihc-2", "1"))
    assert (
        client.post("/fhir-hook", data=body, content_type=FHIR_JSON, headers=HEADER).status_code
        == 202
    )
    assert client.put("/fhir-hook/Observation/ihc-3", headers=HEADER).status_code == 202
    assert claimed(queue) == [
        Notice("Observation", "ihc-2", "1", "p-7"),
        Notice("Observation", "ihc-3", "", None),
    ]


def test_an_absolute_or_non_patient_subject_is_left_for_the_worker_to_read(
    client: FlaskClient, queue: SqliteQueue
) -> None:
    put(client, ihc("a", subject="http://elsewhere.test/fhir/Patient/x"))
    put(client, ihc("b", subject="Group/g"))
    assert [n.patient_id for n in claimed(queue)] == [None, None]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Her2-Hook-Secret": "wrong" + CANARY}, {"X-Her2-Hook-Secret": SECRET[:-1]}],
    ids=["missing", "wrong", "prefix"],
)
def test_without_the_secret_nothing_is_queued(
    client: FlaskClient, queue: SqliteQueue, headers: dict[str, str]
) -> None:
    for response in (
        client.put(
            "/fhir-hook/Observation/ihc-1",
            data=json.dumps(ihc()),
            content_type=FHIR_JSON,
            headers=headers,
        ),
        client.post("/fhir-hook", headers=headers),
        client.delete("/fhir-hook/Observation/ihc-1", headers=headers),
    ):
        assert response.status_code == 401
        assert json.loads(response.data)["issue"][0]["code"] == "login"
        assert CANARY not in response.get_data(as_text=True)
    assert claimed(queue) == []
    assert not queue.take_catchup_request()


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/fhir-hook/Observation/ihc-1", "{not json " + CANARY, 400),
        ("/fhir-hook/Observation/ihc-1", f'["{CANARY}"]', 400),
        ("/fhir-hook/Observation/ihc-1", {"resourceType": "Patient", "id": "ihc-1"}, 400),
        ("/fhir-hook/Observation/ihc-1", {"resourceType": "Observation", "id": CANARY}, 400),
        (
            "/fhir-hook/Observation/ihc-1",
            {"resourceType": "Observation", "id": "ihc-1", "meta": {"versionId": f"{CANARY} 1"}},
            400,
        ),
        (
            "/fhir-hook/Observation/ihc-1",
            {"resourceType": "Observation", "id": "ihc-1", "meta": {"versionId": 3}},
            400,
        ),
        (f"/fhir-hook/Patient/{CANARY}", {"resourceType": "Patient", "id": CANARY}, 400),
        (f"/fhir-hook/Observation/{CANARY}$", {"resourceType": "Observation"}, 400),
        (f"/fhir-hook/observation/{CANARY}", {"resourceType": "Observation"}, 400),
        ("/fhir-hook", {"resourceType": "Observation", "meta": CANARY}, 400),
        ("/fhir-hook", {"resourceType": "Observation", "id": f"{CANARY}!"}, 400),
    ],
)
def test_bad_notifications_are_4xx_outcomes_without_request_values(
    client: FlaskClient,
    queue: SqliteQueue,
    path: str,
    body: Any,
    status: int,
) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    method = client.post if path == "/fhir-hook" else client.put
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    loggers = [logging.getLogger("her2"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        response = method(path, data=data, content_type=FHIR_JSON, headers=HEADER)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    assert response.status_code == status
    assert json.loads(response.data)["resourceType"] == "OperationOutcome"
    assert CANARY not in response.get_data(as_text=True)
    assert records  # the request's log line at least
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in records)
    assert CANARY not in logged
    assert claimed(queue) == []


def test_xml_is_refused(client: FlaskClient, queue: SqliteQueue) -> None:
    response = client.put(
        "/fhir-hook/Observation/ihc-1",
        data="<Observation/>",
        content_type="application/fhir+xml",
        headers=HEADER,
    )
    assert response.status_code == 415
    assert claimed(queue) == []


class BrokenQueue(MemoryQueue):
    """A queue whose storage fails (disk full, file locked too long)."""

    def enqueue(self, notice: Notice, now: float) -> bool:  # noqa: ARG002
        raise QueueError("OperationalError")

    def stats(self, now: float) -> QueueStats:  # noqa: ARG002
        raise QueueError("OperationalError")


def test_a_queue_that_cannot_record_answers_503_so_that_the_server_retries(
    tmp_path: Path,
) -> None:
    settings = Settings(
        fhir_base_url="http://127.0.0.1:1/fhir",
        auth=AuthSettings.off(),
        events=EventSettings(tmp_path / "data", SECRET),
    )
    app = create_app(
        settings, store=UntouchableStore(), locks=FileLocks(tmp_path), queue=BrokenQueue()
    )
    client = app.test_client()
    response = put(client, ihc())
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    ready = client.get("/readyz")
    assert (ready.status_code, json.loads(ready.data)["queue"]) == (503, "unavailable")


def test_readyz_reports_the_queue_without_patient_data(
    client: FlaskClient, queue: SqliteQueue
) -> None:
    put(client, ihc())
    queue.advance_watermark("2026-11-30T10:00:00.000Z")
    body = json.loads(client.get("/readyz").data)
    assert body["queue"]["depth"] == 1
    assert body["queue"]["parked"] == 0
    assert body["queue"]["oldest_pending_seconds"] >= 0
    assert body["queue"]["watermark"] == "2026-11-30T10:00:00.000Z"
    assert "p-7" not in json.dumps(body)
    assert "ihc-1" not in json.dumps(body)


def test_without_a_data_dir_there_is_no_hook(tmp_path: Path) -> None:
    settings = Settings(fhir_base_url="http://127.0.0.1:1/fhir", auth=AuthSettings.off())
    app = create_app(settings, store=UntouchableStore(), locks=FileLocks(tmp_path))
    response = app.test_client().put("/fhir-hook/Observation/a", headers=HEADER)
    assert response.status_code == 404
    assert "queue" not in json.loads(app.test_client().get("/readyz").data)


# --- bearer tokens instead of (or beside) the secret ---------------------------------------


@pytest.fixture
def issuer() -> Issuer:
    return Issuer.with_keys(**{"ec-1": "ES384"})


@pytest.fixture
def jwks(issuer: Issuer) -> Iterator[JwksServer]:
    with jwks_server(issuer) as running:
        yield running


def test_a_valid_bearer_token_is_accepted_when_tokens_are_checked(
    tmp_path: Path, issuer: Issuer, jwks: JwksServer
) -> None:
    auth = AuthSettings(ISSUER, jwks.url, AUDIENCE)
    client = _app(tmp_path, auth=auth, secret=None).test_client()
    body = json.dumps(ihc())
    good = client.put(
        "/fhir-hook/Observation/ihc-1",
        data=body,
        content_type=FHIR_JSON,
        headers=bearer(issuer.token()),
    )
    assert good.status_code == 202
    forged = Issuer.with_keys(**{"ec-1": "ES384"}).token()
    bad = client.put(
        "/fhir-hook/Observation/ihc-1", data=body, content_type=FHIR_JSON, headers=bearer(forged)
    )
    assert bad.status_code == 401
    missing = client.put("/fhir-hook/Observation/ihc-1", data=body, content_type=FHIR_JSON)
    assert missing.status_code == 401

"""Topic-based notifications (R4 Subscriptions Backport IG shapes) at ``POST /fhir-hook``.

The project's HAPI 6.6.1 sends rest-hook notifications only, so these shapes are
pinned here as contract tests: handshake, heartbeat, event notifications with full
resources and id-only, and malformed Bundles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_queue import MemoryQueue
from service.app.memory_store import MemoryStore
from service.app.queue import Notice
from service.settings import AuthSettings, Settings
from service.settings.events import EventSettings
from tests.builders import observation

SECRET = "s3cret-hook-value-0123456789"
HEADERS = {"X-Her2-Hook-Secret": SECRET}
CANARY = "CANARY-Bp7w"
SUBSCRIPTION = "Subscription/her2-topic"


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


@pytest.fixture
def client(tmp_path: Path, queue: MemoryQueue) -> FlaskClient:
    settings = Settings(
        fhir_base_url="http://127.0.0.1:1/fhir",
        auth=AuthSettings.off(),
        events=EventSettings(tmp_path / "data", SECRET),
    )
    app = create_app(settings, store=MemoryStore(), locks=FileLocks(tmp_path), queue=queue)
    return app.test_client()


def status(kind: str, *events: list[dict[str, Any]], since: str = "2") -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": SUBSCRIPTION}},
        {"name": "topic", "valueCanonical": "https://her2-status.org/fhir/topic/her2-input"},
        {"name": "status", "valueCode": "active"},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": since},
    ]
    parameters += [{"name": "notification-event", "part": part} for part in events]
    return {
        "fullUrl": "urn:uuid:8b5ea45c-4e4a-4b1f-9d2c-3a4a1c6b1e01",
        "resource": {"resourceType": "Parameters", "parameter": parameters},
        "request": {"method": "GET", "url": f"{SUBSCRIPTION}/$status"},
        "response": {"status": "200"},
    }


def event(number: str, focus: str) -> list[dict[str, Any]]:
    """The parts of one ``notification-event``."""
    return [
        {"name": "event-number", "valueString": number},
        {"name": "timestamp", "valueInstant": "2026-11-30T12:00:00Z"},
        {"name": "focus", "valueReference": {"reference": focus}},
    ]


def notification(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "history",
        "timestamp": "2026-11-30T12:00:00Z",
        "entry": list(entries),
    }


def full(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"http://ehr.test/fhir/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
        "response": {"status": "200"},
    }


def post(client: FlaskClient, body: Any) -> Any:
    return client.post(
        "/fhir-hook", data=json.dumps(body), content_type="application/fhir+json", headers=HEADERS
    )


def drained(queue: MemoryQueue) -> list[Notice]:
    notices = []
    while (item := queue.claim("t", 2e9, 60)) is not None:
        notices += [i.notice for i in (item, *item.batch)]
        queue.done(item)
    return notices


@pytest.mark.parametrize("kind", ["handshake", "heartbeat"])
def test_a_handshake_or_heartbeat_schedules_a_catch_up(
    client: FlaskClient, queue: MemoryQueue, kind: str
) -> None:
    response = post(client, notification(status(kind)))
    assert response.status_code == 202
    assert queue.take_catchup_request()
    assert drained(queue) == []


def test_an_event_with_the_full_resource_queues_its_version_and_patient(
    client: FlaskClient, queue: MemoryQueue
) -> None:
    resource = observation("ihc-9", "85319-2", subject="Patient/p-9")
    resource["meta"] = {"versionId": "3"}
    body = notification(
        status("event-notification", event("2", "Observation/ihc-9/_history/3")), full(resource)
    )
    assert post(client, body).status_code == 202
    assert drained(queue) == [Notice("Observation", "ihc-9", "3", "p-9")]
    assert not queue.take_catchup_request()


def test_id_only_events_queue_every_focus_for_the_worker_to_read(
    client: FlaskClient, queue: MemoryQueue
) -> None:
    body = notification(
        status(
            "event-notification",
            event("3", "Observation/a"),
            event("4", "http://ehr.test/fhir/Observation/b/_history/7"),
        )
    )
    assert post(client, body).status_code == 202
    assert drained(queue) == [
        Notice("Observation", "a", "", None),
        Notice("Observation", "b", "7", None),
    ]


@pytest.mark.parametrize(
    "body",
    [
        notification(),
        notification({"resource": {"resourceType": "Patient", "id": CANARY}}),
        notification(status(f"{CANARY}-type")),
        notification(status("event-notification", event("1", f"Observation/{CANARY}$"))),
        notification(status("event-notification", event("1", f"Patient/{CANARY}"))),
        notification(status("event-notification", [{"name": "focus"}])),
    ],
    ids=["empty", "no-status", "unknown-type", "bad-reference", "not-observation", "no-focus"],
)
def test_malformed_notifications_are_400_without_request_values(
    client: FlaskClient, queue: MemoryQueue, body: dict[str, Any]
) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert json.loads(response.data)["resourceType"] == "OperationOutcome"
    assert CANARY not in response.get_data(as_text=True)
    assert drained(queue) == []


def test_a_notification_without_the_secret_is_refused(
    client: FlaskClient, queue: MemoryQueue
) -> None:
    response = client.post(
        "/fhir-hook",
        data=json.dumps(notification(status("heartbeat"))),
        content_type="application/fhir+json",
    )
    assert response.status_code == 401
    assert not queue.take_catchup_request()

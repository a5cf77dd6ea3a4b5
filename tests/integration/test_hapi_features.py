"""The project's HAPI test server serves rest-hook Subscriptions and Bulk Data ``$export``.

The event-driven mode and the population (bulk) mode are built against these two
features, so this pins what the test server does, authenticated as the service will be:
the service client creates and deletes its Subscription with ``system/Subscription.cud`` and exports
with per-type ``.rs`` scopes (SMART Backend Services / Bulk Data); a client without a
read scope for every requested type is refused the kick-off (403).  The tests' seeder
(``system/*.cruds``) writes and cleans up.  Both tests need the project's own server (a
sandbox cannot call back a receiver on this machine's loopback), so with
``FHIR_BASE_URL`` set they start one of their own, requiring the same Keycloak's tokens.
"""

from __future__ import annotations

import http.server
import itertools
import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from service.settings import DEFAULT_SMART_SCOPES
from tests.integration.fhir_server import RUN, RUN_TAG, Fhir
from tests.integration.hapi import HapiServer
from tests.integration.keycloak import (
    SEEDER_CLIENT,
    SEEDER_SCOPES,
    SERVICE_CLIENT,
    SUBSCRIPTION_SCOPES,
    Keycloak,
)

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
SEND_DELETE = "http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages"
# A code only this run's Observations carry, so that no other test's writes match.
CODE_SYSTEM = "https://her2-status.org/fhir/sid/test-code"
SECRET_HEADER = "X-Hook-Secret"
DELIVERY_WAIT = 30.0
EXPORT_WAIT = 120.0
# The service client's read-and-search scopes for what the export test exports.
EXPORT_SCOPES = "system/Patient.rs system/Observation.rs"


@pytest.fixture(scope="module")
def hapi_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    keycloak_server: Keycloak,
) -> Iterator[str]:
    """The project's HAPI server: the session's, or a fresh one when that is a sandbox."""
    if not os.environ.get("FHIR_BASE_URL"):
        yield request.getfixturevalue("fhir_base_url")
        return
    log = tmp_path_factory.mktemp("hapi-features") / "hapi.log"
    server = HapiServer(log, keycloak_server.hapi_auth()).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seeder(hapi_url: str, keycloak_server: Keycloak) -> Fhir:
    """The tests' own client on that server: every type, every action."""
    return Fhir(hapi_url, keycloak_server.tokens(SEEDER_CLIENT, SEEDER_SCOPES))


def as_client(hapi_url: str, keycloak_server: Keycloak, client_id: str, scopes: str) -> Fhir:
    """Requests to the server with the token of a realm client asking for ``scopes``."""
    return Fhir(hapi_url, keycloak_server.tokens(client_id, scopes))


@dataclass(frozen=True)
class Delivery:
    """One request HAPI sent to the receiver."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A rest-hook endpoint on a free loopback port that records every request."""

    def __init__(self) -> None:
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        deliveries = self.deliveries

        class Handler(http.server.BaseHTTPRequestHandler):
            def record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                deliveries.put(Delivery(self.command, self.path, headers, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self) -> None:
                self.record()

            def do_POST(self) -> None:
                self.record()

            def do_DELETE(self) -> None:
                self.record()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test asserts on the recorded requests instead."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next(self, method: str, path: str) -> tuple[Delivery, list[Delivery]]:
        """Wait (bounded) for ``method path``; also return the requests received before it."""
        deadline = time.monotonic() + DELIVERY_WAIT
        before: list[Delivery] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                delivery = self.deliveries.get(timeout=left)
            except queue.Empty:
                break
            if (delivery.method, delivery.path) == (method, path):
                return delivery, before
            before.append(delivery)
        raise AssertionError(f"no {method} {path} within {DELIVERY_WAIT} s; got {before}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def coded_observation(oid: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": CODE_SYSTEM, "code": code}]},
        "valueString": "synthetic",
    }


def wait_delivering(fhir: Fhir, receiver: Receiver, probe: dict[str, Any]) -> None:
    """Update ``probe`` (a match) until it is delivered: the Subscription is then in effect.

    HAPI activates a requested Subscription asynchronously (about half a second), and
    registers it for matching only after that, so "active" alone is not enough.  Each
    write changes the value: HAPI ignores an update that changes nothing.
    """
    path = f"/hook/Observation/{probe['id']}"
    deadline = time.monotonic() + DELIVERY_WAIT
    for attempt in itertools.count():
        if time.monotonic() > deadline:
            break
        fhir.put({**probe, "valueString": f"probe {attempt}"})
        try:
            while (delivery := receiver.deliveries.get(timeout=2.0)).path != path:
                pass
        except queue.Empty:
            continue
        assert delivery.method == "PUT"
        return
    raise AssertionError(f"the Subscription delivered nothing within {DELIVERY_WAIT} s")


def test_rest_hook_subscription_puts_matches_with_headers_and_sends_deletes(
    hapi_url: str, keycloak_server: Keycloak, seeder: Fhir, receiver: Receiver
) -> None:
    fhir = seeder
    subscriber = as_client(hapi_url, keycloak_server, SERVICE_CLIENT, SUBSCRIPTION_SCOPES)
    code, secret = f"{RUN}-hook", f"secret-{RUN}"
    subscription = {
        "resourceType": "Subscription",
        "meta": {"tag": [RUN_TAG]},
        "status": "requested",
        "reason": "her2-status integration test",
        "criteria": f"Observation?code={CODE_SYSTEM}|{code},{CODE_SYSTEM}|{code}-probe",
        "channel": {
            "type": "rest-hook",
            "endpoint": receiver.url,
            "payload": FHIR_JSON,
            "header": [f"{SECRET_HEADER}: {secret}"],
            "extension": [{"url": SEND_DELETE, "valueBoolean": True}],
        },
    }
    # The service's default scopes do not let it subscribe.
    plain = as_client(hapi_url, keycloak_server, SERVICE_CLIENT, DEFAULT_SMART_SCOPES)
    refused = plain.request("POST", f"{hapi_url}/Subscription", json=subscription)
    assert refused.status_code == 403, refused.text
    created = subscriber.request("POST", f"{hapi_url}/Subscription", json=subscription)
    assert created.status_code == 201, created.text
    subscription_id = created.json()["id"]
    try:
        wait_delivering(fhir, receiver, coded_observation(f"h2-{RUN}-hook-probe", f"{code}-probe"))
        assert fhir.get(f"Subscription/{subscription_id}")["status"] == "active"
        other, matching = f"h2-{RUN}-hook-other", f"h2-{RUN}-hook-match"
        fhir.put(coded_observation(other, f"{RUN}-other"))
        fhir.put(coded_observation(matching, code))

        put, before = receiver.next("PUT", f"/hook/Observation/{matching}")
        assert put.headers[SECRET_HEADER.lower()] == secret
        assert put.headers["content-type"].startswith(FHIR_JSON)
        resource = json.loads(put.body)
        assert (resource["resourceType"], resource["id"]) == ("Observation", matching)
        assert resource["code"]["coding"][0]["code"] == code
        assert not any(other in d.path for d in before), "a non-matching Observation was sent"

        deleted = fhir.request("DELETE", f"{hapi_url}/Observation/{matching}")
        assert deleted.status_code in (200, 204), deleted.text
        delete, _ = receiver.next("DELETE", f"/hook/Observation/{matching}")
        assert delete.headers[SECRET_HEADER.lower()] == secret
    finally:
        removed = subscriber.request("DELETE", f"{hapi_url}/Subscription/{subscription_id}")
    assert removed.status_code in (200, 204), removed.text


def poll_export(client: Fhir, status_url: str) -> dict[str, Any]:
    """Poll a Bulk export until it is complete, waiting as long as Retry-After asks."""
    deadline = time.monotonic() + EXPORT_WAIT
    while True:
        answer = client.request("GET", status_url, headers={"Accept": "application/json"})
        if answer.status_code == 200:
            manifest: dict[str, Any] = answer.json()
            return manifest
        assert answer.status_code == 202, answer.text
        wait = float(answer.headers["Retry-After"])
        if time.monotonic() + wait > deadline:
            raise AssertionError(f"export not complete within {EXPORT_WAIT} s")
        time.sleep(wait)


def kick_off(client: Fhir, url: str, **params: str) -> requests.Response:
    """A Bulk export kick-off request (asynchronous, as the spec requires)."""
    headers = {"Accept": FHIR_JSON, "Prefer": "respond-async"}
    return client.request("GET", url, params=params, headers=headers)


def test_system_export_lists_ndjson_files_of_the_seeded_resources(
    hapi_url: str, keycloak_server: Keycloak, seeder: Fhir
) -> None:
    pid = f"h2-{RUN}-export"
    seeder.put({"resourceType": "Patient", "id": pid})
    observations = {f"{pid}-o{n}" for n in (1, 2)}
    subject = {"reference": f"Patient/{pid}"}
    for oid in observations:
        seeder.put({**coded_observation(oid, f"{RUN}-export"), "subject": subject})
    # Per-type read scopes for every exported type (SMART Bulk Data), nothing more.
    exporter = as_client(hapi_url, keycloak_server, SERVICE_CLIENT, EXPORT_SCOPES)

    kickoff = kick_off(exporter, f"{hapi_url}/$export", _type="Observation,Patient")
    assert kickoff.status_code == 202, kickoff.text
    manifest = poll_export(exporter, kickoff.headers["Content-Location"])

    assert manifest["error"] == []
    ids: dict[str, set[str]] = {"Observation": set(), "Patient": set()}
    for output in manifest["output"]:
        download = exporter.request("GET", output["url"], headers={"Accept": NDJSON})
        assert download.status_code == 200, download.text
        assert download.headers["Content-Type"].startswith(NDJSON)
        for line in download.text.splitlines():
            resource = json.loads(line)
            assert resource["resourceType"] == output["type"]
            ids[output["type"]].add(resource["id"])
        # The files are the exporter's: no token, no file.
        anonymous = requests.get(output["url"], headers={"Accept": NDJSON}, timeout=60)
        assert anonymous.status_code == 401
    assert pid in ids["Patient"]
    assert observations <= ids["Observation"]


def test_export_kick_off_needs_read_scopes_for_every_exported_type(
    hapi_url: str, keycloak_server: Keycloak
) -> None:
    # Observation.rs only: Patient is not exportable, at any level.
    observations_only = as_client(
        hapi_url, keycloak_server, SERVICE_CLIENT, "system/Observation.rs"
    )
    granted = kick_off(observations_only, f"{hapi_url}/$export", _type="Observation")
    assert granted.status_code == 202, granted.text
    for url in (f"{hapi_url}/$export", f"{hapi_url}/Patient/$export"):
        refused = kick_off(observations_only, url, _type="Observation,Patient")
        assert refused.status_code == 403, refused.text
    # Per-type scopes: no kick-off without _type (it would export every type).
    exporter = as_client(hapi_url, keycloak_server, SERVICE_CLIENT, EXPORT_SCOPES)
    refused = kick_off(exporter, f"{hapi_url}/$export")
    assert refused.status_code == 403, refused.text
    # Write scopes alone grant no export (nor polling, nor files).
    writer = as_client(hapi_url, keycloak_server, SERVICE_CLIENT, "system/Observation.cu")
    refused = kick_off(writer, f"{hapi_url}/$export", _type="Observation")
    assert refused.status_code == 403, refused.text
    poll = writer.request("GET", f"{hapi_url}/$export-poll-status", params={"_jobId": "x"})
    assert poll.status_code == 403, poll.text

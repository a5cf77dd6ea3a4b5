"""The event-driven mode end to end: HAPI's rest-hook Subscription calls the real service back.

The service runs as ``her2-status serve`` (gunicorn and its worker process) on
loopback; HAPI (the project's test server, subscriptions enabled) notifies it at
``/fhir-hook``; the worker re-derives and writes back to HAPI through a loopback
relay that a test can freeze.  Authenticated end to end: HAPI requires Keycloak's
tokens, which the service gets with ``private_key_jwt`` (write-back's scopes and its
Subscription's); the service requires tokens of its callers, and HAPI's notifications
authenticate by the Subscription's secret header.  The tests share one service and run in order:
subscribe; IHC 2+ → reflex ISH → entered-in-error; results posted while the service
is down; the worker killed in the middle of an item; a burst of 200 results.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from service.fhir.codes import CS_NEXT_STEP, SID_STATUS, SID_THERAPY_LIST
from service.settings import DEFAULT_SMART_SCOPES
from tests.builders import BREAST, concept, observation, quantity, specimen
from tests.integration.events_service import SECRET, EventService, Relay, auth_env, wait_for
from tests.integration.fhir_server import RUN, RUN_TAG, Fhir
from tests.integration.keycloak import ENGINE, Keycloak

DELIVERY = 60.0  # seconds a status may take to appear (HAPI delivers within ~1 s)
_COUNTER = itertools.count(1)


@pytest.fixture(scope="module")
def relay(fhir_base_url: str) -> Iterator[Relay]:
    parts = urlsplit(fhir_base_url)
    running = Relay(parts.hostname or "127.0.0.1", parts.port or 80)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def service(
    fhir_base_url: str,
    keycloak_server: Keycloak,
    relay: Relay,
    fhir: Fhir,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EventService]:
    """The service, subscribed and delivered to: any test of the module runs alone too."""
    parts = urlsplit(fhir_base_url)
    through_relay = f"http://127.0.0.1:{relay.port}{parts.path}"
    directory = tmp_path_factory.mktemp("events")
    running = EventService(through_relay, directory, auth_env(keycloak_server)).start()
    try:
        subscribed = running.cli("subscribe")
        assert subscribed.returncode == 0, subscribed.stderr
        wait_delivering(fhir)
        yield running
    finally:
        running.cli("subscribe", "--remove")
        running.stop()


def new_patient(fhir: Fhir) -> str:
    pid = f"h2-{RUN}-ev{next(_COUNTER)}"
    fhir.put({"resourceType": "Patient", "id": pid})
    fhir.put(specimen(f"{pid}-s1", subject=f"Patient/{pid}", body_site=BREAST))
    return pid


def of_patient(pid: str, oid: str, code: str, **kw: Any) -> dict[str, Any]:
    on = {"subject": f"Patient/{pid}", "specimen": f"Specimen/{pid}-s1", "effective": "2026-05-01"}
    return observation(f"{pid}-{oid}", code, **on, **kw)


def ihc(pid: str, answer: str, status: str = "final") -> dict[str, Any]:
    return of_patient(pid, "ihc", "85319-2", status=status, **concept(answer))


def ish(pid: str, ratio: str, her2: str, cep17: str, status: str = "final") -> list[dict[str, Any]]:
    return [
        of_patient(pid, "ratio", "49683-6", status=status, **quantity(ratio)),
        of_patient(pid, "her2", "74860-8", status=status, **quantity(her2)),
        of_patient(pid, "cep17", "74861-6", status=status, **quantity(cep17)),
    ]


def transaction(fhir: Fhir, resources: list[dict[str, Any]]) -> None:
    """PUT every resource (tagged with the run) in one transaction."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {**r, "meta": {"tag": [RUN_TAG]}},
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }
    response = fhir.request("POST", fhir.base_url, data=json.dumps(bundle), timeout=120)
    assert response.status_code == 200, response.text[:2000]


def statuses(fhir: Fhir, pid: str) -> list[dict[str, Any]]:
    return fhir.search("Observation", identifier=f"{SID_STATUS}|{pid}:Specimen/{pid}-s1:breast")


def code_of(observation: dict[str, Any]) -> str:
    codings = observation["valueCodeableConcept"]["coding"]
    return str(next(c["code"] for c in codings if c["system"].endswith("/her2-status")))


def next_step(observation: dict[str, Any]) -> str | None:
    for component in observation.get("component", []):
        for coding in (component.get("valueCodeableConcept") or {}).get("coding", []):
            if coding.get("system") == CS_NEXT_STEP:
                return str(coding["code"])
    return None


def wait_status(fhir: Fhir, pid: str, status: str, code: str) -> dict[str, Any]:
    """The patient's one status Observation, once it has ``status`` and ``code``."""

    def arrived() -> dict[str, Any] | None:
        found = statuses(fhir, pid)
        assert len(found) <= 1, "two status Observations for one specimen"
        if found and (found[0]["status"], code_of(found[0])) == (status, code):
            return found[0]
        return None

    result: dict[str, Any] = wait_for(arrived, DELIVERY, f"{status} {code}", step=0.25)
    return result


def exactly_one_of_each(fhir: Fhir, pid: str, with_list: bool) -> dict[str, Any]:
    """One status Observation, at most one List, one Provenance per written version."""
    key = f"{pid}:Specimen/{pid}-s1:breast"
    (status,) = statuses(fhir, pid)
    lists = fhir.search("List", identifier=f"{SID_THERAPY_LIST}|{key}")
    assert len(lists) == (1 if with_list else 0)
    provenances = fhir.search("Provenance", target=f"Observation/{status['id']}")
    assert len(provenances) == len({p["id"] for p in provenances})
    assert 1 <= len(provenances) <= int(status["meta"]["versionId"])
    return status


def wait_delivering(fhir: Fhir) -> None:
    """Write a probe result until its status appears: the Subscription is then in effect.

    HAPI activates a Subscription asynchronously and matches only after that; each
    write changes the probe (HAPI ignores an update that changes nothing).
    """
    pid = new_patient(fhir)
    for attempt in itertools.count():
        probe = ihc(pid, "LA11843-2")
        probe["note"] = [{"text": f"probe {attempt}"}]
        fhir.put(probe)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if statuses(fhir, pid):
                return
            time.sleep(0.2)
        assert attempt < 30, "HAPI never delivered to the service"


def log_lines(service: EventService) -> list[dict[str, Any]]:
    """The service's JSON log lines (gunicorn's and the worker's)."""
    text = Path(service.log).read_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def queue_rows(service: EventService) -> list[tuple[str, str]]:
    """(resource id, state) of every queued item, read from the SQLite file directly."""
    with sqlite3.connect(service.data_dir / "events.sqlite3", timeout=10) as db:
        return [(str(r), str(s)) for r, s in db.execute("SELECT rid, state FROM items")]


# --- the tests, in order --------------------------------------------------------------------


def test_subscribe_creates_one_active_subscription_and_is_idempotent(
    service: EventService, fhir: Fhir
) -> None:
    first = service.cli("subscribe")
    assert first.returncode == 0, first.stderr
    second = service.cli("subscribe")
    assert second.returncode == 0, second.stderr
    assert SECRET not in first.stdout + second.stdout + first.stderr + second.stderr
    assert (
        json.loads(first.stdout)["subscription"]["id"]
        == json.loads(second.stdout)["subscription"]["id"]
    )

    def active() -> list[dict[str, Any]] | None:
        shown = service.cli("subscribe", "--status")
        found: list[dict[str, Any]] = json.loads(shown.stdout)["subscriptions"]
        return found if found and found[0]["status"] == "active" else None

    (subscription,) = wait_for(active, 30, "an active Subscription", step=0.5)
    assert subscription["endpoint"] == f"{service.url}/fhir-hook"
    assert subscription["payload"] == "application/fhir+json"
    assert "http://loinc.org|85319-2" in subscription["criteria"]
    assert "48676-1" not in subscription["criteria"]  # never its own status Observations
    stored = fhir.get(f"Subscription/{subscription['id']}")
    assert stored["channel"]["header"] == [f"X-Her2-Hook-Secret: {SECRET}"]
    # Removing deletes it (SMART v2 ``d``): without that scope the FHIR server refuses,
    # and the command says so in one line and leaves the Subscription in place.
    no_delete = f"{DEFAULT_SMART_SCOPES} system/Subscription.rs"
    refused = service.cli("subscribe", "--remove", HER2_FHIR_SCOPES=no_delete)
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "(403)" in refused.stderr
    assert "Bearer" not in refused.stdout + refused.stderr
    assert fhir.get(f"Subscription/{subscription['id']}")["status"] == "active"
    wait_delivering(fhir)


def test_the_hook_needs_its_secret_and_the_operation_a_token(
    service: EventService, keycloak_server: Keycloak, fhir: Fhir
) -> None:
    pid = new_patient(fhir)
    notification = json.dumps({**ihc(pid, "LA11843-2"), "meta": {"versionId": "1"}})
    hook = f"{service.url}/fhir-hook/Observation/{pid}-ihc"
    fhir_json = {"Content-Type": "application/fhir+json"}
    for headers in ({}, {"X-Her2-Hook-Secret": "not-the-secret"}):
        refused = requests.put(hook, data=notification, headers=fhir_json | headers, timeout=30)
        assert refused.status_code == 401, refused.text
    assert not [rid for rid, _ in queue_rows(service) if rid == f"{pid}-ihc"]

    fhir.put(ihc(pid, "LA11843-2"))
    operation = f"{service.url}/fhir/Patient/{pid}/$her2-status"
    body = json.dumps(
        {"resourceType": "Parameters", "parameter": [{"name": "persist", "valueBoolean": False}]}
    )
    anonymous = requests.post(operation, data=body, headers=fhir_json, timeout=30)
    assert anonymous.status_code == 401, anonymous.text
    bearer = {"Authorization": f"Bearer {keycloak_server.token(*ENGINE)}"}
    answered = requests.post(operation, data=body, headers=fhir_json | bearer, timeout=60)
    assert answered.status_code == 200, answered.text
    derived = [e["resource"] for e in answered.json()["entry"]]
    (status,) = [r for r in derived if r["resourceType"] == "Observation"]
    assert code_of(status) == "positive"
    # HAPI's notification of the same IHC, authenticated by the secret, is processed too.
    wait_status(fhir, pid, "final", "positive")


def test_ihc_then_reflex_ish_then_entered_in_error(service: EventService, fhir: Fhir) -> None:
    pid = new_patient(fhir)
    fhir.put(ihc(pid, "LA11842-4"))
    first = wait_status(fhir, pid, "preliminary", "equivocal")
    assert next_step(first) == "order_reflex_ish"
    exactly_one_of_each(fhir, pid, with_list=False)

    for resource in ish(pid, "2.5", "5.0", "2.0"):
        fhir.put(resource)
    final = wait_status(fhir, pid, "final", "positive")
    assert final["id"] == first["id"]
    exactly_one_of_each(fhir, pid, with_list=True)

    for resource in ish(pid, "2.5", "5.0", "2.0", status="entered-in-error"):
        fhir.put(resource)
    # As the Patient-level operation does: back to the IHC 2+ alone, awaiting an ISH.
    again = wait_status(fhir, pid, "preliminary", "equivocal")
    assert again["id"] == first["id"]
    assert int(again["meta"]["versionId"]) > int(final["meta"]["versionId"])
    exactly_one_of_each(fhir, pid, with_list=True)
    assert service.ready()["queue"]["parked"] == 0


def test_a_delete_notification_finds_its_patient_in_the_history(
    service: EventService, fhir: Fhir
) -> None:
    pid = new_patient(fhir)
    fhir.put(ihc(pid, "LA11843-2"))
    final = wait_status(fhir, pid, "final", "positive")
    # A registered IHC is not used (so nothing refers to it and HAPI lets it be deleted).
    registered = of_patient(pid, "ordered", "85319-2", status="registered", **concept("LA11843-2"))
    fhir.put(registered)
    response = fhir.request("DELETE", f"{fhir.base_url}/Observation/{pid}-ordered")
    assert response.status_code in (200, 204), response.text

    def delete_processed() -> bool:
        return any(
            line.get("resource") == f"Observation/{pid}-ordered"
            and line.get("version") == "deleted"
            and line.get("outcome") == "done"
            for line in log_lines(service)
        )

    # The notification names no patient: the worker found it in the resource's history.
    wait_for(delete_processed, DELIVERY, "the delete to be processed")
    (again,) = statuses(fhir, pid)
    assert again["meta"]["versionId"] == final["meta"]["versionId"]  # nothing else changed


def test_results_posted_while_the_service_is_down_are_caught_up_on_start(
    service: EventService, fhir: Fhir
) -> None:
    watermark = service.ready()["queue"]["watermark"]
    assert watermark is not None
    service.stop()
    # No Subscription while down: nothing can be delivered later, only the catch-up
    # can find these results (as after HAPI dropped its notifications).
    assert service.cli("subscribe", "--remove").returncode == 0
    assert service.cli("subscribe", "--status").returncode == 2  # none left
    patients = [new_patient(fhir) for _ in range(5)]
    for pid in patients:
        fhir.put(ihc(pid, "LA11843-2"))
    service.start()
    for pid in patients:
        wait_status(fhir, pid, "final", "positive")
        exactly_one_of_each(fhir, pid, with_list=True)
    assert service.ready()["queue"]["watermark"] > watermark
    assert service.cli("subscribe").returncode == 0
    wait_delivering(fhir)


def test_a_worker_killed_in_the_middle_of_an_item_processes_it_after_restart(
    service: EventService, relay: Relay, fhir: Fhir
) -> None:
    pid = new_patient(fhir)
    relay.freeze()  # the worker's reads of the FHIR server now hang
    try:
        fhir.put(ihc(pid, "LA11843-2"))  # straight to HAPI, which notifies the service
        wait_for(
            lambda: (f"{pid}-ihc", "leased") in queue_rows(service), DELIVERY, "the item leased"
        )
        killed = wait_for(service.worker_pid, 30, "the worker's pid")
        os.kill(killed, signal.SIGKILL)
        # serve restarts its worker, which takes the lock and hands the item out again.
        wait_for(lambda: service.worker_pid() not in (None, killed), 30, "a new worker")
        assert statuses(fhir, pid) == []
    finally:
        relay.thaw()
    wait_status(fhir, pid, "final", "positive")
    exactly_one_of_each(fhir, pid, with_list=True)
    wait_for(lambda: service.ready()["queue"]["depth"] == 0, 30, "an empty queue")


def test_a_burst_of_200_results_gives_200_statuses_and_no_duplicate(
    service: EventService, fhir: Fhir
) -> None:
    count = 200
    patients = [f"h2-{RUN}-burst{n}" for n in range(count)]
    seed: list[dict[str, Any]] = []
    for pid in patients:
        seed.append({"resourceType": "Patient", "id": pid})
        seed.append(specimen(f"{pid}-s1", subject=f"Patient/{pid}", body_site=BREAST))
    transaction(fhir, seed)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda pid: fhir.put(ihc(pid, "LA11841-6")), patients))

    def all_written() -> bool:
        queue = service.ready()["queue"]
        return bool(queue["depth"] == 0 and all(statuses(fhir, pid) for pid in patients[-5:]))

    wait_for(all_written, 600, "the burst to be processed", step=1.0)
    found = [statuses(fhir, pid) for pid in patients]
    assert [len(f) for f in found] == [1] * count
    assert {(f[0]["status"], code_of(f[0])) for f in found} == {("final", "negative")}
    assert service.ready()["queue"]["parked"] == 0


def test_the_log_names_items_and_outcomes_but_no_patient(service: EventService) -> None:
    items = [line for line in log_lines(service) if line.get("event") == "item"]
    assert items
    assert {line["outcome"] for line in items} <= {
        "done",
        "retry-server_unavailable",
        "retry-timeout",
    }
    assert not any(f"h2-{RUN}-ev" in str(line.get("patient")) for line in items)
    assert all("patient" not in line for line in items)

"""Write races on a real HAPI server: concurrent first calls, and two service instances.

A fresh HAPI server of its own (the session's server already holds the service's
Device), unless ``FHIR_BASE_URL`` names another server; authenticated like the
session's (Keycloak tokens in and out).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.fhir.codes import DEVICE_ID, SID_STATUS
from service.settings import Settings
from tests.integration.fhir_server import RUN, Fhir
from tests.integration.hapi import fhir_server
from tests.integration.keycloak import ENGINE, SEEDER_CLIENT, SEEDER_SCOPES, Keycloak

LOINC = "http://loinc.org"
OP = "/fhir/Patient/{}/$her2-status"


@pytest.fixture(scope="module")
def fresh_base_url(
    tmp_path_factory: pytest.TempPathFactory, keycloak_server: Keycloak
) -> Iterator[str]:
    auth = keycloak_server.hapi_auth()
    with fhir_server(tmp_path_factory.mktemp("hapi-fresh"), auth) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def seeder(fresh_base_url: str, keycloak_server: Keycloak) -> Fhir:
    return Fhir(fresh_base_url, keycloak_server.tokens(SEEDER_CLIENT, SEEDER_SCOPES))


@pytest.fixture(scope="module")
def service(keycloak_server: Keycloak) -> Callable[[str, Path], FlaskClient]:
    """A service instance on a FHIR server, called with the integration engine's token."""
    caller = keycloak_server.tokens(*ENGINE)

    def make(base_url: str, lock_dir: Path) -> FlaskClient:
        settings = Settings(
            fhir_base_url=base_url,
            lock_dir=lock_dir,
            fhir_smart=keycloak_server.service_smart(),
            auth=keycloak_server.service_auth(),
        )
        client = create_app(settings).test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {caller.token()}"
        return client

    return make


def seed(fhir: Fhir, pid: str) -> None:
    fhir.put({"resourceType": "Patient", "id": pid})
    fhir.put(
        {
            "resourceType": "Specimen",
            "id": f"{pid}-s1",
            "subject": {"reference": f"Patient/{pid}"},
            "collection": {
                "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "76752008"}]}
            },
        }
    )
    fhir.put(
        {
            "resourceType": "Observation",
            "id": f"{pid}-ihc",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "85319-2"}]},
            "subject": {"reference": f"Patient/{pid}"},
            "specimen": {"reference": f"Specimen/{pid}-s1"},
            "effectiveDateTime": "2026-05-01",
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA11843-2"}]},
        }
    )


def call(client: FlaskClient, pid: str) -> tuple[int, dict[str, Any]]:
    response = client.post(OP.format(pid))
    return response.status_code, response.json or {}


def test_concurrent_first_calls_for_different_patients_all_succeed(
    fresh_base_url: str,
    seeder: Fhir,
    service: Callable[[str, Path], FlaskClient],
    tmp_path: Path,
) -> None:
    fhir = seeder
    pids = [f"h2-{RUN}-race{n}" for n in range(8)]
    for pid in pids:
        seed(fhir, pid)
    client = service(fresh_base_url, tmp_path / "locks")
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda pid: call(client, pid), pids))
    assert [status for status, _ in results] == [200] * 8, results
    devices = fhir.get("Device", _id=DEVICE_ID)
    assert devices.get("total") == 1
    for pid in pids:
        key = f"{pid}:Specimen/{pid}-s1:breast"
        assert len(fhir.search("Observation", identifier=f"{SID_STATUS}|{key}")) == 1


def test_two_instances_racing_on_one_patient_never_answer_502(
    fresh_base_url: str,
    seeder: Fhir,
    service: Callable[[str, Path], FlaskClient],
    tmp_path: Path,
) -> None:
    # Separate lock directories: the instances do not see each other's locks, so
    # only the FHIR server decides who wins.
    fhir = seeder
    first, second = service(fresh_base_url, tmp_path / "a"), service(fresh_base_url, tmp_path / "b")
    statuses: list[int] = []
    for round_ in range(4):
        pid = f"h2-{RUN}-duel{round_}"
        seed(fhir, pid)
        clients = [first, second] * 4
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            statuses += [s for s, _ in pool.map(call, clients, [pid] * len(clients))]
        key = f"{pid}:Specimen/{pid}-s1:breast"
        assert len(fhir.search("Observation", identifier=f"{SID_STATUS}|{key}")) == 1
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses

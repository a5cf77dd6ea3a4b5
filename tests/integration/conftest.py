"""A real FHIR server for the integration tests: HAPI on loopback, or FHIR_BASE_URL.

With ``FHIR_BASE_URL`` set (e.g. a public HAPI sandbox), the same tests run against
that server instead; every resource they write uses synthetic data, ids and
identifiers unique to the run (``h2-<run>-<n>``) and the tag ``RUN_TAG``.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from service.api import create_app
from service.fhir import jsonio
from service.settings import Settings
from tests.integration.hapi import HapiServer

RUN = uuid.uuid4().hex[:8]
RUN_TAG = {"system": "https://her2-status.org/fhir/sid/test-run", "code": RUN}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every integration test, and those that use the FHIR server (sandbox runs)."""
    for item in items:
        if "tests/integration" not in str(item.path):
            continue
        item.add_marker(pytest.mark.integration)
        if "fhir_base_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.fhir_server)


@pytest.fixture(scope="session")
def fhir_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("FHIR_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    server = HapiServer(tmp_path_factory.mktemp("hapi") / "hapi.log").start()
    try:
        yield server.base_url
    finally:
        server.stop()


class Fhir:
    """Minimal direct access to the test server, for seeding and checking."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/fhir+json"

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        resource = {**resource, "meta": {"tag": [RUN_TAG]}}
        url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
        response = self.session.put(url, data=jsonio.dumps(resource), timeout=60)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = jsonio.loads(response.content)
        return result

    def get(self, path: str, **params: str) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}/{path}", params=params, timeout=60)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = jsonio.loads(response.content)
        return result

    def search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        bundle = self.get(resource_type, _count="100", **params)
        return [e["resource"] for e in bundle.get("entry", [])]


@pytest.fixture(scope="session")
def fhir(fhir_base_url: str) -> Fhir:
    return Fhir(fhir_base_url)


_COUNTER = itertools.count(1)


@pytest.fixture
def patient_id(fhir: Fhir) -> str:
    """A fresh synthetic patient per test, with one breast specimen ``{id}-s1``."""
    pid = f"h2-{RUN}-{next(_COUNTER)}"
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
    return pid


@pytest.fixture
def service_factory(fhir_base_url: str, tmp_path: Path) -> Callable[..., FlaskClient]:
    def make(**overrides: Any) -> FlaskClient:
        overrides.setdefault("fhir_base_url", fhir_base_url)
        settings = Settings(lock_dir=tmp_path / "locks", **overrides)
        return create_app(settings).test_client()

    return make

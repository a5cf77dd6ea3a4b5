"""A real FHIR server for the integration tests: HAPI on loopback, or FHIR_BASE_URL.

With ``FHIR_BASE_URL`` set (e.g. a public HAPI sandbox), the same tests run against
that server instead; every resource they write uses synthetic data, ids and
identifiers unique to the run (``h2-<run>-<n>``) and the tag ``RUN_TAG``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.settings import AuthSettings, Settings
from tests.builders import BREAST, specimen
from tests.integration.fhir_server import RUN, Fhir
from tests.integration.hapi import fhir_server


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
    with fhir_server(tmp_path_factory.mktemp("hapi")) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def fhir(fhir_base_url: str) -> Fhir:
    return Fhir(fhir_base_url)


_COUNTER = itertools.count(1)


@pytest.fixture
def patient_id(fhir: Fhir) -> str:
    """A fresh synthetic patient per test, with one breast specimen ``{id}-s1``."""
    pid = f"h2-{RUN}-{next(_COUNTER)}"
    fhir.put({"resourceType": "Patient", "id": pid})
    fhir.put(specimen(f"{pid}-s1", subject=f"Patient/{pid}", body_site=BREAST))
    return pid


@pytest.fixture
def service_factory(fhir_base_url: str, tmp_path: Path) -> Callable[..., FlaskClient]:
    def make(**overrides: Any) -> FlaskClient:
        overrides.setdefault("fhir_base_url", fhir_base_url)
        overrides.setdefault("auth", AuthSettings.off())
        settings = Settings(lock_dir=tmp_path / "locks", **overrides)
        return create_app(settings).test_client()

    return make

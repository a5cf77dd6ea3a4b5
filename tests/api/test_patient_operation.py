"""The Patient-level operation over the in-memory store: busy write locks and write races."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.fhir.codes import SID_STATUS
from service.settings import Settings
from tests.builders import NOW, case_ihc, parameters

OP = "/fhir/Patient/case-patient/$her2-status"
PERSIST = json.dumps(parameters({"name": "persist", "valueBoolean": True}))


def service(store: MemoryStore, locks: FileLocks) -> FlaskClient:
    return create_app(Settings(), clock=lambda: NOW, store=store, locks=locks).test_client()


def post(client: FlaskClient) -> Any:
    return client.post(OP, data=PERSIST, content_type="application/fhir+json")


def test_a_busy_write_lock_is_503_without_blaming_the_fhir_server(tmp_path: Path) -> None:
    store = MemoryStore()
    store.put(case_ihc("ihc", "3+"))
    client = service(store, FileLocks(tmp_path, timeout=0.05))
    key = client.post(OP).json["entry"][0]["resource"]["identifier"][0]["value"]  # type: ignore[index]
    with FileLocks(tmp_path).hold([key]):  # another request is writing this result
        response = post(client)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    (issue,) = response.json["issue"]
    assert issue["code"] == "lock-error"
    assert "being written by another request" in issue["diagnostics"]
    assert "FHIR server" not in issue["diagnostics"]
    assert store.commits == 0


class _RacingStore(MemoryStore):
    """Another request commits the same plan just before ours."""

    rival = True

    def commit(self, bundle: dict[str, Any]) -> dict[str, Any]:
        if self.rival:
            self.rival = False
            super().commit(copy.deepcopy(bundle))
        return super().commit(bundle)


def test_a_result_changed_since_it_was_read_is_409(tmp_path: Path) -> None:
    store = _RacingStore()
    store.put(case_ihc("ihc", "1+"))
    store.rival = False
    client = service(store, FileLocks(tmp_path))
    assert post(client).status_code == 200
    store.put(case_ihc("ihc", "3+", status="amended"))
    store.rival = True
    response = post(client)
    assert response.status_code == 409
    assert response.json["issue"][0]["code"] == "conflict"
    (stored,) = store.status_observations("case-patient", SID_STATUS)
    assert stored["meta"]["versionId"] == "2"  # the rival's write, not ours on top of it

"""The trial endpoints with the FHIR server's ResearchStudies as source (HER2_TRIALS_FHIR).

The server is ``responses``: a server that pages on with empty pages, or that holds a
study fhir.resources cannot read, cannot be made of a real HAPI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import responses

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.settings import AuthSettings, Settings, TrialSettings
from tests.builders import BREAST, NOW, case_ihc, searchset, specimen
from tests.builders.paging import endless_empty_pages
from tests.builders.trials import mcode_request, research_study

BASE = "http://ehr.test/fhir"
KNOWN = "case-patient"
OPERATION = f"/fhir/Patient/{KNOWN}/$her2-trial-candidates"
LOW = "Inclusion Criteria:\n- HER2-low breast cancer (IHC 1+ or IHC 2+/ISH-negative)"


def _client(tmp: Path) -> Any:
    store = MemoryStore()
    store.put(specimen("current", subject=f"Patient/{KNOWN}", body_site=BREAST))
    store.put(case_ihc("ihc", "1+"))
    settings = Settings(
        fhir_base_url=BASE,
        auth=AuthSettings.off(),
        trials=TrialSettings(from_fhir=True, refresh_seconds=300),
    )
    return create_app(settings, clock=lambda: NOW, store=store, locks=FileLocks(tmp)).test_client()


def _deep() -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://x", "valueString": "v"}
    for _ in range(200):
        extension = {"url": "http://x", "extension": [extension]}
    return {**research_study("deep"), "extension": [extension]}


@responses.activate
def test_a_study_that_cannot_be_read_is_skipped_with_a_warning(tmp_path: Path) -> None:
    responses.get(
        f"{BASE}/ResearchStudy", json=searchset(research_study("low", eligibility=LOW), _deep())
    )
    client = _client(tmp_path)
    response = client.get(OPERATION)
    assert response.status_code == 200, response.json
    matches = {e["resource"]["id"]: e["search"]["score"] for e in response.json["entry"][:-1]}
    assert matches == {"low": 1}
    last = response.json["entry"][-1]
    assert last["search"] == {"mode": "outcome"}
    assert [i["severity"] for i in last["resource"]["issue"]] == ["warning"]
    answer = client.post(
        "/getClinicalTrial",
        data=json.dumps(mcode_request("breast-her2-positive")),
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert {e["resource"]["resourceType"] for e in answer.json["entry"]} <= {"ResearchStudy"}


@responses.activate
def test_a_read_that_spends_its_budget_on_no_study_fails_and_is_not_cached(
    tmp_path: Path,
) -> None:
    url = f"{BASE}/ResearchStudy"
    responses.add_callback(responses.GET, url, callback=endless_empty_pages(url))
    client = _client(tmp_path)
    assert client.get(OPERATION).status_code == 502
    responses.replace(
        responses.GET,
        f"{BASE}/ResearchStudy",
        json=searchset(research_study("low", eligibility=LOW)),
    )
    response = client.get(OPERATION)  # read again at once: the failure was not kept
    assert response.status_code == 200
    assert [e["resource"]["id"] for e in response.json["entry"]] == ["low"]

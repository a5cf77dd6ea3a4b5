"""Re-deriving a patient against the in-memory store: what is written, and when nothing is."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.app.derivation import derive
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.app.planning import plan, transaction
from service.app.rederive import RederivePatient, WriteOutcome, load_snapshot
from service.clients.errors import FhirPreconditionFailed, FhirTooManyMatches
from service.fhir.codes import DEVICE_ID, SID_STATUS, SID_THERAPY_LIST
from service.settings import DerivationSettings
from tests.builders import (
    BREAST,
    CASE_PATIENT,
    CASE_SPECIMEN,
    LATER,
    NOW,
    case_ihc,
    case_ish,
    specimen,
)

PATIENT_ID = CASE_PATIENT.split("/")[1]
KEY = f"{PATIENT_ID}:{CASE_SPECIMEN}:breast"


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.put(specimen("current", subject=CASE_PATIENT, body_site=BREAST))
    return memory


@pytest.fixture
def rederive(store: MemoryStore, tmp_path: Path) -> RederivePatient:
    return RederivePatient(store, FileLocks(tmp_path), DerivationSettings())


def ihc(store: MemoryStore, score: str, status: str = "final") -> None:
    store.put(case_ihc("ihc", score, status=status))


def ish(store: MemoryStore, ratio: str, her2: str, cep17: str) -> None:
    values = {
        "her2_cep17_ratio": Decimal(ratio),
        "avg_her2_copies": Decimal(her2),
        "avg_cep17_copies": Decimal(cep17),
    }
    for resource in case_ish("ish", values):
        store.put(resource)


def run(rederive: RederivePatient, now: dt.datetime = NOW) -> WriteOutcome:
    return rederive(PATIENT_ID, True, now)


def result(store: MemoryStore) -> dict[str, Any]:
    found = store.find("Observation", SID_STATUS, KEY)
    assert found is not None
    return found


def status_of(observation: dict[str, Any]) -> str:
    codings = observation["valueCodeableConcept"]["coding"]
    return str(next(c["code"] for c in codings if c["system"].endswith("/her2-status")))


def test_first_run_creates_observation_list_provenance_and_device(
    store: MemoryStore, rederive: RederivePatient
) -> None:
    ihc(store, "3+")
    outcome = run(rederive)
    assert outcome.written == 4
    observation = result(store)
    assert (observation["status"], status_of(observation)) == ("final", "positive")
    listing = store.find("List", SID_THERAPY_LIST, KEY)
    assert listing is not None
    assert listing["status"] == "current"
    provenance_id = next(
        e["resource"]["id"]
        for e in outcome.bundle["entry"]
        if e["resource"]["resourceType"] == "Provenance"
    )
    assert store.exists(f"Provenance/{provenance_id}")
    assert store.exists(f"Device/{DEVICE_ID}")
    assert outcome.bundle["entry"][-1]["resource"]["type"] == "transaction-response"


def test_identical_second_run_writes_nothing(store: MemoryStore, rederive: RederivePatient) -> None:
    ihc(store, "3+")
    run(rederive)
    before = dict(store.resources)
    outcome = run(rederive, LATER)
    assert outcome.written == 0
    assert store.commits == 1
    assert store.resources == before


def test_reflex_ish_finalises_the_same_observation(
    store: MemoryStore, rederive: RederivePatient
) -> None:
    ihc(store, "2+")
    run(rederive)
    first = result(store)
    assert (first["status"], status_of(first)) == ("preliminary", "equivocal")
    assert store.find("List", SID_THERAPY_LIST, KEY) is None
    ish(store, "1.2", "2.4", "2.0")
    run(rederive, LATER)
    second = result(store)
    assert (second["id"], second["meta"]["versionId"]) == (first["id"], "2")
    assert (second["status"], status_of(second)) == ("final", "negative")
    listing = store.find("List", SID_THERAPY_LIST, KEY)
    assert listing is not None
    assert listing["status"] == "current"


def test_a_different_final_result_is_amended(store: MemoryStore, rederive: RederivePatient) -> None:
    ihc(store, "1+")
    run(rederive)
    ihc(store, "3+", status="amended")
    run(rederive, LATER)
    observation = result(store)
    assert (observation["status"], status_of(observation)) == ("amended", "positive")
    assert observation["meta"]["versionId"] == "2"


def test_a_corrected_input_corrects_the_result(
    store: MemoryStore, rederive: RederivePatient
) -> None:
    ihc(store, "3+")
    run(rederive)
    ihc(store, "1+", status="corrected")
    outcome = run(rederive, LATER)
    observation = result(store)
    assert (observation["status"], status_of(observation)) == ("corrected", "negative")
    # The response Bundle keeps the status the rules gave; only the write says corrected.
    assert outcome.bundle["entry"][0]["resource"]["status"] == "final"


def test_list_is_retired_when_no_agent_applies_any_more(
    store: MemoryStore, rederive: RederivePatient
) -> None:
    ihc(store, "3+")
    run(rederive)
    ihc(store, "0", status="corrected")  # IHC 0 (null): HER2-0, no agent
    run(rederive, LATER)
    listing = store.find("List", SID_THERAPY_LIST, KEY)
    assert listing is not None
    assert listing["status"] == "retired"
    assert len(listing["entry"]) == 10  # retired as it was, never emptied


def test_every_input_withdrawn_withdraws_the_result_and_retires_the_list(
    store: MemoryStore, rederive: RederivePatient
) -> None:
    ihc(store, "3+")
    run(rederive)
    ihc(store, "3+", status="entered-in-error")
    outcome = run(rederive, LATER)
    assert not outcome.usable
    assert outcome.written == 2
    assert result(store)["status"] == "entered-in-error"
    listing = store.find("List", SID_THERAPY_LIST, KEY)
    assert listing is not None
    assert listing["status"] == "retired"
    assert run(rederive, LATER).written == 0  # nothing deleted, nothing rewritten


def test_persist_false_writes_nothing(store: MemoryStore, rederive: RederivePatient) -> None:
    ihc(store, "3+")
    outcome = rederive(PATIENT_ID, False, NOW)
    assert (outcome.groups, outcome.written, store.commits) == (1, 0, 0)


def test_two_plans_from_one_stored_state_conflict(
    store: MemoryStore, rederive: RederivePatient
) -> None:
    ihc(store, "1+")
    run(rederive)
    ihc(store, "3+", status="amended")
    payload = store.patient_inputs(PATIENT_ID, DerivationSettings().code_map.kinds.keys())
    derivation = derive(payload, LATER)
    plans = [
        plan(
            derivation.outputs,
            load_snapshot(store, derivation.outputs, PATIENT_ID, payload),
            LATER,
            store.base_url,
        )
        for _ in range(2)
    ]
    store.commit(transaction(plans[0]))
    with pytest.raises(FhirPreconditionFailed) as raised:
        store.commit(transaction(plans[1]))
    assert not isinstance(raised.value, FhirTooManyMatches)
    assert result(store)["meta"]["versionId"] == "2"  # the second commit changed nothing


def test_duplicate_stored_results_are_reported(
    store: MemoryStore, rederive: RederivePatient
) -> None:
    ihc(store, "3+")
    run(rederive)
    duplicate = {**result(store), "id": "copy"}
    store.put(duplicate)
    ihc(store, "1+", status="amended")
    with pytest.raises(FhirTooManyMatches):
        run(rederive, LATER)

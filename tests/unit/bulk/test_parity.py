"""Bulk answers what the operations answer: the stateless one, and the Patient-level write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.app.rederive import RederivePatient
from service.bulk.run import BulkOptions, run
from service.bulk.writeback import WriteBack
from service.fhir import jsonio
from service.fhir.issues import outcome_resource
from service.settings import DerivationSettings, Settings
from tests.builders import NOW
from tests.builders.bulk import export_resources
from tests.builders.fhir import ihc

BASE = "http://memory.test/fhir"


def _bulk(export_dir: Path, out: Path) -> Any:
    options = BulkOptions(export_dir, out, workers=1, partitions=2, now=NOW, base_url=BASE)
    return run(options, DerivationSettings())


def _comparable(observation: dict[str, Any]) -> tuple[Any, ...]:
    return (
        observation["status"],
        observation["valueCodeableConcept"],
        observation.get("component"),
        observation.get("derivedFrom"),
        observation["note"],
        observation["method"],
    )


def test_every_status_equals_the_stateless_operations_answer_for_that_patient(
    export_dir: Path, tmp_path: Path
) -> None:
    _bulk(export_dir, tmp_path / "out")
    bulk: dict[str, tuple[Any, ...]] = {}
    for line in (tmp_path / "out" / "Observation.ndjson").read_text().splitlines():
        observation = json.loads(line)
        bulk[observation["identifier"][0]["value"]] = _comparable(observation)
    client = create_app(Settings(), clock=lambda: NOW).test_client()
    operation: dict[str, tuple[Any, ...]] = {}
    for records in export_resources(export_dir).values():
        body = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r}
                for r in records
                if r["resourceType"] != "Patient"
            ],
        }
        answer = client.post(
            "/fhir/$her2-status",
            data=jsonio.dumps(body),  # exact decimals, as an EHR sends them
            headers={"Content-Type": "application/fhir+json"},
        )
        assert answer.status_code in (200, 422)
        for entry in answer.get_json().get("entry", []):
            resource = entry["resource"]
            if resource["resourceType"] == "Observation":
                operation[resource["identifier"][0]["value"]] = _comparable(resource)
    assert len(bulk) > 50
    assert bulk == operation


def _issues(outcome: dict[str, Any]) -> list[Any]:
    """The issues without their location (entry indexes differ between the two Bundles)."""
    return sorted(
        json.dumps({k: v for k, v in issue.items() if k != "expression"}, sort_keys=True)
        for issue in outcome["issue"]
    )


def test_each_patients_issues_are_those_of_the_patient_operation(
    export_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "export"
    shutil.copytree(export_dir, source)
    # A patient whose only HER2 result cannot be read: an IHC with a boolean value.
    broken = [
        {"resourceType": "Patient", "id": "broken1"},
        ihc("broken1-ihc", subject="Patient/broken1", valueBoolean=True),
    ]
    (source / "Extra.ndjson").write_text("".join(jsonio.dumps(r) + "\n" for r in broken))
    result = _bulk(source, tmp_path / "out")
    store = _seeded_store(source)
    operation = RederivePatient(store, FileLocks(tmp_path / "locks"), DerivationSettings())
    expected: dict[str, tuple[bool, list[Any]]] = {}
    for patient in export_resources(source):
        answer = operation(patient, False, NOW)
        if answer.issues:
            failed = any(i.severity.value == "error" for i in answer.issues)
            expected[patient] = (failed, _issues(outcome_resource(answer.issues)))
    reported = {
        entry["patient"]: (entry["failed"], _issues(entry["outcome"]))
        for line in (tmp_path / "out" / "errors.ndjson").read_text().splitlines()
        if (entry := json.loads(line))["kind"] == "patient"
    }
    assert reported == expected
    assert sum(failed for failed, _ in reported.values()) == result.summary["patients"]["failed"]
    assert reported["broken1"][0] is True


def _seeded_store(export_dir: Path) -> MemoryStore:
    store = MemoryStore(BASE)
    for records in export_resources(export_dir).values():
        for record in records:
            store.put(record)
    return store


def test_write_back_writes_what_the_patient_operation_would_and_a_second_run_nothing(
    export_dir: Path, tmp_path: Path
) -> None:
    result = _bulk(export_dir, tmp_path / "out")
    store = _seeded_store(export_dir)
    patients = sorted(export_resources(export_dir))
    # One patient is first re-derived by the Patient-level operation itself.
    operation = RederivePatient(store, FileLocks(tmp_path / "locks"), DerivationSettings())
    assert operation(patients[0], True, NOW).written > 0
    locks = FileLocks(tmp_path / "locks")
    first = WriteBack(store, locks, max_entries=20).run(
        result.work, result.partitions, result.context, tmp_path / "out"
    )
    assert first["patients"] == len(patients)
    assert first["patients_unchanged"] == 1
    assert first["transactions"] > 1
    assert first.get("failed_batches", 0) == 0
    stored = [
        r
        for r in store.resources.values()
        if r["resourceType"] == "Observation"
        and any("her2-status" in i.get("system", "") for i in r.get("identifier", []))
    ]
    assert len(stored) == result.summary["specimens"]["derived"]
    second = WriteBack(store, locks).run(
        result.work, result.partitions, result.context, tmp_path / "out"
    )
    assert second.get("entries_written", 0) == 0
    assert second["patients_unchanged"] == len(patients)
    assert operation(patients[1], True, NOW).written == 0

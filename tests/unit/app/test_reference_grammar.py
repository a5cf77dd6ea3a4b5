"""References are followed only when they follow the FHIR grammar (store and request)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from service.app.derivation import derive
from service.app.fhir_store import specimen_references
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.app.rederive import RederivePatient
from service.fhir.references import parse_reference
from service.settings import DerivationSettings

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
ESCAPE = "Specimen/../../admin/secret"
IHC: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "ihc",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85319-2"}]},
    "subject": {"reference": "Patient/p1"},
    "specimen": {"reference": ESCAPE},
    "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA11843-2"}]},
}


@pytest.mark.parametrize(
    "text",
    [
        ESCAPE,
        "Specimen/..",
        "Specimen/.",
        "Specimen/a/../../b",
        "Specimen/a?_format=xml",
        "Specimen/a#x",
        "specimen/a",
        "Specimen/a b",
        "Specimen/" + "a" * 65,
        "http://ehr.test/fhir/../admin/Specimen/a",
        "//ehr.test/Specimen/a",
        "file:///etc/Specimen/a",
    ],
)
def test_ungrammatical_references_are_refused(text: str) -> None:
    assert parse_reference(text) is None


@pytest.mark.parametrize(
    ("text", "relative"),
    [
        ("Specimen/s-1.2", "Specimen/s-1.2"),
        ("Specimen/s1/_history/3", "Specimen/s1"),
        ("http://ehr.test/fhir/Specimen/s1", "Specimen/s1"),
        ("https://ehr.test:8443/base/r4/Specimen/s1/_history/2", "Specimen/s1"),
    ],
)
def test_grammatical_references_are_read(text: str, relative: str) -> None:
    parsed = parse_reference(text)
    assert parsed is not None
    assert parsed.relative == relative


def test_the_store_reads_only_grammatical_specimens_on_its_own_base() -> None:
    resources: list[dict[str, Any]] = [
        {"specimen": {"reference": ESCAPE}},
        {"specimen": [{"reference": "Specimen/ok"}, {"reference": "http://other/fhir/Specimen/x"}]},
        {"specimen": {"reference": "http://ehr.test/fhir/Specimen/abs"}},
    ]
    assert specimen_references(resources, "http://ehr.test/fhir") == {"Specimen/ok", "Specimen/abs"}


def test_memory_store_never_reads_a_path_escape_and_the_issue_is_reported(tmp_path: Path) -> None:
    store = MemoryStore()
    # Something stored where the escaping path would lead: it must never be read.
    store.resources[ESCAPE] = {"resourceType": "Specimen", "id": "secret"}
    store.put(IHC)
    patients = RederivePatient(store, FileLocks(tmp_path / "locks"), DerivationSettings())
    payload, derivation = patients.derive("p1", NOW)
    read = {e["fullUrl"] for e in payload["entry"]}
    assert not any("admin" in url or "secret" in url for url in read)
    reference_issues = [i for i in derivation.issues if "reference grammar" in i.diagnostics]
    assert reference_issues
    assert all(ESCAPE not in (i.expression or "") for i in derivation.issues)


def test_a_request_reference_outside_the_grammar_is_an_issue_and_no_key() -> None:
    derivation = derive(IHC, NOW)
    assert any("reference grammar" in i.diagnostics for i in derivation.issues)
    text = str(derivation.bundle)
    assert "admin" not in text
    assert "secret" not in text

"""Projection: each record cut to what the derivation reads, non-HER2 Observations dropped."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from service.app.patient import derive_patient, patient_bundle
from service.bulk.partition import parse_line
from service.fhir.codes import CodeMap
from service.fhir.projection import patient_of, project, recorded_interpretations
from service.settings import DerivationSettings
from tests.builders import NOW
from tests.builders.bulk import patient_records
from tests.builders.fhir import LOINC, concept, ihc, observation

CODES = frozenset(CodeMap().kinds)
BASE = "https://ehr.test/fhir"


def test_a_her2_observation_keeps_what_the_derivation_reads_and_nothing_else() -> None:
    record = ihc(
        "o1",
        specimen="Specimen/s1",
        meta={"versionId": "3", "lastUpdated": "2024-01-01T00:00:00Z", "source": "#lab"},
        text={"status": "generated", "div": "<div>x</div>"},
        performer=[{"display": "Lab"}],
        note=[{"text": "free text"}],
    )
    projected = project(record, CODES)
    assert projected is not None
    assert projected["meta"] == {"versionId": "3"}
    for kept in ("id", "status", "code", "subject", "specimen", "valueCodeableConcept"):
        assert projected[kept] == record[kept]
    assert not {"text", "performer", "note"} & projected.keys()


def test_an_observation_without_a_her2_code_is_dropped() -> None:
    estrogen = observation("er", "16112-5", valueString="positive")
    assert project(estrogen, CODES) is None


@pytest.mark.parametrize("kind", ["Encounter", "MedicationRequest", "Group"])
def test_types_the_derivation_never_reads_are_dropped(kind: str) -> None:
    assert project({"resourceType": kind, "id": "x"}, CODES) is None


def test_a_patient_is_kept_as_its_id_only() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe"}]}
    assert project(patient, CODES) == {"resourceType": "Patient", "id": "p1"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"resourceType": "Patient", "id": "p9"}, "p9"),
        (ihc("o", subject="Patient/p2"), "p2"),
        (ihc("o", subject="https://ehr.test/fhir/Patient/p3"), "p3"),
        (ihc("o", subject="Patient/p4/_history/2"), "p4"),
        (ihc("o", subject="Group/g1"), None),
        (ihc("o", subject="Patient/../admin"), None),
        (ihc("o", subject=None), None),
    ],
)
def test_the_patient_a_record_belongs_to(record: dict[str, Any], expected: str | None) -> None:
    assert patient_of(record) == expected


@pytest.mark.parametrize(
    "line",
    [
        b"{not json",
        b'{"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", '
        b'"code": "18474-7"}]}, "id": "a", "id": "b"}',
        b'{"resourceType": "Patient", "id": "a", "id": "b"}',
        b"[1, 2]",
        b"\xff",
    ],
)
def test_a_malformed_line_is_reported_without_its_content(line: bytes) -> None:
    parsed = parse_line(line, CODES)
    assert parsed.outcome == "malformed"
    assert parsed.reason
    assert line.decode("utf-8", "replace") not in parsed.reason


def test_a_repeated_key_hiding_a_her2_code_is_malformed_not_dropped() -> None:
    hidden = (
        b'{"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", '
        b'"code": "18474-7"}]}, "code": {"coding": [{"system": "http://loinc.org", '
        b'"code": "16112-5"}]}, "subject": {"reference": "Patient/p1"}}'
    )
    assert parse_line(hidden, CODES).outcome == "malformed"
    # Without any recognised code in the line, a repeated key cannot matter: dropped.
    noise = b'{"resourceType": "Observation", "id": "a", "id": "b"}'
    assert parse_line(noise, CODES).outcome == "dropped"


def test_decimals_survive_projection_exactly() -> None:
    ratio = observation("r", "49683-6", valueQuantity={"value": Decimal("2.40"), "code": "{ratio}"})
    parsed = parse_line(
        '{"resourceType":"Observation","id":"r","status":"final","subject":{"reference":'
        '"Patient/p1"},"code":{"coding":[{"system":"http://loinc.org","code":"49683-6"}]},'
        '"valueQuantity":{"value":2.40,"code":"{ratio}"}}',
        CODES,
    )
    assert parsed.line is not None
    assert '"value": 2.40' in parsed.line
    assert ratio["valueQuantity"]["value"] == Decimal("2.40")


def test_the_recorded_interpretation_is_read_per_specimen() -> None:
    recorded = observation(
        "i1", "48676-1", specimen="Specimen/s1", effective="2020-01-02", **concept("LA6577-6")
    )
    preliminary = observation("i2", "48676-1", status="preliminary", **concept("LA6576-8"))
    assert recorded_interpretations([recorded, preliminary]) == [
        ("Specimen/s1", "2020-01-02", "negative")
    ]
    assert LOINC in str(recorded)


def _outcome(records: list[dict[str, Any]]) -> list[tuple[str, Any, Any, Any]]:
    bundle = patient_bundle(records, CODES, BASE)
    derivation = derive_patient(bundle, NOW, DerivationSettings())
    return [(o.key, o.observation, o.listing, o.provenance["id"]) for o in derivation.outputs] + [
        (i.code, i.diagnostics, i.expression, i.input_error) for i in derivation.issues
    ]


def test_a_projected_patient_derives_exactly_as_the_full_records() -> None:
    rng = random.Random(3)
    for number in range(40):
        records = list(patient_records(rng, number))
        projected = [p for r in records if (p := project(r, CODES)) is not None]
        assert len(projected) < len(records)
        assert _outcome(projected) == _outcome(records)

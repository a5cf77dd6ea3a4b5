"""A synthetic FHIR Bulk Data export with realistic noise (tests and bench/bulk_generate.py).

Per patient: a Patient, a Condition (breast C50.9, gastric C16.9 or none), one to
three Specimens each with a pathology DiagnosticReport, a HER2 IHC and, for an
IHC 2+, a reflex dual-probe ISH (ratio, averages, cells); ER, PR and Ki-67 and a
handful of unrelated labs (the noise a hospital export is mostly made of);
sometimes an amended IHC (a second version), an entered-in-error result, and the
interpretation the source system had recorded (LOINC 48676-1), which for an IHC
1+ or 0 is the "negative" of the years before HER2-low.  Deterministic for a seed.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from tests.builders.fhir import LOINC, SNOMED, UCUM

ICD10 = "http://hl7.org/fhir/sid/icd-10"
IHC_ANSWERS = {"0": "LA6111-4", "1+": "LA11841-6", "2+": "LA11842-4", "3+": "LA11843-2"}
RECORDED = {"positive": "LA6576-8", "negative": "LA6577-6", "equivocal": "LA11885-3"}
NOISE = (
    ("16112-5", "Estrogen receptor [Interpretation] in Tissue"),
    ("16113-3", "Progesterone receptor [Interpretation] in Tissue"),
    ("85330-9", "Ki-67 [Presence] in Tissue by Immune stain"),
)
LABS = (("718-7", "g/dL"), ("2160-0", "mg/dL"), ("1742-6", "U/L"), ("777-3", "10*3/uL"))
TYPES = ("Patient", "Condition", "Specimen", "DiagnosticReport", "Observation")


def _obs(oid: str, patient: str, code: str, **extra: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Observation",
        "id": oid,
        "meta": {"versionId": "1", "lastUpdated": "2024-05-01T10:00:00Z"},
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
        "performer": [{"display": "Pathology lab"}],
    }
    return resource | extra


def _quantity(value: str, unit: str) -> dict[str, Any]:
    return {"value": Decimal(value), "system": UCUM, "code": unit}


def _specimen_records(
    rng: random.Random, patient: str, index: int, site: str, when: str
) -> Iterator[dict[str, Any]]:
    sid = f"{patient}-s{index}"
    spec_ref = {"reference": f"Specimen/{sid}"}
    body = ("76752008" if site == "breast" else "69695003") if site != "unknown" else None
    specimen: dict[str, Any] = {
        "resourceType": "Specimen",
        "id": sid,
        "subject": {"reference": f"Patient/{patient}"},
    }
    if body:
        specimen["collection"] = {"bodySite": {"coding": [{"system": SNOMED, "code": body}]}}
    yield specimen
    score = rng.choices(["0", "1+", "2+", "3+"], weights=[30, 35, 20, 15])[0]
    ihc_code = "85319-2" if site == "breast" and rng.random() < 0.5 else "18474-7"
    effective = {"effectiveDateTime": when, "specimen": spec_ref}
    ihc_id = f"{sid}-ihc"
    ihc = _obs(
        ihc_id,
        patient,
        ihc_code,
        valueCodeableConcept={"coding": [{"system": LOINC, "code": IHC_ANSWERS[score]}]},
        **effective,
    )
    if rng.random() < 0.08:
        # An amended result: the second version is what the export holds.
        ihc["status"] = "amended"
        ihc["meta"] = {"versionId": "2", "lastUpdated": "2024-05-03T10:00:00Z"}
    results = [ihc_id]
    yield ihc
    if score == "2+":
        avg = Decimal(rng.choice(["2.9", "3.6", "4.4", "6.5", "8.2"]))
        cep17 = Decimal(rng.choice(["1.40", "1.80", "2.10", "2.60"]))
        ratio = (avg / cep17).quantize(Decimal("0.01"))
        if rng.random() < 0.01:
            ratio += Decimal("1.5")  # a transcription error the rules must catch
        values = (
            ("49683-6", _quantity(str(ratio), "{ratio}")),
            ("74860-8", _quantity(str(avg), "{copies}/{nucleus}")),
            ("74861-6", _quantity(str(cep17), "{copies}/{nucleus}")),
        )
        for code, value in values:
            results.append(f"{sid}-{code}")
            yield _obs(f"{sid}-{code}", patient, code, valueQuantity=value, **effective)
        results.append(f"{sid}-cells")
        yield _obs(f"{sid}-cells", patient, "62361-1", valueInteger=40, **effective)
    if rng.random() < 0.6:
        old = "positive" if score == "3+" else "equivocal" if score == "2+" else "negative"
        yield _obs(
            f"{sid}-recorded",
            patient,
            "48676-1",
            valueCodeableConcept={"coding": [{"system": LOINC, "code": RECORDED[old]}]},
            **effective,
        )
    if rng.random() < 0.03:
        yield _obs(
            f"{sid}-withdrawn",
            patient,
            "18474-7",
            status="entered-in-error",
            valueCodeableConcept={"coding": [{"system": LOINC, "code": IHC_ANSWERS["3+"]}]},
            **effective,
        )
    for code, display in NOISE if site == "breast" else ():
        yield _obs(
            f"{sid}-{code}",
            patient,
            code,
            valueString=display,
            effectiveDateTime=when,
            specimen=spec_ref,
        )
    yield {
        "resourceType": "DiagnosticReport",
        "id": f"{sid}-report",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "60568-3"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "specimen": [spec_ref],
        "result": [{"reference": f"Observation/{r}"} for r in results],
        "conclusion": "See the pathology report.",
    }


def patient_records(rng: random.Random, number: int) -> Iterator[dict[str, Any]]:
    """Every record of one synthetic patient (any order within the patient)."""
    patient = f"pt{number:07d}"
    yield {
        "resourceType": "Patient",
        "id": patient,
        "gender": rng.choice(["female", "male"]),
        "birthDate": f"{rng.randint(1940, 1995)}-01-01",
    }
    site = rng.choices(["breast", "gastroesophageal", "unknown"], weights=[85, 10, 5])[0]
    if site != "unknown":
        code = "C50.9" if site == "breast" else "C16.9"
        yield {
            "resourceType": "Condition",
            "id": f"{patient}-dx",
            "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": ICD10, "code": code}]},
        }
    for index in range(rng.choices([1, 2, 3], weights=[70, 22, 8])[0]):
        when = f"20{rng.randint(15, 24)}-0{rng.randint(1, 9)}-1{index}"
        yield from _specimen_records(rng, patient, index, site, when)
    for lab, unit in LABS[: rng.randint(0, len(LABS))]:
        yield _obs(
            f"{patient}-{lab}",
            patient,
            lab,
            valueQuantity=_quantity(str(rng.randint(10, 150)), unit),
            effectiveDateTime="2024-02-01",
        )


class _Writers:
    def __init__(self, directory: Path, gzipped: bool, files_per_type: int) -> None:
        self.handles: dict[tuple[str, int], IO[str]] = {}
        self.directory = directory
        self.gzipped = gzipped
        self.files_per_type = files_per_type

    def write(self, record: dict[str, Any], number: int) -> None:
        kind = record["resourceType"]
        part = number % self.files_per_type
        handle = self.handles.get((kind, part))
        if handle is None:
            name = f"{kind}.{part:03d}.ndjson" + (".gz" if self.gzipped else "")
            path = self.directory / name
            handle = gzip.open(path, "wt", encoding="utf-8") if self.gzipped else open(path, "w")  # noqa: SIM115
            self.handles[(kind, part)] = handle
        handle.write(dumps(record) + "\n")

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def dumps(record: dict[str, Any]) -> str:
    """Compact JSON with exact decimals."""
    from service.fhir import jsonio  # noqa: PLC0415

    return jsonio.dumps(record)


def write_export(
    directory: Path,
    patients: int,
    seed: int = 11,
    gzipped: bool = False,
    files_per_type: int = 1,
    start: int = 0,
) -> int:
    """Write an export of ``patients`` patients into ``directory``; return the line count."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    writers = _Writers(directory, gzipped, files_per_type)
    lines = 0
    try:
        for number in range(start, start + patients):
            for record in patient_records(rng, number):
                writers.write(record, number)
                lines += 1
    finally:
        writers.close()
    return lines


def export_resources(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Every resource of an export directory by patient id (for comparisons in tests)."""
    from service.fhir import jsonio  # noqa: PLC0415
    from service.fhir.projection import patient_of  # noqa: PLC0415

    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(directory.iterdir()):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = jsonio.loads(line)
                except ValueError:
                    continue
                patient = patient_of(record)
                if patient is not None:
                    found.setdefault(patient, []).append(record)
    return found


def manifest(directory: Path, base_url: str) -> dict[str, Any]:
    """A Bulk Data manifest naming the export's files by relative path."""
    outputs = [
        {"type": path.name.split(".")[0], "url": path.name}
        for path in sorted(directory.iterdir())
        if ".ndjson" in path.name
    ]
    return {
        "transactionTime": "2026-01-01T00:00:00Z",
        "request": f"{base_url}/$export",
        "requiresAccessToken": False,
        "output": outputs,
        "error": [],
    }


__all__ = ["TYPES", "export_resources", "manifest", "patient_records", "write_export"]

"""Per-specimen cost of ``service.app.derivation.derive`` as the request grows (linear or not).

Builds a Bundle of N specimens, each an IHC 2+ (tissue code, so that the site comes from
the Condition) plus a dual-probe ISH (ratio, HER2 and CEP17 averages, cell count) as
separate Observations; one patient per five specimens, each patient with a breast cancer
Condition.  Prints, per N, the wall time of one ``derive`` per specimen, and how much of it
is reading (``read_inputs``) and how much the rules (``evaluate_groups``); the rest of
``derive`` is building and validating the output resources.  Each figure is the best
of five runs (two at 10,000 specimens), since the machine is shared.

Usage (from the repository root):
    PYTHONPATH=. python bench/reader_scaling.py [N ...]     # default 100 1000 10000
"""

from __future__ import annotations

import datetime as dt
import gc
import sys
import time
from decimal import Decimal
from typing import Any

from service.app.derivation import derive, evaluate_groups
from service.fhir.inbound import read_inputs

LOINC = "http://loinc.org"
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
RATIOS = [Decimal("1.2"), Decimal("1.8"), Decimal("2.4"), Decimal("3.1")]
CEP17 = Decimal("2.1")
PER_PATIENT = 5


def _obs(oid: str, code: str, patient: str, specimen: str, **value: Any) -> dict[str, Any]:
    return {
        "fullUrl": f"http://ehr.example.org/fhir/Observation/{oid}",
        "resource": {
            "resourceType": "Observation",
            "id": oid,
            "meta": {"versionId": "1"},
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": f"Patient/{patient}"},
            "specimen": {"reference": f"Specimen/{specimen}"},
            "effectiveDateTime": "2026-03-04T09:00:00Z",
            **value,
        },
    }


def bundle(count: int) -> dict[str, Any]:
    """N specimens of IHC 2+ and a dual-probe ISH; a breast Condition per patient."""
    entries: list[dict[str, Any]] = []
    for p in range((count + PER_PATIENT - 1) // PER_PATIENT):
        entries.append(
            {
                "fullUrl": f"http://ehr.example.org/fhir/Condition/c{p}",
                "resource": {
                    "resourceType": "Condition",
                    "id": f"c{p}",
                    "subject": {"reference": f"Patient/p{p}"},
                    "code": {
                        "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "C50.9"}]
                    },
                },
            }
        )
    for i in range(count):
        patient, specimen, ratio = f"p{i // PER_PATIENT}", f"s{i}", RATIOS[i % 4]
        score = {"coding": [{"system": LOINC, "code": "LA11842-4"}]}
        copies = "{copies}/{nucleus}"
        entries += [
            _obs(f"i{i}", "18474-7", patient, specimen, valueCodeableConcept=score),
            _obs(
                f"r{i}",
                "49683-6",
                patient,
                specimen,
                valueQuantity={"value": ratio, "code": "{ratio}"},
            ),
            _obs(
                f"h{i}",
                "74860-8",
                patient,
                specimen,
                valueQuantity={"value": ratio * CEP17, "code": copies},
            ),
            _obs(
                f"c{i}",
                "74861-6",
                patient,
                specimen,
                valueQuantity={"value": CEP17, "code": copies},
            ),
            _obs(f"n{i}", "62361-1", patient, specimen, valueInteger=40),
        ]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def measure(count: int) -> tuple[float, float, float]:
    """Seconds per specimen: whole ``derive``, reading, rules."""
    payload = bundle(count)
    gc.collect()
    start = time.perf_counter()
    derivation = derive(payload, NOW)
    total = time.perf_counter() - start
    assert len(derivation.derived) == count, "every specimen must be derived"
    # Each part is timed with the previous outputs freed, as in a fresh request.
    del derivation
    gc.collect()
    start = time.perf_counter()
    reading = read_inputs(payload)
    read = time.perf_counter() - start
    start = time.perf_counter()
    evaluate_groups(reading)
    rules = time.perf_counter() - start
    return total / count, read / count, rules / count


def main(argv: list[str]) -> None:
    """Print one line per N."""
    sizes = [int(a) for a in argv] or [100, 1000, 10000]
    measure(20)  # warm-up: imports, model building
    print(f"{'specimens':>10} {'derive ms/spec':>15} {'read ms/spec':>13} {'rules ms/spec':>14}")
    for count in sizes:
        # The machine is shared: the best of a few runs is the cost, the rest is noise.
        runs = [measure(count) for _ in range(5 if count <= 1000 else 2)]
        total, read, rules = (min(column) for column in zip(*runs, strict=True))
        print(f"{count:>10} {total * 1e3:>15.3f} {read * 1e3:>13.3f} {rules * 1e3:>14.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])

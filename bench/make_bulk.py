"""Write a Bundle of N specimens (IHC + dual-probe ISH as separate Observations each).

Usage: python bench/make_bulk.py N OUT.json
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from service.fhir import jsonio

SCORES = ["LA6111-4", "LA11841-6", "LA11842-4", "LA11843-2"]
RATIOS = [Decimal("1.2"), Decimal("1.8"), Decimal("2.4"), Decimal("3.1")]
CEP17 = Decimal("2.1")


def observation(oid: str, code: str, patient: str, specimen: str, **value: Any) -> dict[str, Any]:
    """One HER2 input Observation."""
    return {
        "fullUrl": f"http://ehr.example.org/fhir/Observation/{oid}",
        "resource": {
            "resourceType": "Observation",
            "id": oid,
            "meta": {"versionId": "1"},
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{patient}"},
            "specimen": {"reference": f"Specimen/{specimen}"},
            "effectiveDateTime": "2026-03-04T09:00:00Z",
            **value,
        },
    }


def bundle(count: int) -> dict[str, Any]:
    """Three specimens per patient, scores and ratios cycling through the groups."""
    entries = []
    for i in range(count):
        patient, specimen, ratio = f"p{i // 3}", f"s{i}", RATIOS[i % 4]
        score = {"coding": [{"system": "http://loinc.org", "code": SCORES[i % 4]}]}
        entries += [
            observation(f"i{i}", "85319-2", patient, specimen, valueCodeableConcept=score),
            observation(
                f"r{i}",
                "49683-6",
                patient,
                specimen,
                valueQuantity={"value": ratio, "code": "{ratio}"},
            ),
            observation(
                f"h{i}",
                "74860-8",
                patient,
                specimen,
                valueQuantity={"value": ratio * CEP17, "code": "{copies}/{nucleus}"},
            ),
            observation(
                f"c{i}",
                "74861-6",
                patient,
                specimen,
                valueQuantity={"value": CEP17, "code": "{copies}/{nucleus}"},
            ),
        ]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


if __name__ == "__main__":
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        handle.write(jsonio.dumps(bundle(int(sys.argv[1]))))

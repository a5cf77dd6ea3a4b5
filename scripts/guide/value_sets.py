"""The guide's ValueSets: one per CodeSystem, plus the mixed sets the profiles bind to."""

from __future__ import annotations

from typing import Any

from scripts.guide.code_systems import code_systems
from service.fhir.codes import (
    ANSWERS,
    CS_IHC_SCORE,
    CS_STATUS,
    DEFAULT_CODES,
    ISH_VALUE_KINDS,
    LOINC,
    SNOMED,
    STATUS_CODINGS,
    Kind,
)
from service.fhir.conformance.header import conformance_header


def _value_set(
    name: str, title: str, description: str, includes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        **conformance_header("ValueSet", name, title, description),
        "compose": {"include": includes},
    }


def value_sets() -> list[dict[str, Any]]:
    """One ValueSet per CodeSystem, plus the mixed sets the profiles bind to."""
    own = [
        _value_set(cs["id"], cs["title"], f"All codes of {cs['title']}.", [{"system": cs["url"]}])
        for cs in code_systems()
    ]
    ihc_codes = _loinc_codes({Kind.IHC})
    ish_codes = _loinc_codes({Kind.ISH, Kind.ISH_PANEL, *ISH_VALUE_KINDS})
    ish_snomed = [c for (s, c), k in DEFAULT_CODES.items() if s == SNOMED and k in ISH_VALUE_KINDS]
    answers = sorted(c for (s, c) in ANSWERS if s == LOINC)
    return [
        *own,
        _value_set(
            "her2-ihc-test-codes",
            "HER2 IHC test codes",
            "LOINC codes of HER2 IHC.",
            [_include(LOINC, ihc_codes)],
        ),
        _value_set(
            "her2-ish-test-codes",
            "HER2 ISH test codes",
            "LOINC and SNOMED CT codes of HER2 ISH results and their values.",
            [_include(LOINC, ish_codes), _include(SNOMED, ish_snomed)],
        ),
        _value_set(
            "her2-ihc-answer",
            "HER2 IHC answers",
            "LOINC answer list LL4396-9 and qualitative answers, plus the IHC 0 sub-score.",
            [_include(LOINC, answers), {"system": CS_IHC_SCORE}],
        ),
        _value_set(
            "her2-status-value",
            "HER2 status values",
            "The three codings of the status value: SNOMED CT, LOINC answer, project code.",
            [
                _include(SNOMED, [c[0][1] for c in STATUS_CODINGS.values()]),
                _include(LOINC, [c[1][1] for c in STATUS_CODINGS.values()]),
                {"system": CS_STATUS},
            ],
        ),
    ]


def _loinc_codes(kinds: set[Kind]) -> list[str]:
    return [c for (s, c), k in DEFAULT_CODES.items() if s == LOINC and k in kinds]


def _include(system: str, codes: list[str]) -> dict[str, Any]:
    return {"system": system, "concept": [{"code": c} for c in codes]}

"""FHIR ResearchStudy status and phase codes, and ClinicalTrials.gov's values for them.

The mCODE trial-matching services take ``recruitmentStatus`` and ``phase`` as FHIR
codes (``http://hl7.org/fhir/research-study-status``,
``http://terminology.hl7.org/CodeSystem/research-study-phase``: e.g. ``approved``,
``phase-1``), while ClinicalTrials.gov records carry ``overallStatus`` and
``phases`` (``NOT_YET_RECRUITING``, ``PHASE1``).  The correspondence is the one the
mCODE library ``clinical-trial-matching-service`` uses (``src/study-fhir-converter.ts``,
``CLINICAL_STATUS_MAP`` and ``PHASE_MAP``), so a filter means here what it means to
every other mCODE matching service.  A FHIR status with no ClinicalTrials.gov
counterpart (``disapproved``, the ``…-and-intervention`` ones) is valid and matches
no downloaded record.  Each filter also keeps studies that carry the FHIR code
itself.  Trials read from ResearchStudy resources (``service.fhir.research_study_in``)
carry the one ClinicalTrials.gov status its ``STATUS_TO_CTGOV`` gives, always one
that the filter for their FHIR code keeps (a test proves it for every code), so a
filter treats both sources alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from service.fhir.research_study_in import PHASE_SYSTEM, PHASE_TO_CTGOV

STATUS_SYSTEM: Final = "http://hl7.org/fhir/research-study-status"
CTGOV_SYSTEM: Final = "http://clinicaltrials.gov/"  # the mCODE library's identifier system

# FHIR R4 ResearchStudy.status (required binding) → ClinicalTrials.gov overallStatus.
STATUSES: Final[dict[str, frozenset[str]]] = {
    "active": frozenset({"RECRUITING", "ENROLLING_BY_INVITATION"}),
    "administratively-completed": frozenset({"TERMINATED"}),
    "approved": frozenset({"NOT_YET_RECRUITING"}),
    "closed-to-accrual": frozenset({"ACTIVE_NOT_RECRUITING", "NO_LONGER_AVAILABLE"}),
    "closed-to-accrual-and-intervention": frozenset(),
    "completed": frozenset({"COMPLETED", "AVAILABLE", "APPROVED_FOR_MARKETING"}),
    "disapproved": frozenset(),
    "in-review": frozenset({"WITHHELD", "UNKNOWN"}),
    "temporarily-closed-to-accrual": frozenset({"SUSPENDED", "TEMPORARILY_NOT_AVAILABLE"}),
    "temporarily-closed-to-accrual-and-intervention": frozenset(),
    "withdrawn": frozenset({"WITHDRAWN"}),
}

# FHIR research-study-phase → ClinicalTrials.gov phases (the ResearchStudy reader's
# table), with the FHIR display.
_PHASE_DISPLAY: Final = {
    "n-a": "N/A",
    "early-phase-1": "Early Phase 1",
    "phase-1": "Phase 1",
    "phase-1-phase-2": "Phase 1/Phase 2",
    "phase-2": "Phase 2",
    "phase-2-phase-3": "Phase 2/Phase 3",
    "phase-3": "Phase 3",
    "phase-4": "Phase 4",
}
PHASES: Final[dict[str, tuple[frozenset[str], str]]] = {
    code: (frozenset(values), _PHASE_DISPLAY[code]) for code, values in PHASE_TO_CTGOV.items()
}

_STATUS_OF: Final = {ctgov: code for code, values in STATUSES.items() for ctgov in values}
_PHASE_OF: Final = {values: code for code, (values, _) in PHASES.items()}


def ctgov_statuses(codes: Iterable[str]) -> frozenset[str]:
    """The ``overallStatus`` values (and the FHIR codes) a status filter keeps."""
    return frozenset(v for c in codes for v in (*STATUSES[c], c.upper()))


def ctgov_phases(codes: Iterable[str]) -> frozenset[str]:
    """The ``phases`` values (and the FHIR codes) a phase filter keeps."""
    return frozenset(v for c in codes for v in (*PHASES[c][0], c.upper()))


def fhir_status(overall_status: str | None) -> str:
    """The FHIR status of a study: its own FHIR code, else the mapped one.

    A missing or unknown status is ``in-review``, as the mCODE library maps
    ClinicalTrials.gov's ``UNKNOWN`` (``ResearchStudy.status`` is required).
    """
    value = overall_status or ""
    if value.lower() in STATUSES:
        return value.lower()
    return _STATUS_OF.get(value.upper(), "in-review")


def fhir_phase(phases: Iterable[str]) -> dict[str, object] | None:
    """The ``ResearchStudy.phase`` of a study's phases; None when they map to no code."""
    values = frozenset(p.upper() for p in phases)
    code = next((p.lower() for p in values if p.lower() in PHASES), None)
    if code is None:
        code = _PHASE_OF.get(values)
    if code is None:
        return None
    display = PHASES[code][1]
    return {"coding": [{"system": PHASE_SYSTEM, "code": code, "display": display}], "text": display}


__all__ = [
    "CTGOV_SYSTEM",
    "PHASES",
    "PHASE_SYSTEM",
    "STATUSES",
    "STATUS_SYSTEM",
    "ctgov_phases",
    "ctgov_statuses",
    "fhir_phase",
    "fhir_status",
]

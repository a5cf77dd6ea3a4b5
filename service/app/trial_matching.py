"""The command both trial endpoints call: one patient's derivation against every source.

``POST /getClinicalTrial`` derives the posted Bundle, ``Patient/{id}/$her2-trial-candidates``
the patient's inputs on the FHIR server; both then call :func:`match_patient`.  A patient
without a current HER2 result still gets an answer: no trial is then a candidate, every
trial with a HER2 criterion needs review (``service.trials.matching``), and an
informational issue says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.app.trial_candidates import current_her2
from service.app.trial_sources import TrialSource, all_studies
from service.fhir.issues import Issue, Severity
from service.fhir.outbound import Derived
from service.fhir.trial_request import TrialFilters
from service.trials.matching import TrialMatch, match_studies

NO_RESULT = Issue(
    Severity.INFORMATION,
    "informational",
    "No current HER2 result for a breast or gastroesophageal cancer: no trial is a "
    "candidate, and trials with a HER2 criterion need review.",
)


def others_results(derived: Iterable[Derived], patient: str | None) -> bool:
    """Whether a derived result names a subject other than ``patient`` (``Patient/[id]``).

    A posted Bundle is one patient's record (exactly one Patient): a result without a
    readable subject is that patient's, as mCODE Bundles are read (the mCODE app sends
    resources without ``subject``); a result naming another subject makes the Bundle no
    valid patient Bundle, since the service never guesses whose result it is.
    """
    return any(item.group.subject not in (None, patient) for item in derived)


@dataclass(frozen=True)
class PatientTrials:
    """The trials of one patient, and what the caller should know about them."""

    matches: list[TrialMatch]
    issues: list[Issue]


def match_patient(
    derived: Iterable[Derived], sources: Iterable[TrialSource], filters: TrialFilters
) -> PatientTrials:
    """Match the patient's current HER2 results against the studies of every source.

    Args:
        derived: the patient's derivation (``Derivation.derived``).
        sources: the configured trial sources.
        filters: recruitment status and phase (ClinicalTrials.gov values).
    """
    results = current_her2(derived)
    matches = match_studies(all_studies(sources), results, filters.statuses, filters.phases)
    return PatientTrials(matches, [] if results else [NO_RESULT])


__all__ = ["NO_RESULT", "PatientTrials", "match_patient", "others_results"]

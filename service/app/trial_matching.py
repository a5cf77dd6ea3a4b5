"""The command both trial endpoints call: one patient's derivation against every source.

``POST /getClinicalTrial`` derives the posted Bundle, ``Patient/{id}/$her2-trial-candidates``
the patient's inputs on the FHIR server; both then call :func:`match_patient`.  A patient
without a current HER2 result still gets an answer: no trial is then a candidate, every
trial with a HER2 criterion needs review (``service.trials.matching``), and an
informational issue says why.

Matching needs one result per site (:func:`current_her2`).  The current result of a
site is its most recent specimen's (by collection date).  An undated specimen may be
the newest one, so it is current alongside the most recent dated ones.  When the
current specimens disagree, the site's result is treated as not final (equivocal), so
every HER2 criterion for that site is left for review: the service never picks one of
two current results.  A preliminary interpretation (her2-rules.md section 11: e.g. an
input not yet final, a discordance to resolve) is not final either: it answers no HER2
criterion until it is.  Results whose site is unknown (section 7) are not used: a
trial is matched on its own site's result only.  When a source's read was incomplete
(studies skipped as invalid FHIR, or a bound stopped the read), a warning issue
(:data:`INCOMPLETE`) says that trials may be missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from service.app.trial_sources import TrialSource, read_all
from service.fhir.issues import Issue, Severity
from service.fhir.outbound import Derived
from service.fhir.trial_request import TrialFilters
from service.her2 import InterpretationStatus, Site, Status
from service.trials.matching import PatientHer2, TrialMatch, match_studies

NO_RESULT = Issue(
    Severity.INFORMATION,
    "informational",
    "No current HER2 result for a breast or gastroesophageal cancer: no trial is a "
    "candidate, and trials with a HER2 criterion need review.",
)

INCOMPLETE = Issue(
    Severity.WARNING,
    "incomplete",
    "Not every trial could be read: some studies on the FHIR server are not valid FHIR R4 "
    "or the read stopped at its bound, so trials may be missing from this list.",
)


def current_her2(derived: Iterable[Derived]) -> dict[Site, PatientHer2]:
    """The current HER2 result of each site that has one.

    Args:
        derived: the derivation's groups (``Derivation.derived``).
    """
    by_site: dict[Site, list[tuple[dt.date | None, PatientHer2]]] = {}
    for item in derived:
        result = item.result
        if result.site is None or result.site is Site.OTHER:
            continue
        if result.interpretation is InterpretationStatus.FINAL:
            patient = PatientHer2(result.site, result.status, result.her2_low, result.ultralow)
        else:
            patient = PatientHer2(result.site, Status.EQUIVOCAL)
        by_site.setdefault(result.site, []).append((item.group.spec.collected, patient))
    current: dict[Site, PatientHer2] = {}
    for site, entries in by_site.items():
        dated = [date for date, _ in entries if date is not None]
        newest = max(dated) if dated else None
        latest = {patient for date, patient in entries if date in (newest, None)}
        if len(latest) == 1:
            current[site] = latest.pop()
        else:
            current[site] = PatientHer2(site, Status.EQUIVOCAL)
    return current


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
    read = read_all(sources)
    matches = match_studies(read.studies, results, filters.statuses, filters.phases)
    issues = [] if results else [NO_RESULT]
    if read.skipped or read.truncated:
        issues.append(INCOMPLETE)
    return PatientTrials(matches, issues)


__all__ = [
    "INCOMPLETE",
    "NO_RESULT",
    "PatientTrials",
    "current_her2",
    "match_patient",
    "others_results",
]

"""A patient's current HER2 result per site, from the derivation, for trial matching.

Matching (``service.trials.matching``) needs one result per site.  The current
result of a site is its most recent specimen's (by collection date).  An undated
specimen may be the newest one, so it is current alongside the most recent dated
ones.  When the current specimens disagree, the site's result is treated as not
final (equivocal), so every HER2 criterion for that site is left for review: the
service never picks one of two current results.  A preliminary interpretation
(her2-rules.md section 11: e.g. an input not yet final, a discordance to resolve) is
not final either: it answers no HER2 criterion until it is.  Results whose site is
unknown (her2-rules.md section 7) are not used: a trial is matched on its own site's
result only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

from service.fhir.outbound import Derived
from service.her2 import InterpretationStatus, Site, Status
from service.trials.matching import PatientHer2, TrialMatch, match_studies
from service.trials.model import Study


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


def trial_candidates(
    derived: Iterable[Derived],
    studies: Iterable[Study],
    statuses: Collection[str] | None = None,
    phases: Collection[str] | None = None,
) -> list[TrialMatch]:
    """The command the trial-matching entry points share: derive once, match every study.

    Args:
        derived: the patient's derivation (``Derivation.derived``).
        studies: the trials to consider.
        statuses: ``overallStatus`` values to keep (None: all).
        phases: phase values to keep (None: all).
    """
    return match_studies(studies, current_her2(derived), statuses, phases)


def match_summary(match: TrialMatch) -> dict[str, Any]:
    """A plain JSON-ready summary of one trial's outcome (no patient data in it)."""
    return {
        "study": match.study.study_id,
        "title": match.study.title,
        "outcome": match.outcome.value,
        "site": match.site.value if match.site else None,
        "findings": [
            {
                "outcome": f.outcome.value,
                "reason": f.reason,
                "kind": f.criterion.kind.value if f.criterion else None,
                "section": f.criterion.section.value if f.criterion else None,
                "sentence": f.criterion.sentence if f.criterion else None,
            }
            for f in match.findings
        ],
    }


__all__ = ["current_her2", "match_summary", "trial_candidates"]

"""A patient's current HER2 result per site, from the derivation, for trial matching.

Matching (``service.trials.matching``) needs one result per site.  The current
result of a site is its most recent specimen's (by collection date; undated
specimens count as older than dated ones).  When several specimens share the most
recent date and disagree, the site's result is treated as not final (equivocal),
so every HER2 criterion for that site is left for review: the service never picks
one of two current results.  Results whose site is unknown (her2-rules.md
section 7) are not used: a trial is matched on its own site's result only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from service.fhir.outbound import Derived
from service.her2 import Site, Status
from service.trials.matching import PatientHer2


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
        patient = PatientHer2(result.site, result.status, result.her2_low, result.ultralow)
        by_site.setdefault(result.site, []).append((item.group.spec.collected, patient))
    current: dict[Site, PatientHer2] = {}
    for site, entries in by_site.items():
        dated = [date for date, _ in entries if date is not None]
        newest = max(dated) if dated else None
        latest = {patient for date, patient in entries if date == newest}
        if len(latest) == 1:
            current[site] = latest.pop()
        else:
            current[site] = PatientHer2(site, Status.EQUIVOCAL)
    return current


__all__ = ["current_her2"]

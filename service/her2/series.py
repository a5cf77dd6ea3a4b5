"""Several specimens of one patient (her2-rules.md section 10).

Each specimen is validated and evaluated exactly once; only the most recent
one's heterogeneity check looks at the others' results.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.her2.engine import draft_for
from service.her2.model import Her2Result, PriorResult, SpecimenInput
from service.her2.priority import finish
from service.her2.ruleset import RuleSet
from service.her2.ruleset_load import default_ruleset


def evaluate_series(
    specimens: Sequence[SpecimenInput], ruleset: RuleSet | None = None
) -> list[Her2Result]:
    """Derive several specimens of one patient (her2-rules.md section 10).

    Each specimen is evaluated on its own; a prior result never overrides a
    current one.  The most recent specimen(s) (by ``collected``; undated ones
    count as older than dated ones, and when none is dated all are compared)
    are compared with every other one and flagged
    ``clinician_review_heterogeneity`` when they differ.

    Args:
        specimens: the specimens, in any order.
        ruleset: the rule set to apply (default: the service's current one).

    Returns:
        One result per specimen, in the order given.
    """
    rules = ruleset or default_ruleset()
    drafts = [draft_for(s, rules) for s in specimens]
    alone = [finish(d.copy(), ()) for d in drafts]
    if len(specimens) < 2:
        return alone
    dates = [s.collected if isinstance(s, SpecimenInput) else None for s in specimens]
    known = [d for d in dates if d is not None]
    latest = max(known) if known else None
    results = list(alone)
    for index, spec in enumerate(specimens):
        if not isinstance(spec, SpecimenInput) or drafts[index].error is not None:
            continue
        if latest is not None and dates[index] != latest:
            continue
        others = tuple(
            PriorResult(
                status=other.status,
                her2_low=other.her2_low,
                ultralow=other.ultralow,
                date=None if when is None else when.isoformat(),
            )
            for j, (other, when) in enumerate(zip(alone, dates, strict=True))
            if j != index and other.error is None
        )
        results[index] = finish(drafts[index], spec.prior_results + others)
    return results


__all__ = ["evaluate_series"]

"""Assembling a result: next-step priority, heterogeneity, interpretation status.

her2-rules.md sections 8 (priority), 10 (several specimens) and 11 (final or
preliminary).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.her2.draft import Draft
from service.her2.model import (
    Her2Result,
    IhcScore,
    InterpretationStatus,
    Invalid,
    NextStep,
    PriorResult,
    Site,
    Status,
)
from service.her2.ruleset import RuleSet


def ordered(steps: Sequence[NextStep], ruleset: RuleSet) -> list[NextStep]:
    """Distinct next steps, highest priority first (her2-rules.md section 8)."""
    return sorted(set(steps), key=ruleset.next_step_rank.__getitem__)


def is_final(draft: Draft, steps: Sequence[NextStep]) -> bool:
    """her2-rules.md section 11."""
    return (
        draft.status in draft.ruleset.final_statuses
        and all(step in draft.ruleset.final_compatible_steps for step in steps)
        and draft.inputs_final
    )


def _class_of(
    status: Status, her2_low: bool | None, ultralow: bool | None, ihc_score: IhcScore | None
) -> str | None:
    """HER2-low / ultralow / null class of a breast negative, or None when unknown."""
    if status is not Status.NEGATIVE:
        return None
    if her2_low is True:
        return "HER2-low"
    if ultralow is True:
        return "HER2-ultralow"
    if her2_low is False and ultralow is False:
        return "HER2-0"
    return {
        "1+": "HER2-low",
        "2+": "HER2-low",
        "0-ultralow": "HER2-ultralow",
        "0": "HER2-0",
    }.get(ihc_score.value if ihc_score else "")


def heterogeneity(draft: Draft, priors: Sequence[PriorResult]) -> None:
    """her2-rules.md section 10: flag a final result that differs from an earlier one."""
    # Only resolved results are compared: a failed assay or a pending equivocal is
    # not a biological difference between specimens (project choice, README).
    resolved = (Status.POSITIVE, Status.NEGATIVE)
    if draft.status not in resolved:
        return
    if not is_final(draft, draft.steps):
        return
    mine = _class_of(draft.status, draft.her2_low, draft.ultralow, None)
    for prior in priors:
        prior_status = prior.status
        if prior_status is None or isinstance(prior_status, Invalid):
            draft.note("H0", "An earlier result has no valid status; it is ignored.")
            continue
        if prior_status not in resolved:
            continue
        when = f" of {prior.date}" if prior.date else ""
        if prior_status is not draft.status:
            difference = f"was {prior_status.value}, this specimen is {draft.status.value}"
        else:
            theirs = _class_of(prior_status, prior.her2_low, prior.ultralow, prior.ihc_score)
            if draft.site is not Site.BREAST or None in (mine, theirs) or mine == theirs:
                continue
            difference = f"was {theirs}, this specimen is {mine}"
        draft.steps.append(NextStep.CLINICIAN_REVIEW_HETEROGENEITY)
        draft.note(
            "H1",
            f"her2-rules.md section 10: an earlier specimen's result{when} {difference}. "
            "Each specimen is reported on its own (no guideline says which governs): "
            "clinician review of heterogeneity.",
        )
        return


def finish(draft: Draft, priors: Sequence[PriorResult]) -> Her2Result:
    """Turn a draft into the result: heterogeneity, priority, interpretation status."""
    if draft.error is None:
        heterogeneity(draft, priors)
    steps = ordered(draft.steps, draft.ruleset)
    final = is_final(draft, steps)
    interpretation = InterpretationStatus.FINAL if final else InterpretationStatus.PRELIMINARY
    reasons = []
    if draft.status not in draft.ruleset.final_statuses:
        reasons.append(f"the status is {draft.status.value}")
    reasons += [
        f"{s.value} is pending" for s in steps if s not in draft.ruleset.final_compatible_steps
    ]
    if not draft.inputs_final:
        reasons.append("an input is not final")
    draft.note(
        "S11",
        "her2-rules.md section 11: interpretation "
        + ("final." if final else "preliminary (" + "; ".join(reasons) + ")."),
    )
    return Her2Result(
        status=draft.status,
        her2_low=draft.her2_low,
        ultralow=draft.ultralow,
        ish_group=draft.ish_group,
        next_step=steps[0] if steps else None,
        error=draft.error,
        interpretation=interpretation,
        ruleset=draft.ruleset,
        rationale=tuple(draft.rationale),
        site=draft.site,
        error_location=draft.error_location,
        additional_steps=tuple(steps[1:]),
        required_comment=draft.required_comment,
        unusable_inputs=tuple(draft.unusable_inputs),
    )


__all__ = ["finish", "heterogeneity", "is_final", "ordered"]

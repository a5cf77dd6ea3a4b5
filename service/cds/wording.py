"""The words of the cards: statuses, categories and next steps in plain language.

Every sentence is the project's own; none quotes a value of the request.  Nothing
here recommends a treatment: therapy sentences say what an agent's FDA label covers
(the therapy catalog's words), never what to give.
"""

from __future__ import annotations

import re
from typing import Final

from service.her2 import Her2Result, NextStep, Site, Status

STEP_TEXT: Final[dict[NextStep, str]] = {
    NextStep.ORDER_REFLEX_ISH: "reflex ISH on the same specimen is pending (IHC 2+)",
    NextStep.CONCURRENT_IHC_REVIEW: "review of the concurrent IHC on the ISH tissue is pending",
    NextStep.ISH_RECOUNT_BLINDED_OBSERVER: "a blinded second-observer ISH recount is pending",
    NextStep.INTERNAL_ADJUDICATION: "the recount changed the ISH group: the laboratory's "
    "internal adjudication is pending",
    NextStep.NEGATIVE_WITH_REQUIRED_COMMENT: "the guideline's required report comment applies",
    NextStep.ORDER_DUAL_PROBE_ISH: "dual-probe ISH is pending",
    NextStep.ORDER_IHC_AND_OR_DUAL_PROBE_ISH: "IHC and/or dual-probe ISH is pending",
    NextStep.CONCURRENT_IHC_REVIEW_RECOMMENDED: "a concurrent IHC review is recommended",
    NextStep.ORDER_IHC: "an IHC result is needed (HER2-low/ultralow class or site algorithm)",
    NextStep.PATHOLOGIST_REVIEW_DISCORDANCE: "IHC and ISH disagree: pathologist review is flagged",
    NextStep.PATHOLOGIST_REVIEW: "the rules cannot decide: pathologist review is flagged",
    NextStep.CLINICIAN_REVIEW_HETEROGENEITY: "an earlier specimen's result differs: "
    "clinician review of heterogeneity is flagged",
    NextStep.REPEAT_TEST_NEW_SPECIMEN: "the assay failed: repeat testing on another specimen",
    NextStep.OBTAIN_HER2_TESTING: "no HER2 IHC or ISH result: HER2 testing is needed",
    NextStep.CORRECT_INPUT: "the reported input needs correction",
    NextStep.COUNT_ADDITIONAL_CELLS: "fewer than 20 cells counted: more cells must be counted",
    NextStep.NO_SITE_SPECIFIC_GUIDELINE: "no site-specific guideline: only IHC 3+ is "
    "interpretable at this site",
    NextStep.SPECIFY_TUMOR_SITE: "the tumour site is unknown: specify it",
}

SHORT_STEP: Final[dict[NextStep, str]] = {
    NextStep.ORDER_REFLEX_ISH: "reflex ISH pending",
    NextStep.CONCURRENT_IHC_REVIEW: "concurrent IHC review pending",
    NextStep.ISH_RECOUNT_BLINDED_OBSERVER: "blinded ISH recount pending",
    NextStep.INTERNAL_ADJUDICATION: "internal adjudication pending",
    NextStep.NEGATIVE_WITH_REQUIRED_COMMENT: "required comment applies",
    NextStep.ORDER_DUAL_PROBE_ISH: "dual-probe ISH pending",
    NextStep.ORDER_IHC_AND_OR_DUAL_PROBE_ISH: "IHC and/or dual-probe ISH pending",
    NextStep.CONCURRENT_IHC_REVIEW_RECOMMENDED: "IHC review recommended",
    NextStep.ORDER_IHC: "IHC needed",
    NextStep.PATHOLOGIST_REVIEW_DISCORDANCE: "discordance: pathologist review",
    NextStep.PATHOLOGIST_REVIEW: "pathologist review",
    NextStep.CLINICIAN_REVIEW_HETEROGENEITY: "heterogeneity: clinician review",
    NextStep.REPEAT_TEST_NEW_SPECIMEN: "repeat on a new specimen",
    NextStep.OBTAIN_HER2_TESTING: "HER2 testing needed",
    NextStep.CORRECT_INPUT: "input needs correction",
    NextStep.COUNT_ADDITIONAL_CELLS: "count more cells",
    NextStep.NO_SITE_SPECIFIC_GUIDELINE: "no site-specific guideline",
    NextStep.SPECIFY_TUMOR_SITE: "specify the tumour site",
}

# Steps that leave nothing pending and flag nothing: the card stays "info".
QUIET_STEPS: Final = frozenset({NextStep.NEGATIVE_WITH_REQUIRED_COMMENT})
DISCORDANCE: Final = NextStep.PATHOLOGIST_REVIEW_DISCORDANCE
HETEROGENEITY: Final = NextStep.CLINICIAN_REVIEW_HETEROGENEITY

SITE_TEXT: Final[dict[Site | None, str]] = {
    Site.BREAST: "breast",
    Site.GASTROESOPHAGEAL: "gastroesophageal",
    Site.OTHER: "other site",
    None: "site unknown",
}

CATEGORY_TEXT: Final[dict[str, str]] = {
    "breast/positive": "HER2-positive breast cancer",
    "breast/her2-low": "HER2-low (HER2-negative) breast cancer",
    "breast/her2-ultralow": "HER2-ultralow (HER2-negative) breast cancer",
    "breast/her2-0": "HER2-0 (null, HER2-negative) breast cancer without ultralow staining",
    "breast/negative-ihc0-unclassified": "HER2-negative breast cancer with IHC 0 not assessed "
    "for ultralow staining",
    "breast/negative-unclassified": "HER2-negative breast cancer without a HER2-low/0 class",
    "gastroesophageal/positive": "HER2-positive gastroesophageal cancer",
    "gastroesophageal/negative": "HER2-negative gastroesophageal cancer",
    "other/ihc-3+": "a solid tumour (other site) with HER2 IHC 3+",
    "site-unknown": "a HER2 result whose tumour site is unknown",
    "unresolved": "an unresolved (equivocal or indeterminate) HER2 status",
}

_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def steps_of(result: Her2Result) -> tuple[NextStep, ...]:
    """The pending step first, then the lower-priority ones that also apply."""
    first = (result.next_step,) if result.next_step is not None else ()
    return first + tuple(s for s in result.additional_steps if s is not result.next_step)


def needs_attention(result: Her2Result) -> bool:
    """Whether a workup step is pending or a review is flagged (the card is a warning)."""
    if result.status in (Status.EQUIVOCAL, Status.INDETERMINATE):
        return True
    return any(step not in QUIET_STEPS for step in steps_of(result))


def status_phrase(result: Her2Result) -> str:
    """The status in words: ``HER2-positive``, ``HER2-negative, HER2-low``, ``HER2 equivocal``."""
    if result.status is Status.POSITIVE:
        return "HER2-positive"
    if result.status is Status.NEGATIVE:
        if result.her2_low is True:
            return "HER2-negative, HER2-low"
        if result.ultralow is True:
            return "HER2-negative, HER2-ultralow"
        if result.her2_low is False and result.ultralow is False:
            return "HER2-negative, HER2-0"
        return "HER2-negative"
    return f"HER2 {result.status.value}"


def safe_date(text: str | None) -> str | None:
    """The date part of an ISO date(time) from the data, or None when it is not one.

    Card text is Markdown: nothing from the request that is not a plain date may
    reach it.
    """
    if text is None:
        return None
    head = text[:10]
    return head if _DATE.fullmatch(head) else None


def clip(text: str, limit: int = 139) -> str:
    """``text`` within the card summary's limit (< 140 characters)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__ = [
    "CATEGORY_TEXT",
    "DISCORDANCE",
    "HETEROGENEITY",
    "SHORT_STEP",
    "SITE_TEXT",
    "STEP_TEXT",
    "clip",
    "needs_attention",
    "safe_date",
    "status_phrase",
    "steps_of",
]

"""The guide's CodeSystems, built from the rules' enums and the therapy catalog.

Generated into ``fhir_profiles/`` only; the running service emits these codes but never
serves the CodeSystems, so this module is not part of the installed package.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, TypeVar

from service.fhir.codes import (
    CANONICAL,
    CS_COMPONENT,
    CS_IHC_SCORE,
    CS_INPUT_ERROR,
    CS_ISH_ASSAY,
    CS_LIST_PURPOSE,
    CS_NEXT_STEP,
    CS_RULE_SET,
    CS_STATUS,
    CS_THERAPY_CLASS,
)
from service.fhir.conformance.header import IG_VERSION, conformance_header
from service.fhir.mcode_marker import CATEGORY_DISPLAY, CS_CATEGORY, Category
from service.her2 import ErrorCode, NextStep, Status, default_ruleset, load_catalog

CS_ISH_COUNT_ROLE: Final = f"{CANONICAL}/CodeSystem/her2-ish-count-role"

_STEP_DEFINITIONS: Final[dict[NextStep, str]] = {
    NextStep.ORDER_REFLEX_ISH: "Order reflex ISH on the same specimen (IHC 2+).",
    NextStep.CONCURRENT_IHC_REVIEW: "Review concurrent IHC on the ISH tissue before a final "
    "call (breast ISH groups 2-4).",
    NextStep.ISH_RECOUNT_BLINDED_OBSERVER: "A second observer, blinded to the first count, "
    "recounts at least 20 cells (breast groups 2-4 with IHC 2+).",
    NextStep.INTERNAL_ADJUDICATION: "The recount changed the ISH group: resolve by the "
    "laboratory's internal adjudication.",
    NextStep.NEGATIVE_WITH_REQUIRED_COMMENT: "Negative; the guideline's mandatory report "
    "comment applies (breast groups 2-4).",
    NextStep.ORDER_DUAL_PROBE_ISH: "Order dual-probe ISH (single-probe 4.0-<6.0 with IHC 2+).",
    NextStep.ORDER_IHC_AND_OR_DUAL_PROBE_ISH: "Order IHC and/or dual-probe ISH "
    "(single-probe 4.0-<6.0 without IHC).",
    NextStep.CONCURRENT_IHC_REVIEW_RECOMMENDED: "Concurrent IHC review recommended "
    "(single-probe positive without IHC).",
    NextStep.ORDER_IHC: "Order IHC (needed for the HER2-low/ultralow class, or the "
    "gastroesophageal IHC-first algorithm).",
    NextStep.PATHOLOGIST_REVIEW_DISCORDANCE: "IHC and ISH (or a lab call) disagree: "
    "pathologist review; the interpretation is preliminary.",
    NextStep.PATHOLOGIST_REVIEW: "The rules cannot decide (e.g. gastroesophageal ratio < 2.0 "
    "with >= 6.0 copies): pathologist review.",
    NextStep.CLINICIAN_REVIEW_HETEROGENEITY: "An earlier specimen's result differs: clinician "
    "review of heterogeneity (no rule says which governs).",
    NextStep.REPEAT_TEST_NEW_SPECIMEN: "The assay failed technically: repeat on another specimen.",
    NextStep.OBTAIN_HER2_TESTING: "No HER2 IHC or ISH result: obtain HER2 testing.",
    NextStep.CORRECT_INPUT: "The input is invalid, incomplete or inconsistent: correct it.",
    NextStep.COUNT_ADDITIONAL_CELLS: "Fewer than 20 cells counted: count additional cells.",
    NextStep.NO_SITE_SPECIFIC_GUIDELINE: "No site-specific guideline: only IHC 3+ is "
    "interpretable at this site.",
    NextStep.SPECIFY_TUMOR_SITE: "The site is unknown and the breast and gastroesophageal "
    "rules differ: specify the tumour site.",
}
# The sub-classes of a negative result carried beside it in the mCODE tumour-marker
# export (service/fhir/mcode_marker.py); FDA label terms, not ASCO/CAP categories.
_CATEGORY_DEFINITIONS: Final[dict[Category, str]] = {
    Category.LOW: "A negative breast HER2 result with IHC 1+, or IHC 2+ whose ISH the "
    "guideline reads as negative (DESTINY-Breast04; FDA label 2022-08-05). A sub-class of "
    "HER2-negative, never a HER2 status of its own.",
    Category.ULTRALOW: "A negative breast HER2 result with IHC 0 showing faint, incomplete "
    "membrane staining in more than 0 % and at most 10 % of tumour cells "
    "(DESTINY-Breast06; FDA label 2025-01-27). A sub-class of HER2-negative.",
    Category.NULL: "A negative breast HER2 result with IHC 0 assessed as showing no "
    "membrane staining: neither HER2-low nor HER2-ultralow.",
    Category.ZERO_NOT_SUBCLASSIFIED: "A negative breast HER2 result with IHC 0 whose "
    "null-versus-ultralow pattern was not assessed: not HER2-low; HER2-ultralow unknown.",
}
_ERROR_DEFINITIONS: Final[dict[ErrorCode, str]] = {
    ErrorCode.MISSING_DATA: "Neither an IHC nor an ISH result.",
    ErrorCode.INVALID_VOCABULARY: "A value outside its vocabulary.",
    ErrorCode.INVALID_TYPE: "A value of the wrong type, or an unreadable HER2 entry.",
    ErrorCode.INVALID_VALUE: "An impossible value (negative, zero, single-probe with a ratio).",
    ErrorCode.INCOMPLETE_ISH: "An ISH result without the values the rules need.",
    ErrorCode.INCONSISTENT_ISH_VALUES: "Reported ratio and averages differ by more than 5 %.",
    ErrorCode.INSUFFICIENT_CELLS: "Fewer than 20 cells counted.",
}


def _concept(code: str, display: str, definition: str | None = None) -> dict[str, str]:
    concept = {"code": code, "display": display}
    if definition:
        concept["definition"] = definition
    return concept


_Member = TypeVar("_Member", bound=StrEnum)


def _enum_concepts(definitions: Mapping[_Member, str]) -> list[dict[str, str]]:
    """Concepts for every member of a rules enum, with its definition."""
    return [_concept(m.value, m.value.replace("_", " "), d) for m, d in definitions.items()]


def _code_system(
    url: str,
    title: str,
    description: str,
    concepts: list[dict[str, str]],
    version: str = IG_VERSION,
) -> dict[str, Any]:
    name = url.rsplit("/", 1)[-1]
    return {
        **conformance_header("CodeSystem", name, title, description, version=version),
        "caseSensitive": True,
        "valueSet": f"{CANONICAL}/ValueSet/{name}",
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def code_systems() -> list[dict[str, Any]]:
    """The project's CodeSystems."""
    catalog = load_catalog()
    ruleset = default_ruleset()
    return [
        _code_system(
            CS_STATUS,
            "HER2 status",
            "The HER2 status derived by the service (ASCO/CAP, CAP/ASCP/ASCO).",
            [
                _concept(Status.POSITIVE, "Positive", "HER2-positive."),
                _concept(Status.NEGATIVE, "Negative", "HER2-negative."),
                _concept(Status.EQUIVOCAL, "Equivocal", "Not final: a further step is required."),
                _concept(
                    Status.INDETERMINATE, "Indeterminate", "Technical failure or invalid input."
                ),
            ],
        ),
        _code_system(
            CS_COMPONENT,
            "HER2 status components",
            "Components of the HER2 status Observation.",
            [
                _concept(
                    "her2-low", "HER2-low", "Breast negative with IHC 1+ or 2+ (FDA label term)."
                ),
                _concept(
                    "her2-ultralow",
                    "HER2-ultralow",
                    "Breast negative with IHC 0 and faint "
                    "incomplete staining in > 0 % and <= 10 % of cells (FDA label term).",
                ),
                _concept("ish-group", "ISH group", "ASCO/CAP 2018 dual-probe group 1-5 (breast)."),
                _concept("next-step", "Next step", "The follow-up the guideline requires."),
            ],
        ),
        _code_system(
            CS_CATEGORY,
            "HER2 category of a negative result",
            "HER2-low, HER2-ultralow and HER2-null: sub-classes of a negative HER2 result, "
            "carried as extra codings beside SNOMED CT Negative in the mCODE tumour-marker "
            "export. Never stated for a positive, equivocal or indeterminate result, or when "
            "the class is unknown.",
            [_concept(c.value, CATEGORY_DISPLAY[c], d) for c, d in _CATEGORY_DEFINITIONS.items()],
        ),
        _code_system(
            CS_NEXT_STEP,
            "HER2 next step",
            "Follow-up steps, in priority order: input, workup, review, comment, heterogeneity.",
            _enum_concepts(_STEP_DEFINITIONS),
        ),
        _code_system(
            CS_INPUT_ERROR,
            "HER2 input error",
            "Why a specimen's HER2 status could not be derived from its input.",
            _enum_concepts(_ERROR_DEFINITIONS),
        ),
        _code_system(
            CS_IHC_SCORE,
            "HER2 IHC 0 sub-score",
            "The null/ultralow split of IHC 0, carried beside LOINC LA6111-4.",
            [
                _concept("0-null", "IHC 0, no membrane staining (assessed)"),
                _concept(
                    "0-ultralow",
                    "IHC 0 with faint incomplete staining in > 0 % and <= 10 % of tumour cells",
                ),
            ],
        ),
        _code_system(
            CS_ISH_ASSAY,
            "HER2 ISH assay",
            "ISH probe design.",
            [
                _concept("dual-probe", "Dual-probe ISH (HER2 and CEP17)"),
                _concept("single-probe", "Single-probe ISH (HER2 only)"),
            ],
        ),
        _code_system(
            CS_ISH_COUNT_ROLE,
            "HER2 ISH count role",
            "Whether an ISH count is the initial count or the blinded second-observer recount.",
            [
                _concept("initial", "Initial count"),
                _concept("blinded-recount", "Blinded second-observer recount"),
            ],
        ),
        _code_system(
            CS_THERAPY_CLASS,
            "HER2-directed therapy class",
            "Classes of HER2-directed agents (ATC puts antibodies and ADCs in one group).",
            [_concept(c.code, c.display) for c in catalog.classes.values()],
        ),
        _code_system(
            CS_LIST_PURPOSE,
            "HER2 list purpose",
            "What a List written by the service is.",
            [
                _concept(
                    "her2-therapy-reference",
                    "HER2-directed therapy reference",
                    "Agents whose FDA label covers the HER2 category and site; reference "
                    "information, not a treatment recommendation.",
                )
            ],
        ),
        _code_system(
            CS_RULE_SET,
            "HER2 rule set",
            "The rule sets of the service; Coding.version carries the version.",
            [_concept(ruleset.id, "her2-status HER2 rule set", "; ".join(ruleset.guidelines))],
            # The outputs cite the rule set with Coding.version = the rule set's version; the
            # CodeSystem must publish that same version, not the guide's.
            version=ruleset.version,
        ),
    ]

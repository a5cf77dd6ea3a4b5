"""Domain types of the HER2 rules engine (her2-rules.md sections 1, 2, 8, 9 and 11).

Inputs are typed: readers convert reported values once, at the boundary
(``service.her2.inputs``), into enums, ``Decimal``, ``int``, ``bool``, a
``Bound`` for a legacy bounded ratio, or an :class:`Invalid` marker that the
rules report as an input error.  Outputs are strict too: enums, ``bool | None``
for true/false/unknown, ``Decimal`` numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from service.her2.numbers import Bound

if TYPE_CHECKING:
    from service.her2.ruleset import RuleSet


class Site(StrEnum):
    """Tumour site that selects the rule set (her2-rules.md section 1)."""

    BREAST = "breast"
    GASTROESOPHAGEAL = "gastroesophageal"
    OTHER = "other"


class Status(StrEnum):
    """HER2 status (her2-rules.md section 2)."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    EQUIVOCAL = "equivocal"
    INDETERMINATE = "indeterminate"


class IhcScore(StrEnum):
    """IHC scores accepted by the engine; ``0`` is IHC 0 assessed as null."""

    ZERO = "0"
    ZERO_ULTRALOW = "0-ultralow"
    ONE = "1+"
    TWO = "2+"
    THREE = "3+"


class IhcCall(StrEnum):
    """Qualitative-only IHC result without a score (her2-rules.md section 5.3)."""

    POSITIVE = "positive"
    EQUIVOCAL = "equivocal"
    NEGATIVE = "negative"


class IshCall(StrEnum):
    """The lab's qualitative ISH call (her2-rules.md section 5.3)."""

    AMPLIFIED = "amplified"
    NOT_AMPLIFIED = "not-amplified"
    EQUIVOCAL = "equivocal"


class Probe(StrEnum):
    """ISH probe design."""

    DUAL = "dual"
    SINGLE = "single"


class NextStep(StrEnum):
    """Follow-up codes (her2-rules.md section 8)."""

    ORDER_REFLEX_ISH = "order_reflex_ish"
    CONCURRENT_IHC_REVIEW = "concurrent_ihc_review"
    ISH_RECOUNT_BLINDED_OBSERVER = "ish_recount_blinded_observer"
    INTERNAL_ADJUDICATION = "internal_adjudication"
    NEGATIVE_WITH_REQUIRED_COMMENT = "negative_with_required_comment"
    ORDER_DUAL_PROBE_ISH = "order_dual_probe_ish"
    ORDER_IHC_AND_OR_DUAL_PROBE_ISH = "order_ihc_and_or_dual_probe_ish"
    CONCURRENT_IHC_REVIEW_RECOMMENDED = "concurrent_ihc_review_recommended"
    ORDER_IHC = "order_ihc"
    PATHOLOGIST_REVIEW_DISCORDANCE = "pathologist_review_discordance"
    PATHOLOGIST_REVIEW = "pathologist_review"
    CLINICIAN_REVIEW_HETEROGENEITY = "clinician_review_heterogeneity"
    REPEAT_TEST_NEW_SPECIMEN = "repeat_test_new_specimen"
    OBTAIN_HER2_TESTING = "obtain_her2_testing"
    CORRECT_INPUT = "correct_input"
    COUNT_ADDITIONAL_CELLS = "count_additional_cells"
    NO_SITE_SPECIFIC_GUIDELINE = "no_site_specific_guideline"
    SPECIFY_TUMOR_SITE = "specify_tumor_site"


class ErrorCode(StrEnum):
    """Input error codes (her2-rules.md section 9)."""

    MISSING_DATA = "missing_data"
    INVALID_VOCABULARY = "invalid_vocabulary"
    INVALID_TYPE = "invalid_type"
    INVALID_VALUE = "invalid_value"
    INCOMPLETE_ISH = "incomplete_ish"
    INCONSISTENT_ISH_VALUES = "inconsistent_ish_values"
    INSUFFICIENT_CELLS = "insufficient_cells"


class InterpretationStatus(StrEnum):
    """Whether the interpretation is final or preliminary (her2-rules.md section 11)."""

    FINAL = "final"
    PRELIMINARY = "preliminary"


@dataclass(frozen=True)
class Invalid:
    """A reported value that could not be read as its field's type.

    Readers put it where the value was, so that the rules report it in the order
    of her2-rules.md section 3 (first hit wins) with its location.  ``detail``
    says what is wrong in words that never quote the value.

    Attributes:
        error: ``invalid_type``, ``invalid_vocabulary`` or ``invalid_value``.
        detail: e.g. ``"not a number"``.
    """

    error: ErrorCode
    detail: str


@dataclass(frozen=True)
class IshInput:
    """One ISH count as reported (her2-rules.md section 1, ``ish`` / ``ish_recount``).

    Build it from reported values with :func:`service.her2.inputs.ish_from`.

    Attributes:
        probe: dual or single; when absent, dual if a ratio or a CEP17 average is
            present, otherwise single (fhir-contract.md section 1).
        her2_cep17_ratio: the reported ratio, or a legacy bounded text read as a
            :class:`~service.her2.numbers.Bound` (her2-rules.md section 5.3).
        avg_her2_copies: average HER2 signals per cell.
        avg_cep17_copies: average CEP17 signals per cell (dual-probe only).
        cells_counted: number of cells counted.
        lab_call: the lab's qualitative call.
        final: False when the source result is not final/amended/corrected.
    """

    probe: Probe | Invalid | None = None
    her2_cep17_ratio: Decimal | Bound | Invalid | None = None
    avg_her2_copies: Decimal | Invalid | None = None
    avg_cep17_copies: Decimal | Invalid | None = None
    cells_counted: int | Invalid | None = None
    lab_call: IshCall | Invalid | None = None
    final: bool | Invalid = True


@dataclass(frozen=True)
class PriorResult:
    """An earlier specimen's result, used only for the heterogeneity flag (section 10).

    Attributes:
        status: that specimen's HER2 status (Invalid: it is ignored).
        her2_low: its HER2-low class when known.
        ultralow: its HER2-ultralow class when known.
        ihc_score: its IHC score, used for the class when the flags are absent.
        date: collection or report date (ISO text), for the rationale only.
        specimen: a non-identifying label (e.g. ``core_biopsy_primary``).
    """

    status: Status | Invalid | None = None
    her2_low: bool | None = None
    ultralow: bool | None = None
    ihc_score: IhcScore | None = None
    date: str | None = None
    specimen: str | None = None


@dataclass(frozen=True)
class SpecimenInput:
    """Everything known about one specimen (her2-rules.md section 1).

    Build it from reported values with :func:`service.her2.inputs.specimen_from`.

    Attributes:
        site: breast, gastroesophageal, other, or None when unknown.
        ihc_score: the IHC score, or None.
        ihc0_ultralow_assessed: False for an IHC 0 that did not separate null from
            ultralow.
        ihc_call: a qualitative-only IHC result when no score was reported; an
            Invalid answer makes the IHC unusable (treated as absent, with a note).
        ihc_final: False when the IHC result is not final/amended/corrected.
        ish: the ISH count, if any.
        ish_recount: the blinded second-observer recount, if any.
        ihc_same_specimen: False when the IHC was not done on the ISH tissue.
        assay_failed: True when the lab reported a technical failure.
        collected: date of the specimen, used to order several specimens.
        prior_results: earlier specimens' results (section 10).
    """

    site: Site | Invalid | None = None
    ihc_score: IhcScore | Invalid | None = None
    ihc0_ultralow_assessed: bool | Invalid = True
    ihc_call: IhcCall | Invalid | None = None
    ihc_final: bool | Invalid = True
    ish: IshInput | Invalid | None = None
    ish_recount: IshInput | Invalid | None = None
    ihc_same_specimen: bool | Invalid = True
    assay_failed: bool | Invalid = False
    collected: dt.date | None = None
    prior_results: tuple[PriorResult, ...] = ()


@dataclass(frozen=True)
class RationaleEntry:
    """One rule that fired, with a plain-language sentence quoting the numbers used."""

    rule_id: str
    text: str


@dataclass(frozen=True)
class Her2Result:
    """The derived HER2 status of one specimen (her2-rules.md section 2).

    Attributes:
        status: positive, negative, equivocal or indeterminate.
        her2_low: True, False, or None (unknown).
        ultralow: True, False, or None (unknown).
        ish_group: breast dual-probe group 1-5, or None.
        next_step: the highest-priority follow-up (section 8), or None.
        error: the input error (section 9), or None.
        interpretation: final or preliminary (section 11).
        ruleset: the rule set and version that produced the result.
        rationale: the rules that fired, in order.
        site: the site whose rules were applied (None when the site was unknown).
        error_location: dotted path of the offending input field, with ``error``.
        additional_steps: lower-priority follow-ups that also apply, in priority
            order (e.g. a discordance flag behind a pending recount).
        required_comment: the guideline's mandatory report comment, if any.
        unusable_inputs: inputs that were present but carried nothing usable and
            were set aside because the other modality fixes the status whatever
            they could say (her2-rules.md section 3 item 7), e.g. ``("ish",)``.
    """

    status: Status
    her2_low: bool | None
    ultralow: bool | None
    ish_group: int | None
    next_step: NextStep | None
    error: ErrorCode | None
    interpretation: InterpretationStatus
    ruleset: RuleSet
    rationale: tuple[RationaleEntry, ...]
    site: Site | None = None
    error_location: str | None = None
    additional_steps: tuple[NextStep, ...] = field(default=())
    required_comment: str | None = None
    unusable_inputs: tuple[str, ...] = field(default=())

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The ids of the rules that fired, in order."""
        return tuple(entry.rule_id for entry in self.rationale)

"""Reading and validating one specimen's inputs (her2-rules.md section 3).

The first failed check wins and makes the specimen indeterminate with an error
code (an :class:`~service.her2.draft.InputError`); what passes becomes a
validated :class:`Ihc` and :class:`Ish` that the site tables read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import cast

from service.her2.draft import Draft, InputError, NothingUsable
from service.her2.model import (
    ErrorCode,
    IhcCall,
    IhcScore,
    Invalid,
    IshCall,
    IshInput,
    NextStep,
    Probe,
    Site,
    SpecimenInput,
)
from service.her2.numbers import (
    Bound,
    Side,
    describe,
    describe_quotient,
    ratio_at_least,
    within_relative_tolerance,
)

LOW_SCORES = frozenset({IhcScore.ZERO, IhcScore.ZERO_ULTRALOW, IhcScore.ONE})
_CALL_KEYS = {
    IhcCall.POSITIVE: "positive-call",
    IhcCall.EQUIVOCAL: "equivocal-call",
    IhcCall.NEGATIVE: "negative-call",
}


@dataclass(frozen=True)
class Ihc:
    """A validated IHC result."""

    score: IhcScore | None
    call: IhcCall | None  # only when no score was reported
    ultralow_assessed: bool
    same_specimen: bool

    @property
    def present(self) -> bool:
        """Whether a usable IHC score or call was reported."""
        return self.score is not None or self.call is not None

    @property
    def key(self) -> str:
        """The IHC column of the decision tables (``ruleset.IHC_KEYS``)."""
        if self.score is IhcScore.ZERO and not self.ultralow_assessed:
            return "0-unassessed"
        if self.score is not None:
            return self.score.value
        if self.call is not None:
            return _CALL_KEYS[self.call]
        return "none"

    def describe(self) -> str:
        """The IHC in words, for the rationale."""
        if self.score is not None:
            text = f"IHC {self.score.value}"
            if self.score is IhcScore.ZERO and not self.ultralow_assessed:
                text += " (null vs ultralow not assessed)"
            return text
        if self.call is not None:
            return f"IHC reported only as {self.call.value} (no score)"
        return "no IHC"


@dataclass(frozen=True)
class Ish:
    """A validated ISH count."""

    probe: Probe | None  # None for a qualitative-only result
    ratio: Decimal | None
    her2: Decimal | None
    cep17: Decimal | None
    cells: Decimal | None
    call: IshCall | None
    call_source: str | None

    @property
    def quantitative(self) -> bool:
        """Whether the count carries numbers (else only a lab call)."""
        return self.ratio is not None or self.her2 is not None or self.cep17 is not None

    def ratio_ge(self, threshold: Decimal) -> bool:
        """Ratio (reported, or derived exactly) at or above ``threshold``."""
        return ratio_at_least(threshold, self.ratio, self.her2, self.cep17)

    def ratio_text(self) -> str:
        """The ratio in words, saying whether it was reported or derived."""
        if self.ratio is not None:
            return f"HER2/CEP17 ratio {describe(self.ratio)} (reported)"
        assert self.her2 is not None  # validated: a ratio or both averages
        assert self.cep17 is not None
        quotient = describe_quotient(self.her2, self.cep17)
        return (
            f"HER2/CEP17 ratio {quotient} (derived from {describe(self.her2)}"
            f"/{describe(self.cep17)})"
        )

    def flag_contradicting_call(self, draft: Draft, positive: bool, negative: bool) -> None:
        """Flag a lab call that contradicts the numbers (her2-rules.md section 5.3)."""
        if self.call is None or not self.quantitative:
            return
        contradicts = (
            (self.call is IshCall.AMPLIFIED and negative)
            or (self.call is IshCall.NOT_AMPLIFIED and positive)
            or (self.call is IshCall.EQUIVOCAL and (positive or negative))
        )
        if contradicts:
            draft.steps.append(NextStep.PATHOLOGIST_REVIEW_DISCORDANCE)
            draft.note(
                "D1",
                f"The numbers govern, but {self.call_source} ('{self.call.value}') contradicts "
                "them: pathologist review (her2-rules.md section 5.3).",
            )


# --- reading and validating (her2-rules.md section 3) ------------------------


def _reject(rule_id: str, location: str, value: Invalid) -> InputError:
    return InputError(rule_id, value.error, location, f"{location} is {value.detail}.")


def _flag(raw: bool | Invalid, rule_id: str, location: str) -> bool:
    if isinstance(raw, Invalid):
        raise _reject(rule_id, location, raw)
    return raw


def _finite(raw: Decimal | Invalid | None, location: str) -> Decimal | None:
    if isinstance(raw, Invalid):
        raise _reject("V4", location, raw)
    if raw is not None and not raw.is_finite():
        # A reader that built a Decimal itself may hand over NaN or infinity.
        raise InputError(
            "V4", ErrorCode.INVALID_VALUE, location, f"{location} is not a finite number."
        )
    return raw


def read_site(raw: Site | Invalid | None) -> Site | None:
    """The tumour site, or None when unknown (her2-rules.md section 1)."""
    if isinstance(raw, Invalid):
        raise _reject("V2", "site", raw)
    return raw


def read_ihc(spec: SpecimenInput, draft: Draft) -> Ihc:
    """Validate the IHC (section 3 item 2; qualitative calls, section 5.3)."""
    assessed = _flag(spec.ihc0_ultralow_assessed, "V2", "ihc0_ultralow_assessed")
    same = _flag(spec.ihc_same_specimen, "V2", "ihc_same_specimen")
    if not _flag(spec.ihc_final, "V2", "ihc_final"):
        draft.inputs_final = False
    if isinstance(spec.ihc_score, Invalid):
        raise _reject("V2", "ihc_score", spec.ihc_score)
    score = spec.ihc_score
    call: IhcCall | None = None
    if isinstance(spec.ihc_call, Invalid):
        draft.note(
            "Q2",
            "her2-rules.md section 5.3: the IHC answer is not a score and not "
            "Positive/Equivocal/Negative; it is not a usable IHC result and is "
            "treated as absent.",
        )
    elif spec.ihc_call is not None and score is not None:
        expected = {
            IhcCall.POSITIVE: {IhcScore.THREE},
            IhcCall.EQUIVOCAL: {IhcScore.TWO},
            IhcCall.NEGATIVE: set(LOW_SCORES),
        }[spec.ihc_call]
        if score not in expected:
            draft.steps.append(NextStep.PATHOLOGIST_REVIEW_DISCORDANCE)
            draft.note(
                "D2",
                f"The IHC score {score.value} governs, but the lab's call "
                f"'{spec.ihc_call.value}' contradicts it: pathologist review.",
            )
    elif spec.ihc_call is not None:
        call = spec.ihc_call
        draft.note(
            "Q2",
            f"her2-rules.md section 5.3: IHC reported only as {call.value}, without "
            "a score; it counts as "
            + {"positive": "3+", "equivocal": "2+", "negative": "0 or 1+"}[call.value]
            + ", and HER2-low/ultralow stay unknown.",
        )
    return Ihc(score, call, assessed, same)


def read_ish(raw: IshInput | Invalid, path: str, site: Site | None, draft: Draft) -> Ish:
    """Validate one ISH count in the order of her2-rules.md section 3 item 4."""
    if isinstance(raw, Invalid):
        raise _reject("V4", path, raw)
    if not _flag(raw.final, "V4", f"{path}.final"):
        draft.inputs_final = False
    if isinstance(raw.probe, Invalid):
        raise _reject("V4", f"{path}.probe", raw.probe)
    probe = raw.probe
    if isinstance(raw.lab_call, Invalid):
        raise _reject("V4", f"{path}.lab_call", raw.lab_call)
    call = raw.lab_call
    call_source = None if call is None else "the lab's call"

    # A legacy bounded text is not a number: it may imply a call (section 5.3).
    bound = raw.her2_cep17_ratio if isinstance(raw.her2_cep17_ratio, Bound) else None
    ratio = _finite(
        None if bound is not None else cast("Decimal | Invalid | None", raw.her2_cep17_ratio),
        f"{path}.her2_cep17_ratio",
    )
    her2 = _finite(raw.avg_her2_copies, f"{path}.avg_her2_copies")
    cep17 = _finite(raw.avg_cep17_copies, f"{path}.avg_cep17_copies")
    if isinstance(raw.cells_counted, Invalid):
        raise _reject("V4", f"{path}.cells_counted", raw.cells_counted)
    cells = None if raw.cells_counted is None else Decimal(raw.cells_counted)

    for name, value in (
        ("her2_cep17_ratio", ratio),
        ("avg_her2_copies", her2),
        ("avg_cep17_copies", cep17),
        ("cells_counted", cells),
    ):
        if value is not None and value < 0:
            raise InputError(
                "V4",
                ErrorCode.INVALID_VALUE,
                f"{path}.{name}",
                f"{path}.{name} is negative ({describe(value)}); it cannot be.",
            )
    for name, value in (
        ("her2_cep17_ratio", ratio),
        ("avg_her2_copies", her2),
        ("avg_cep17_copies", cep17),
    ):
        if value is not None and value == 0:
            raise InputError(
                "V4",
                ErrorCode.INVALID_VALUE,
                f"{path}.{name}",
                f"{path}.{name} is 0; a counted ISH cannot give 0 (a CEP17 of 0 would "
                "also make the ratio a division by zero).",
            )

    if probe is None and (ratio is not None or cep17 is not None or bound is not None):
        probe = Probe.DUAL
    elif probe is None and her2 is not None:
        probe = Probe.SINGLE
    if probe is Probe.SINGLE and (ratio is not None or cep17 is not None or bound is not None):
        raise InputError(
            "V4",
            ErrorCode.INVALID_VALUE,
            f"{path}.probe",
            f"{path} is single-probe but carries a ratio or a CEP17 average.",
        )
    thresholds = draft.ruleset.thresholds
    min_cells = thresholds.min_cells_counted
    tolerance = thresholds.ratio_tolerance_percent
    if cells is not None and cells < min_cells:
        raise InputError(
            "V4",
            ErrorCode.INSUFFICIENT_CELLS,
            f"{path}.cells_counted",
            f"Only {describe(cells)} cells were counted; at least {min_cells} are needed "
            "for an evaluable ISH (ASCO/CAP 2018).",
            NextStep.COUNT_ADDITIONAL_CELLS,
        )

    if bound is not None:
        cut = describe(thresholds.her2_cep17_ratio)
        side = bound.side_of(thresholds.her2_cep17_ratio)
        if side is None:
            draft.note(
                "Q1",
                f"her2-rules.md section 5.3: the legacy ratio text '{bound}' does not say "
                f"on which side of {cut} the ratio lies; it is no usable call.",
            )
        else:
            implied = IshCall.AMPLIFIED if side is Side.AT_OR_ABOVE else IshCall.NOT_AMPLIFIED
            where = f"≥ {cut}" if side is Side.AT_OR_ABOVE else f"< {cut}"
            draft.note(
                "Q1",
                "her2-rules.md section 5.3: the legacy ratio text "
                f"'{bound.text or bound}' (read as '{bound}') is not a number; "
                f"it unambiguously puts the ratio {where}, read as the call "
                f"'{implied.value}'.",
            )
            if call is not None and call is not implied:
                draft.steps.append(NextStep.PATHOLOGIST_REVIEW_DISCORDANCE)
                draft.note(
                    "D1",
                    f"The lab's call '{call.value}' contradicts the legacy ratio text "
                    f"'{bound}': pathologist review.",
                )
            else:
                call, call_source = implied, f"the legacy ratio text '{bound.text or bound}'"

    found = Ish(probe, ratio, her2, cep17, cells, call, call_source)
    if not found.quantitative:
        if call is not None:
            return replace(found, probe=None)
        raise NothingUsable(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            path,
            f"{path} carries neither a ratio, an average HER2 count nor a usable lab call.",
        )
    if probe is Probe.DUAL and ratio is None and (her2 is None or cep17 is None):
        raise InputError(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            f"{path}.her2_cep17_ratio",
            f"{path} is dual-probe without a ratio, and the ratio cannot be derived "
            "(both averages are needed).",
        )
    if probe is Probe.SINGLE and her2 is None:
        raise InputError(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            f"{path}.avg_her2_copies",
            f"{path} is single-probe without an average HER2 count.",
        )
    if site is Site.BREAST and probe is Probe.DUAL and her2 is None:
        raise InputError(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            f"{path}.avg_her2_copies",
            f"{path}: breast dual-probe groups (ASCO/CAP 2018 Fig 3) need the average "
            "HER2 count as well as the ratio.",
        )
    if ratio is not None and her2 is not None and cep17 is not None:
        if not within_relative_tolerance(ratio, her2, cep17, tolerance):
            raise InputError(
                "V4",
                ErrorCode.INCONSISTENT_ISH_VALUES,
                f"{path}.her2_cep17_ratio",
                f"The reported ratio {describe(ratio)} differs from "
                f"{describe(her2)}/{describe(cep17)} = {describe_quotient(her2, cep17)} by "
                f"more than {describe(tolerance)} %.",
            )
        draft.note(
            "V5",
            f"{path}: the reported ratio {describe(ratio)} is within "
            f"{describe(tolerance)} % of {describe(her2)}/{describe(cep17)} and "
            "governs as reported (not re-rounded).",
        )
    return found


__all__ = [
    "LOW_SCORES",
    "Ihc",
    "Ish",
    "read_ihc",
    "read_ish",
    "read_site",
]

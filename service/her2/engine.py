"""HER2 status derivation: her2-rules.md sections 3-11.

``evaluate`` takes one specimen's inputs and returns a :class:`Her2Result`; it
never raises for bad input (an ``error`` code says what is wrong) and treats
clinical ambiguity as a result (``equivocal`` plus a ``next_step``).
``evaluate_series`` handles several specimens of one patient (section 10).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from service.her2 import tables
from service.her2.model import (
    ErrorCode,
    Her2Result,
    IhcCall,
    IhcScore,
    InterpretationStatus,
    IshCall,
    IshInput,
    NextStep,
    PriorResult,
    Probe,
    RationaleEntry,
    Site,
    SpecimenInput,
    Status,
)
from service.her2.numbers import (
    Bound,
    NumberProblem,
    Parsed,
    Side,
    describe,
    describe_quotient,
    parse_bound,
    parse_count,
    parse_decimal,
    ratio_at_least,
    within_relative_tolerance,
)
from service.her2.tables import (
    COPIES_HIGH,
    COPIES_LOW,
    MIN_CELLS,
    RATIO_THRESHOLD,
    RATIO_TOLERANCE_PERCENT,
    Row,
)

_LOW_SCORES = frozenset({IhcScore.ZERO, IhcScore.ZERO_ULTRALOW, IhcScore.ONE})


class _InputError(Exception):
    """Internal signal for a failed validation step; never leaves this module."""

    def __init__(
        self,
        rule_id: str,
        error: ErrorCode,
        location: str,
        text: str,
        next_step: NextStep = NextStep.CORRECT_INPUT,
    ) -> None:
        super().__init__(text)
        self.rule_id = rule_id
        self.error = error
        self.location = location
        self.text = text
        self.next_step = next_step


@dataclass(frozen=True)
class _Ihc:
    """A validated IHC result."""

    score: IhcScore | None
    call: IhcCall | None  # only when no score was reported
    ultralow_assessed: bool
    same_specimen: bool

    @property
    def present(self) -> bool:
        return self.score is not None or self.call is not None

    @property
    def klass(self) -> str:
        """The IHC column of the decision tables."""
        if self.score is IhcScore.THREE or self.call is IhcCall.POSITIVE:
            return "3+"
        if self.score is IhcScore.TWO or self.call is IhcCall.EQUIVOCAL:
            return "2+"
        if self.score in _LOW_SCORES or self.call is IhcCall.NEGATIVE:
            return "low"
        return "none"

    def describe(self) -> str:
        if self.score is not None:
            text = f"IHC {self.score.value}"
            if self.score is IhcScore.ZERO and not self.ultralow_assessed:
                text += " (null vs ultralow not assessed)"
            return text
        if self.call is not None:
            return f"IHC reported only as {self.call.value} (no score)"
        return "no IHC"


@dataclass(frozen=True)
class _Ish:
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
        return self.ratio is not None or self.her2 is not None or self.cep17 is not None

    def ratio_ge(self, threshold: Decimal) -> bool:
        return ratio_at_least(threshold, self.ratio, self.her2, self.cep17)

    def ratio_text(self) -> str:
        if self.ratio is not None:
            return f"HER2/CEP17 ratio {describe(self.ratio)} (reported)"
        assert self.her2 is not None  # validated: a ratio or both averages
        assert self.cep17 is not None
        quotient = describe_quotient(self.her2, self.cep17)
        return (
            f"HER2/CEP17 ratio {quotient} (derived from {describe(self.her2)}"
            f"/{describe(self.cep17)})"
        )


@dataclass
class _Draft:
    """A result under construction."""

    site: Site | None
    status: Status = Status.INDETERMINATE
    her2_low: bool | None = None
    ultralow: bool | None = None
    ish_group: int | None = None
    steps: list[NextStep] = field(default_factory=list)
    error: ErrorCode | None = None
    error_location: str | None = None
    rationale: list[RationaleEntry] = field(default_factory=list)
    required_comment: str | None = None
    inputs_final: bool = True

    def note(self, rule_id: str, text: str) -> None:
        self.rationale.append(RationaleEntry(rule_id, text))

    def apply_row(self, row: Row, detail: str) -> None:
        self.status = row.status
        if row.next_step is not None:
            self.steps.append(row.next_step)
        self.note(row.rule_id, f"{row.source}: {detail} → {row.statement}.")


# --- reading and validating (her2-rules.md section 3) ------------------------


def _norm_token(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    return "".join(raw.split()).lower()


def _require_bool(raw: object, location: str) -> bool:
    if not isinstance(raw, bool):
        raise _InputError(
            "V2", ErrorCode.INVALID_TYPE, location, f"{location} must be true or false."
        )
    return raw


def _read_site(raw: object) -> Site | None:
    if raw is None:
        return None
    token = _norm_token(raw)
    for site in Site:
        if token == site.value:
            return site
    raise _InputError(
        "V2",
        ErrorCode.INVALID_VOCABULARY,
        "site",
        "The tumour site is not one of breast, gastroesophageal or other.",
    )


def _read_ihc(spec: SpecimenInput, draft: _Draft) -> _Ihc:
    assessed = _require_bool(spec.ihc0_ultralow_assessed, "ihc0_ultralow_assessed")
    same = _require_bool(spec.ihc_same_specimen, "ihc_same_specimen")
    if not _require_bool(spec.ihc_final, "ihc_final"):
        draft.inputs_final = False
    score: IhcScore | None = None
    if spec.ihc_score is not None and not isinstance(spec.ihc_score, str):
        # A value of the wrong type (e.g. a number where a score is coded, or an
        # unreadable HER2 entry passed on by the FHIR reader) fails closed.
        raise _InputError(
            "V2", ErrorCode.INVALID_TYPE, "ihc_score", "The IHC score is not a coded score."
        )
    if spec.ihc_score is not None:
        token = _norm_token(spec.ihc_score)
        score = next((s for s in IhcScore if s.value == token), None)
        if score is None:
            raise _InputError(
                "V2",
                ErrorCode.INVALID_VOCABULARY,
                "ihc_score",
                "The IHC score is not one of 0, 0-ultralow, 1+, 2+, 3+ "
                "(the 2018 scale has no other values).",
            )
    call: IhcCall | None = None
    if spec.ihc_call is not None:
        token = _norm_token(spec.ihc_call)
        call = next((c for c in IhcCall if c.value == token), None)
        if call is None:
            draft.note(
                "Q2",
                "her2-rules.md section 5.3: the IHC answer is not a score and not "
                "Positive/Equivocal/Negative; it is not a usable IHC result and is "
                "treated as absent.",
            )
        elif score is not None:
            expected = {
                IhcCall.POSITIVE: {IhcScore.THREE},
                IhcCall.EQUIVOCAL: {IhcScore.TWO},
                IhcCall.NEGATIVE: set(_LOW_SCORES),
            }[call]
            if score not in expected:
                draft.steps.append(NextStep.PATHOLOGIST_REVIEW_DISCORDANCE)
                draft.note(
                    "D2",
                    f"The IHC score {score.value} governs, but the lab's call "
                    f"'{call.value}' contradicts it: pathologist review.",
                )
            call = None
        else:
            draft.note(
                "Q2",
                f"her2-rules.md section 5.3: IHC reported only as {call.value}, without "
                "a score; it counts as "
                + {"positive": "3+", "equivocal": "2+", "negative": "0 or 1+"}[call.value]
                + ", and HER2-low/ultralow stay unknown.",
            )
    return _Ihc(score, call, assessed, same)


def _is_blank(ish: object) -> bool:
    """An ISH record with nothing in it counts as no ISH (a non-record is validated later)."""
    return isinstance(ish, IshInput) and all(
        v is None
        for v in (
            ish.probe,
            ish.her2_cep17_ratio,
            ish.avg_her2_copies,
            ish.avg_cep17_copies,
            ish.cells_counted,
            ish.lab_call,
        )
    )


def _number(parsed: Parsed, location: str) -> Decimal | None:
    if parsed.problem is NumberProblem.NOT_FINITE:
        raise _InputError(
            "V4", ErrorCode.INVALID_VALUE, location, f"{location} is not a finite number."
        )
    if parsed.problem is not None:
        kind = "a whole number" if parsed.problem is NumberProblem.NOT_INTEGER else "a number"
        raise _InputError("V4", ErrorCode.INVALID_TYPE, location, f"{location} is not {kind}.")
    return parsed.value


def _read_ish(raw: object, path: str, site: Site | None, draft: _Draft) -> _Ish:
    """Validate one ISH count in the order of her2-rules.md section 3.4."""
    if not isinstance(raw, IshInput):
        raise _InputError("V4", ErrorCode.INVALID_TYPE, path, f"{path} is not an ISH result.")
    if raw.final is not True:
        if not isinstance(raw.final, bool):
            raise _InputError(
                "V4", ErrorCode.INVALID_TYPE, f"{path}.final", f"{path}.final must be a boolean."
            )
        draft.inputs_final = False

    probe: Probe | None = None
    if raw.probe is not None:
        token = _norm_token(raw.probe)
        probe = next((p for p in Probe if token in (p.value, f"{p.value}-probe")), None)
        if probe is None:
            raise _InputError(
                "V4",
                ErrorCode.INVALID_VOCABULARY,
                f"{path}.probe",
                f"{path}.probe is neither dual nor single.",
            )
    call: IshCall | None = None
    call_source: str | None = None
    if raw.lab_call is not None and not isinstance(raw.lab_call, str):
        raise _InputError(
            "V4", ErrorCode.INVALID_TYPE, f"{path}.lab_call", f"{path}.lab_call is not a call."
        )
    if raw.lab_call is not None:
        token = (_norm_token(raw.lab_call) or "").replace("_", "-")
        call = next((c for c in IshCall if c.value == token), None)
        if call is None:
            raise _InputError(
                "V4",
                ErrorCode.INVALID_VOCABULARY,
                f"{path}.lab_call",
                f"{path}.lab_call is not amplified, not-amplified or equivocal.",
            )
        call_source = "the lab's call"

    # Non-numeric values (invalid_type), with the legacy ratio text of section 5.3.
    bound: Bound | None = None
    raw_ratio = raw.her2_cep17_ratio
    ratio_parsed = parse_decimal(raw_ratio)
    if isinstance(raw_ratio, str) and ratio_parsed.problem is NumberProblem.NOT_NUMERIC:
        bound = parse_bound(raw_ratio)
        if bound is None:
            raise _InputError(
                "V4",
                ErrorCode.INVALID_TYPE,
                f"{path}.her2_cep17_ratio",
                f"{path}.her2_cep17_ratio is neither a number nor a bounded value.",
            )
        ratio_parsed = Parsed(None)
    ratio = _number(ratio_parsed, f"{path}.her2_cep17_ratio")
    her2 = _number(parse_decimal(raw.avg_her2_copies), f"{path}.avg_her2_copies")
    cep17 = _number(parse_decimal(raw.avg_cep17_copies), f"{path}.avg_cep17_copies")
    cells = _number(parse_count(raw.cells_counted), f"{path}.cells_counted")

    for name, value in (
        ("her2_cep17_ratio", ratio),
        ("avg_her2_copies", her2),
        ("avg_cep17_copies", cep17),
        ("cells_counted", cells),
    ):
        if value is not None and value < 0:
            raise _InputError(
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
            raise _InputError(
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
        raise _InputError(
            "V4",
            ErrorCode.INVALID_VALUE,
            f"{path}.probe",
            f"{path} is single-probe but carries a ratio or a CEP17 average.",
        )
    if cells is not None and cells < MIN_CELLS:
        raise _InputError(
            "V4",
            ErrorCode.INSUFFICIENT_CELLS,
            f"{path}.cells_counted",
            f"Only {describe(cells)} cells were counted; at least {MIN_CELLS} are needed "
            "for an evaluable ISH (ASCO/CAP 2018).",
            NextStep.COUNT_ADDITIONAL_CELLS,
        )

    if bound is not None:
        side = bound.side_of(RATIO_THRESHOLD)
        if side is None:
            draft.note(
                "Q1",
                f"her2-rules.md section 5.3: the legacy ratio text '{bound}' does not say "
                "on which side of 2.0 the ratio lies; it is no usable call.",
            )
        else:
            implied = IshCall.AMPLIFIED if side is Side.AT_OR_ABOVE else IshCall.NOT_AMPLIFIED
            where = "≥ 2.0" if side is Side.AT_OR_ABOVE else "< 2.0"
            draft.note(
                "Q1",
                f"her2-rules.md section 5.3: the legacy ratio text '{raw_ratio}' (read as "
                f"'{bound}') is not a number; "
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
                call, call_source = implied, f"the legacy ratio text '{raw_ratio}'"

    found = _Ish(probe, ratio, her2, cep17, cells, call, call_source)
    if not found.quantitative:
        if call is not None:
            return replace(found, probe=None)
        raise _InputError(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            path,
            f"{path} carries neither a ratio, an average HER2 count nor a lab call.",
        )
    if probe is Probe.DUAL and ratio is None and (her2 is None or cep17 is None):
        raise _InputError(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            f"{path}.her2_cep17_ratio",
            f"{path} is dual-probe without a ratio, and the ratio cannot be derived "
            "(both averages are needed).",
        )
    if probe is Probe.SINGLE and her2 is None:
        raise _InputError(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            f"{path}.avg_her2_copies",
            f"{path} is single-probe without an average HER2 count.",
        )
    if site is Site.BREAST and probe is Probe.DUAL and her2 is None:
        raise _InputError(
            "V4",
            ErrorCode.INCOMPLETE_ISH,
            f"{path}.avg_her2_copies",
            f"{path}: breast dual-probe groups (ASCO/CAP 2018 Fig 3) need the average "
            "HER2 count as well as the ratio.",
        )
    if ratio is not None and her2 is not None and cep17 is not None:
        if not within_relative_tolerance(ratio, her2, cep17, RATIO_TOLERANCE_PERCENT):
            raise _InputError(
                "V4",
                ErrorCode.INCONSISTENT_ISH_VALUES,
                f"{path}.her2_cep17_ratio",
                f"The reported ratio {describe(ratio)} differs from "
                f"{describe(her2)}/{describe(cep17)} = {describe_quotient(her2, cep17)} by "
                f"more than {describe(RATIO_TOLERANCE_PERCENT)} %.",
            )
        draft.note(
            "V5",
            f"{path}: the reported ratio {describe(ratio)} is within "
            f"{describe(RATIO_TOLERANCE_PERCENT)} % of {describe(her2)}/{describe(cep17)} and "
            "governs as reported (not re-rounded).",
        )
    return found


# --- site rules -------------------------------------------------------------


def _subclasses(draft: _Draft, ihc: _Ihc) -> None:
    """HER2-low and HER2-ultralow (breast only; her2-rules.md section 2 and table B)."""
    if draft.site is not Site.BREAST:
        return
    score = ihc.score
    if draft.status is Status.POSITIVE:
        draft.her2_low, draft.ultralow = False, False
    elif draft.status is Status.NEGATIVE and score is not None:
        draft.her2_low = score in (IhcScore.ONE, IhcScore.TWO)
        if score is IhcScore.ZERO:
            draft.ultralow = False if ihc.ultralow_assessed else None
        else:
            draft.ultralow = score is IhcScore.ZERO_ULTRALOW
    elif draft.status is Status.EQUIVOCAL and score in (
        IhcScore.ONE,
        IhcScore.TWO,
        IhcScore.THREE,
    ):
        draft.ultralow = False


def _call_contradicts(draft: _Draft, ish: _Ish, positive: bool, negative: bool) -> None:
    """Flag a lab call that contradicts the numbers (her2-rules.md section 5.3)."""
    if ish.call is None or not ish.quantitative:
        return
    contradicts = (
        (ish.call is IshCall.AMPLIFIED and negative)
        or (ish.call is IshCall.NOT_AMPLIFIED and positive)
        or (ish.call is IshCall.EQUIVOCAL and (positive or negative))
    )
    if contradicts:
        draft.steps.append(NextStep.PATHOLOGIST_REVIEW_DISCORDANCE)
        draft.note(
            "D1",
            f"The numbers govern, but {ish.call_source} ('{ish.call.value}') contradicts "
            "them: pathologist review (her2-rules.md section 5.3).",
        )


def _breast_group(ish: _Ish) -> tuple[int, str]:
    """ASCO/CAP 2018 Fig 3: ratio first, then average HER2 copies."""
    her2 = ish.her2
    assert her2 is not None  # breast dual-probe validation requires it
    if ish.ratio_ge(RATIO_THRESHOLD):
        group = 1 if her2 >= COPIES_LOW else 2
        cmp = "≥ 4.0" if group == 1 else "< 4.0"
        return group, f"{ish.ratio_text()} ≥ 2.0, average HER2 {describe(her2)} {cmp}"
    if her2 >= COPIES_HIGH:
        group, cmp = 3, "≥ 6.0"
    elif her2 >= COPIES_LOW:
        group, cmp = 4, "≥ 4.0 and < 6.0"
    else:
        group, cmp = 5, "< 4.0"
    return group, f"{ish.ratio_text()} < 2.0, average HER2 {describe(her2)} {cmp}"


def _breast_ish_category(ish: _Ish | None, draft: _Draft) -> tuple[str, str]:
    """Map the ISH to the breast table's column; returns (category, sentence)."""
    if ish is None:
        return "none", "no ISH"
    if not ish.quantitative:
        category = {IshCall.AMPLIFIED: "G1", IshCall.NOT_AMPLIFIED: "G5", IshCall.EQUIVOCAL: "eq"}
        assert ish.call is not None
        draft.note(
            "Q1",
            f"her2-rules.md section 5.3: ISH without usable numbers; {ish.call_source} "
            f"(call '{ish.call.value}') counts as "
            + {
                "G1": "ISH-positive (like group 1, no group assigned)",
                "G5": "ISH-negative (like group 5, no group assigned)",
                "eq": "ISH equivocal",
            }[category[ish.call]]
            + ".",
        )
        return category[ish.call], f"ISH {ish.call.value} ({ish.call_source})"
    her2 = ish.her2
    assert her2 is not None
    if ish.probe is Probe.SINGLE:
        if her2 >= COPIES_HIGH:
            band, cmp = "S>=6", "≥ 6.0"
        elif her2 >= COPIES_LOW:
            band, cmp = "S4-6", "≥ 4.0 and < 6.0"
        else:
            band, cmp = "S<4", "< 4.0"
        text = f"single-probe ISH average HER2 {describe(her2)} signals/cell {cmp}"
        draft.note("F2", f"ASCO/CAP 2018 Fig 2: {text}.")
        _call_contradicts(draft, ish, band == "S>=6", band == "S<4")
        return band, text
    group, text = _breast_group(ish)
    draft.ish_group = group
    draft.note("F3", f"ASCO/CAP 2018 Fig 3: {text} → ISH group {group}.")
    _call_contradicts(draft, ish, group == 1, group == 5)
    return {1: "G1", 5: "G5"}.get(group, "G2-4"), f"ISH group {group}"


def _derive_breast(ihc: _Ihc, ish: _Ish | None, recount: _Ish | None, draft: _Draft) -> None:
    category, ish_text = _breast_ish_category(ish, draft)
    ihc_key = ihc.klass
    ihc_text = ihc.describe()
    needs_same_tissue = category in ("G2-4", "S4-6")
    if needs_same_tissue and ihc.present and not ihc.same_specimen:
        # Groups 2-4 (Fig 3 note) need IHC on the ISH tissue; the single-probe
        # 4.0-<6.0 band (Fig 2) is treated the same way (project choice, README).
        ihc_key = "none"
        ihc_text += " on a different specimen (not usable for this step)"
    if category == "G2-4" and ihc_key == "2+":
        category = _recount_state(draft.ish_group, recount, draft)
    row = None
    if category == "none" and ihc.score is not None:
        row = tables.BREAST_ROWS.get((ihc.score.value, "none"))  # B3/B4/B5 by score
    row = row or tables.BREAST_ROWS[(ihc_key, category)]
    draft.apply_row(row, f"{ihc_text} with {ish_text}")
    if row.next_step is NextStep.NEGATIVE_WITH_REQUIRED_COMMENT and draft.ish_group:
        draft.required_comment = tables.REQUIRED_COMMENTS[draft.ish_group]
        draft.note("RC", f"Required report comment: {draft.required_comment}")
    if recount is not None and not category.startswith(("G2:", "G3:", "G4:", "G2-4:")):
        draft.note("R0", "A recount was supplied but this step does not use it.")


def _recount_state(group: int | None, recount: _Ish | None, draft: _Draft) -> str:
    """Breast groups 2-4 with IHC 2+: the blinded recount (ASCO/CAP 2018 Fig 4-6)."""
    if recount is None:
        return "G2-4:no-recount"
    if recount.probe is not Probe.DUAL or not recount.quantitative:
        draft.note(
            "R1",
            "The recount is not a dual-probe count with numbers, so it cannot be "
            "grouped; a usable blinded recount is still needed.",
        )
        return "G2-4:no-recount"
    recount_group, text = _breast_group(recount)
    if recount_group == group:
        draft.note("R1", f"Blinded recount: {text} → still group {group}.")
        return f"G{group}:recount-same"
    draft.note("R1", f"Blinded recount: {text} → group {recount_group}, not group {group}.")
    return "G2-4:recount-changed"


def _derive_gastro(ihc: _Ihc, ish: _Ish | None, draft: _Draft) -> None:
    """CAP/ASCP/ASCO 2016: IHC first, ISH positive at ratio >= 2.0 (her2-rules.md section 5)."""
    if ish is None:
        category, ish_text = "none", "no ISH"
    elif not ish.quantitative:
        assert ish.call is not None
        category = {IshCall.AMPLIFIED: "pos", IshCall.NOT_AMPLIFIED: "neg"}.get(ish.call, "eq")
        ish_text = f"ISH {ish.call.value} ({ish.call_source})"
        draft.note(
            "Q1",
            f"her2-rules.md section 5.3: ISH without usable numbers; {ish.call_source} "
            f"(call '{ish.call.value}') counts as "
            + {"pos": "ratio ≥ 2.0", "neg": "ratio < 2.0 with < 6.0 copies", "eq": "equivocal"}[
                category
            ]
            + ".",
        )
    elif ish.probe is Probe.SINGLE:
        assert ish.her2 is not None
        category = "single"
        # No gastroesophageal single-probe criterion: no call can contradict it.
        ish_text = f"single-probe ISH (average HER2 {describe(ish.her2)})"
    else:
        if ish.ratio_ge(RATIO_THRESHOLD):
            category, cmp = "pos", "≥ 2.0"
        elif ish.her2 is not None and ish.her2 >= COPIES_HIGH:
            category, cmp = "neg-high", f"< 2.0 with average HER2 {describe(ish.her2)} ≥ 6.0"
        else:
            copies = "absent" if ish.her2 is None else f"{describe(ish.her2)} < 6.0"
            category, cmp = "neg", f"< 2.0 with average HER2 {copies}"
        ish_text = f"dual-probe {ish.ratio_text()} {cmp}"
        draft.note("GR", f"CAP/ASCP/ASCO 2016 GEA ratio criterion: {ish_text}.")
        _call_contradicts(draft, ish, category == "pos", category == "neg")
    row = tables.GASTRO_ROWS[(ihc.klass, category)]
    draft.apply_row(row, f"{ihc.describe()} with {ish_text}")


def _derive_other(ihc: _Ihc, ish: _Ish | None, draft: _Draft) -> None:
    """her2-rules.md section 6: only IHC 3+ is interpretable outside breast and GEA."""
    row = tables.OTHER_POSITIVE if ihc.klass == "3+" else tables.OTHER_UNSUPPORTED
    draft.apply_row(row, ihc.describe())
    if ish is not None:
        draft.note("O3", "ISH is not interpreted at this site (no site-specific guideline).")


def _derive(spec: SpecimenInput, site: Site | None) -> _Draft:
    """Validate and apply one site's rules (no heterogeneity, no interpretation status)."""
    draft = _Draft(site=site)
    try:
        ihc = _read_ihc(spec, draft)
        ish = None if spec.ish is None or _is_blank(spec.ish) else spec.ish
        recount = None if _is_blank(spec.ish_recount) else spec.ish_recount
        if not ihc.present and ish is None:
            raise _InputError(
                "V3",
                ErrorCode.MISSING_DATA,
                "",
                "Neither an IHC nor an ISH result is available.",
                NextStep.OBTAIN_HER2_TESTING,
            )
        ish_found = None if ish is None else _read_ish(ish, "ish", site, draft)
        recount_found = None
        if recount is not None:
            try:
                recount_found = _read_ish(recount, "ish_recount", site, draft)
            except _InputError as problem:
                problem.rule_id = "V6"  # section 3.6: the recount, by the same rules
                raise
        if site is Site.BREAST:
            _derive_breast(ihc, ish_found, recount_found, draft)
        elif site is Site.GASTROESOPHAGEAL:
            _derive_gastro(ihc, ish_found, draft)
        else:
            _derive_other(ihc, ish_found, draft)
        _subclasses(draft, ihc)
    except _InputError as problem:
        draft.status = Status.INDETERMINATE
        draft.her2_low = draft.ultralow = draft.ish_group = None
        draft.required_comment = None
        draft.steps = [problem.next_step]
        draft.error = problem.error
        draft.error_location = problem.location or None
        draft.note(problem.rule_id, f"her2-rules.md section 3: {problem.text} ({problem.error})")
    return draft


def _derive_unknown_site(spec: SpecimenInput) -> _Draft:
    """her2-rules.md section 7: both rule sets must agree, else ask for the site."""
    breast = _derive(spec, Site.BREAST)
    gastro = _derive(spec, Site.GASTROESOPHAGEAL)
    draft = _Draft(site=None, inputs_final=breast.inputs_final and gastro.inputs_final)
    breast_step = _ordered(breast.steps)[:1]
    gastro_step = _ordered(gastro.steps)[:1]
    if breast.status is gastro.status and breast_step == gastro_step:
        draft.status = breast.status
        draft.steps = _ordered(breast.steps + gastro.steps)
        if breast.error is gastro.error:
            draft.error, draft.error_location = breast.error, breast.error_location
        draft.note(
            "U1",
            "her2-rules.md section 7: the tumour site is unknown; the breast and the "
            f"gastroesophageal rules agree on {breast.status.value}. HER2-low, ultralow and "
            "ISH group are not assigned.",
        )
    else:
        draft.status = Status.INDETERMINATE
        draft.steps = [NextStep.SPECIFY_TUMOR_SITE]
        draft.note(
            "U2",
            "her2-rules.md section 7: the tumour site is unknown and the breast rules "
            f"({breast.status.value}) and the gastroesophageal rules "
            f"({gastro.status.value}) differ; specify the tumour site.",
        )
    for label, branch in (("breast", breast), ("gastroesophageal", gastro)):
        draft.rationale.extend(
            RationaleEntry(e.rule_id, f"[{label} rules] {e.text}") for e in branch.rationale
        )
    return draft


# --- assembling the result (sections 8, 10, 11) -----------------------------


def _ordered(steps: Sequence[NextStep]) -> list[NextStep]:
    return sorted(set(steps), key=tables.NEXT_STEP_RANK.__getitem__)


def _interpretation(status: Status, steps: Sequence[NextStep], inputs_final: bool) -> bool:
    return (
        status in tables.FINAL_STATUSES
        and all(step in tables.FINAL_COMPATIBLE_STEPS for step in steps)
        and inputs_final
    )


def _class_of(status: object, her2_low: object, ultralow: object, ihc_score: object) -> str | None:
    """HER2-low / ultralow / null class of a breast negative, or None when unknown."""
    if status != Status.NEGATIVE.value:
        return None
    if her2_low is True:
        return "HER2-low"
    if ultralow is True:
        return "HER2-ultralow"
    if her2_low is False and ultralow is False:
        return "HER2-0"
    token = _norm_token(ihc_score)
    return {
        "1+": "HER2-low",
        "2+": "HER2-low",
        "0-ultralow": "HER2-ultralow",
        "0": "HER2-0",
    }.get(token or "")


def _heterogeneity(draft: _Draft, priors: Sequence[PriorResult]) -> None:
    """her2-rules.md section 10: flag a final result that differs from an earlier one."""
    # Only resolved results are compared: a failed assay or a pending equivocal is
    # not a biological difference between specimens (project choice, README).
    resolved = (Status.POSITIVE.value, Status.NEGATIVE.value)
    if draft.status.value not in resolved:
        return
    if not _interpretation(draft.status, draft.steps, draft.inputs_final):
        return
    mine = _class_of(draft.status.value, draft.her2_low, draft.ultralow, None)
    for prior in priors:
        if not isinstance(prior, PriorResult):
            draft.note("H0", "An earlier result is not in a readable form; it is ignored.")
            continue
        prior_status = _norm_token(prior.status)
        if prior_status not in {s.value for s in Status}:
            draft.note("H0", "An earlier result has no valid status; it is ignored.")
            continue
        if prior_status not in resolved:
            continue
        when = f" of {prior.date}" if isinstance(prior.date, str) else ""
        if prior_status != draft.status.value:
            difference = f"was {prior_status}, this specimen is {draft.status.value}"
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


def _finish(draft: _Draft, priors: Sequence[PriorResult]) -> Her2Result:
    if draft.error is None:
        _heterogeneity(draft, priors)
    steps = _ordered(draft.steps)
    final = _interpretation(draft.status, steps, draft.inputs_final)
    interpretation = InterpretationStatus.FINAL if final else InterpretationStatus.PRELIMINARY
    reasons = []
    if draft.status not in tables.FINAL_STATUSES:
        reasons.append(f"the status is {draft.status.value}")
    reasons += [f"{s.value} is pending" for s in steps if s not in tables.FINAL_COMPATIBLE_STEPS]
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
        ruleset=tables.RULESET,
        rationale=tuple(draft.rationale),
        site=draft.site,
        error_location=draft.error_location,
        additional_steps=tuple(steps[1:]),
        required_comment=draft.required_comment,
    )


def evaluate(specimen: SpecimenInput) -> Her2Result:
    """Derive the HER2 status of one specimen.

    Implements her2-rules.md: validation (section 3), breast (4), gastroesophageal
    (5), qualitative-only results (5.3), other sites (6), unknown site (7),
    next_step priority (8), heterogeneity against ``specimen.prior_results`` (10)
    and the interpretation status (11).

    Args:
        specimen: the specimen's inputs; any values, including invalid ones.

    Returns:
        The result.  Invalid input gives status ``indeterminate`` with an
        ``error`` code and its location; this function does not raise for input.
    """
    if not isinstance(specimen, SpecimenInput):
        draft = _Draft(site=None, steps=[NextStep.CORRECT_INPUT], error=ErrorCode.INVALID_TYPE)
        draft.note("V0", "her2-rules.md section 3: the input is not a specimen record.")
        return _finish(draft, ())
    # Step 1 of section 3 (assay failure) comes before every vocabulary check.
    if specimen.assay_failed is True:
        draft = _Draft(site=None, steps=[NextStep.REPEAT_TEST_NEW_SPECIMEN])
        draft.note(
            "V1",
            "her2-rules.md section 3: the lab reported a technical failure of the assay; "
            "HER2 status is indeterminate, repeat the test on another specimen.",
        )
        return _finish(draft, specimen.prior_results)
    try:
        if specimen.assay_failed is not False:
            raise _InputError(
                "V1", ErrorCode.INVALID_TYPE, "assay_failed", "assay_failed must be a boolean."
            )
        site = _read_site(specimen.site)
    except _InputError as problem:
        draft = _Draft(site=None, steps=[problem.next_step], error=problem.error)
        draft.error_location = problem.location
        draft.note(problem.rule_id, f"her2-rules.md section 3: {problem.text} ({problem.error})")
        return _finish(draft, ())
    draft = _derive_unknown_site(specimen) if site is None else _derive(specimen, site)
    priors = specimen.prior_results if isinstance(specimen.prior_results, tuple) else ()
    return _finish(draft, priors)


def _collected(raw: object) -> dt.date | None:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw.strip()[:10])
        except ValueError:
            return None
    return None


def evaluate_series(specimens: Sequence[SpecimenInput]) -> list[Her2Result]:
    """Derive several specimens of one patient (her2-rules.md section 10).

    Each specimen is evaluated on its own; a prior result never overrides a
    current one.  The most recent specimen(s) (by ``collected``; undated ones
    count as older than dated ones, and when none is dated all are compared)
    are compared with every other one and flagged
    ``clinician_review_heterogeneity`` when they differ.

    Args:
        specimens: the specimens, in any order.

    Returns:
        One result per specimen, in the order given.
    """
    alone = [
        evaluate(replace(s, prior_results=()) if isinstance(s, SpecimenInput) else s)
        for s in specimens
    ]
    dates = [_collected(s.collected) if isinstance(s, SpecimenInput) else None for s in specimens]
    known = [d for d in dates if d is not None]
    latest = max(known) if known else None
    results = list(alone)
    for index, spec in enumerate(specimens):
        if not isinstance(spec, SpecimenInput) or len(specimens) < 2:
            continue
        if latest is not None and dates[index] != latest:
            continue
        others = tuple(
            PriorResult(
                status=other.status.value,
                her2_low=other.her2_low,
                ultralow=other.ultralow,
                date=None if when is None else when.isoformat(),
            )
            for j, (other, when) in enumerate(zip(alone, dates, strict=True))
            if j != index and other.error is None
        )
        results[index] = evaluate(replace(spec, prior_results=spec.prior_results + others))
    return results

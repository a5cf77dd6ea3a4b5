"""Breast: ASCO/CAP 2018 (affirmed 2023), her2-rules.md section 4.

The primitives here read the ISH into the table's column (Fig 2 single-probe
bands, Fig 3 dual-probe groups, the Fig 4-6 recount state); the rule set's
breast table says what each combination means.
"""

from __future__ import annotations

from service.her2.draft import Draft
from service.her2.model import IshCall, NextStep, Probe
from service.her2.numbers import describe
from service.her2.ruleset import IHC_2PLUS_KEYS, SAME_TISSUE_CATEGORIES
from service.her2.validation import Ihc, Ish


def breast_group(ish: Ish, draft: Draft) -> tuple[int, str]:
    """ASCO/CAP 2018 Fig 3: ratio first, then average HER2 copies."""
    th = draft.ruleset.thresholds
    her2 = ish.her2
    assert her2 is not None  # breast dual-probe validation requires it
    ratio_cut, low, high = (
        describe(th.her2_cep17_ratio),
        describe(th.avg_her2_copies_low),
        describe(th.avg_her2_copies_high),
    )
    if ish.ratio_ge(th.her2_cep17_ratio):
        group = 1 if her2 >= th.avg_her2_copies_low else 2
        cmp = f"≥ {low}" if group == 1 else f"< {low}"
        return group, f"{ish.ratio_text()} ≥ {ratio_cut}, average HER2 {describe(her2)} {cmp}"
    if her2 >= th.avg_her2_copies_high:
        group, cmp = 3, f"≥ {high}"
    elif her2 >= th.avg_her2_copies_low:
        group, cmp = 4, f"≥ {low} and < {high}"
    else:
        group, cmp = 5, f"< {low}"
    return group, f"{ish.ratio_text()} < {ratio_cut}, average HER2 {describe(her2)} {cmp}"


def _ish_category(ish: Ish | None, draft: Draft) -> tuple[str, str]:
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
        th = draft.ruleset.thresholds
        low, high = describe(th.avg_her2_copies_low), describe(th.avg_her2_copies_high)
        if her2 >= th.avg_her2_copies_high:
            band, cmp = "S>=6", f"≥ {high}"
        elif her2 >= th.avg_her2_copies_low:
            band, cmp = "S4-6", f"≥ {low} and < {high}"
        else:
            band, cmp = "S<4", f"< {low}"
        text = f"single-probe ISH average HER2 {describe(her2)} signals/cell {cmp}"
        draft.note("F2", f"ASCO/CAP 2018 Fig 2: {text}.")
        ish.flag_contradicting_call(draft, band == "S>=6", band == "S<4")
        return band, text
    group, text = breast_group(ish, draft)
    draft.ish_group = group
    draft.note("F3", f"ASCO/CAP 2018 Fig 3: {text} → ISH group {group}.")
    ish.flag_contradicting_call(draft, group == 1, group == 5)
    return {1: "G1", 5: "G5"}.get(group, "G2-4"), f"ISH group {group}"


def _recount_state(group: int | None, recount: Ish | None, draft: Draft) -> str:
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
    recount_group, text = breast_group(recount, draft)
    if recount_group == group:
        draft.note("R1", f"Blinded recount: {text} → still group {group}.")
        return f"G{group}:recount-same"
    draft.note("R1", f"Blinded recount: {text} → group {recount_group}, not group {group}.")
    return "G2-4:recount-changed"


def derive_breast(ihc: Ihc, ish: Ish | None, recount: Ish | None, draft: Draft) -> None:
    """Apply the breast table to validated inputs (her2-rules.md section 4)."""
    category, ish_text = _ish_category(ish, draft)
    ihc_key = ihc.key
    ihc_text = ihc.describe()
    if category in SAME_TISSUE_CATEGORIES and ihc.present and not ihc.same_specimen:
        ihc_key = "none"
        ihc_text += " on a different specimen (not usable for this step)"
    if category == "G2-4" and ihc_key in IHC_2PLUS_KEYS:
        category = _recount_state(draft.ish_group, recount, draft)
    row = draft.ruleset.breast.row(ihc_key, category)
    # The HER2-low/ultralow cells read the IHC as reported, also when it was set
    # aside for the row (B8: a known IHC 1+/2+/3+ from other tissue rules out ultralow).
    draft.apply_row(row, f"{ihc_text} with {ish_text}", ihc.key)
    if row.next_step is NextStep.NEGATIVE_WITH_REQUIRED_COMMENT and draft.ish_group:
        draft.required_comment = draft.ruleset.required_comments[draft.ish_group]
        draft.note("RC", f"Required report comment: {draft.required_comment}")
    if recount is not None and not category.startswith(("G2:", "G3:", "G4:", "G2-4:")):
        draft.note("R0", "A recount was supplied but this step does not use it.")


__all__ = ["breast_group", "derive_breast"]

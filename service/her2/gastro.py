"""Gastroesophageal adenocarcinoma (CAP/ASCP/ASCO 2016) and other sites.

her2-rules.md sections 5 and 6: IHC first; ISH positive at ratio >= 2.0
whatever the copy number; no HER2-low, no groups.  Outside breast and GEA only
IHC 3+ can be interpreted.
"""

from __future__ import annotations

from service.her2.draft import Draft
from service.her2.model import IshCall, Probe
from service.her2.numbers import describe
from service.her2.validation import Ihc, Ish


def derive_gastro(ihc: Ihc, ish: Ish | None, draft: Draft) -> None:
    """Apply the gastroesophageal table to validated inputs (her2-rules.md section 5)."""
    th = draft.ruleset.thresholds
    ratio_cut, high = describe(th.her2_cep17_ratio), describe(th.avg_her2_copies_high)
    if ish is None:
        category, ish_text = "none", "no ISH"
    elif not ish.quantitative:
        assert ish.call is not None
        category = {IshCall.AMPLIFIED: "pos", IshCall.NOT_AMPLIFIED: "neg"}.get(ish.call, "eq")
        ish_text = f"ISH {ish.call.value} ({ish.call_source})"
        meaning = {
            "pos": f"ratio ≥ {ratio_cut}",
            "neg": f"ratio < {ratio_cut} with < {high} copies",
            "eq": "equivocal",
        }[category]
        draft.note(
            "Q1",
            f"her2-rules.md section 5.3: ISH without usable numbers; {ish.call_source} "
            f"(call '{ish.call.value}') counts as {meaning}.",
        )
    elif ish.probe is Probe.SINGLE:
        assert ish.her2 is not None
        category = "single"
        # No gastroesophageal single-probe criterion: no call can contradict it.
        ish_text = f"single-probe ISH (average HER2 {describe(ish.her2)})"
    else:
        if ish.ratio_ge(th.her2_cep17_ratio):
            category, cmp = "pos", f"≥ {ratio_cut}"
        elif ish.her2 is not None and ish.her2 >= th.avg_her2_copies_high:
            category = "neg-high"
            cmp = f"< {ratio_cut} with average HER2 {describe(ish.her2)} ≥ {high}"
        else:
            copies = "absent" if ish.her2 is None else f"{describe(ish.her2)} < {high}"
            category, cmp = "neg", f"< {ratio_cut} with average HER2 {copies}"
        ish_text = f"dual-probe {ish.ratio_text()} {cmp}"
        draft.note("GR", f"CAP/ASCP/ASCO 2016 GEA ratio criterion: {ish_text}.")
        ish.flag_contradicting_call(draft, category == "pos", category == "neg")
    row = draft.ruleset.gastroesophageal.row(ihc.key, category)
    draft.apply_row(row, f"{ihc.describe()} with {ish_text}")


def derive_other(ihc: Ihc, ish: Ish | None, draft: Draft) -> None:
    """her2-rules.md section 6: only IHC 3+ is interpretable outside breast and GEA."""
    draft.apply_row(draft.ruleset.other.row(ihc.key, "any"), ihc.describe())
    if ish is not None:
        draft.note("O3", "ISH is not interpreted at this site (no site-specific guideline).")


__all__ = ["derive_gastro", "derive_other"]

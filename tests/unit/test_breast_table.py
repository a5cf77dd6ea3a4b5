"""Every row of the breast decision table (her2-rules.md section 4, ASCO/CAP 2018 Fig 1-6).

Each case names its row; ``L``/``U`` are her2_low/ultralow (None = unknown).
"""

from __future__ import annotations

import pytest

from service.her2 import IshInput, default_ruleset, evaluate
from tests.builders import dual, single, spec

P, N, E = "positive", "negative", "equivocal"
REVIEW = "pathologist_review_discordance"
COMMENT = "negative_with_required_comment"

G1 = dual("2.5", "5.0", "2.0")
G2 = dual("2.4", "3.6", "1.5")
G3 = dual("1.5", "6.6", "4.4")
G4 = dual("1.6", "4.8", "3.0")
G5 = dual("1.2", "2.4", "2.0")
S6 = single("6.0")
S46 = single("4.5")
S4 = single("3.0")

# (row, ihc, ish, recount, ihc_same_specimen, status, L, U, group, next_step)
Row = tuple[
    str,
    str | None,
    IshInput | None,
    IshInput | None,
    bool,
    str,
    bool | None,
    bool | None,
    int | None,
    str | None,
]
ROWS: list[Row] = [
    ("B1", "3+", None, None, True, P, False, False, None, None),
    ("B2", "2+", None, None, True, E, None, False, None, "order_reflex_ish"),
    ("B3", "1+", None, None, True, N, True, False, None, None),
    ("B4", "0", None, None, True, N, False, False, None, None),
    ("B5", "0-ultralow", None, None, True, N, False, True, None, None),
    ("B6", "3+", G1, None, True, P, False, False, 1, None),
    ("B6", "2+", G1, None, True, P, False, False, 1, None),
    ("B6", None, G1, None, True, P, False, False, 1, None),
    ("B7", "0", G1, None, True, P, False, False, 1, REVIEW),
    ("B7", "0-ultralow", G1, None, True, P, False, False, 1, REVIEW),
    ("B7", "1+", G1, None, True, P, False, False, 1, REVIEW),
    ("B8", None, G2, None, True, E, None, None, 2, "concurrent_ihc_review"),
    ("B8", None, G3, None, True, E, None, None, 3, "concurrent_ihc_review"),
    ("B8", None, G4, None, True, E, None, None, 4, "concurrent_ihc_review"),
    ("B8", "3+", G3, None, False, E, None, False, 3, "concurrent_ihc_review"),
    ("B8", "0", G4, None, False, E, None, None, 4, "concurrent_ihc_review"),
    ("B9", "3+", G2, None, True, P, False, False, 2, None),
    ("B9", "3+", G3, None, True, P, False, False, 3, None),
    ("B9", "3+", G4, None, True, P, False, False, 4, None),
    ("B10", "1+", G2, None, True, N, True, False, 2, COMMENT),
    ("B10", "0", G3, None, True, N, False, False, 3, COMMENT),
    ("B10", "0-ultralow", G4, None, True, N, False, True, 4, COMMENT),
    ("B11", "2+", G2, None, True, E, None, False, 2, "ish_recount_blinded_observer"),
    ("B11", "2+", G3, None, True, E, None, False, 3, "ish_recount_blinded_observer"),
    ("B11", "2+", G4, None, True, E, None, False, 4, "ish_recount_blinded_observer"),
    ("B12", "2+", G2, dual("2.3", "3.7", "1.6"), True, N, True, False, 2, COMMENT),
    ("B13", "2+", G3, dual("1.6", "6.4", "4.0"), True, P, False, False, 3, None),
    ("B14", "2+", G4, dual("1.7", "5.0", "3.0"), True, N, True, False, 4, COMMENT),
    ("B15", "2+", G2, dual("2.1", "4.2", "2.0"), True, E, None, False, 2, "internal_adjudication"),
    ("B15", "2+", G3, dual("1.5", "5.5", "3.67"), True, E, None, False, 3, "internal_adjudication"),
    ("B15", "2+", G4, dual("1.2", "3.0", "2.5"), True, E, None, False, 4, "internal_adjudication"),
    ("B16", "0", G5, None, True, N, False, False, 5, None),
    ("B16", "0-ultralow", G5, None, True, N, False, True, 5, None),
    ("B16", "1+", G5, None, True, N, True, False, 5, None),
    ("B16", "2+", G5, None, True, N, True, False, 5, None),
    ("B17", None, G5, None, True, N, None, None, 5, "order_ihc"),
    ("B18", "3+", G5, None, True, P, False, False, 5, REVIEW),
    ("B19", "2+", S6, None, True, P, False, False, None, None),
    ("B19", "3+", S6, None, True, P, False, False, None, None),
    ("B20", None, S6, None, True, P, False, False, None, "concurrent_ihc_review_recommended"),
    ("B21", "1+", S6, None, True, P, False, False, None, REVIEW),
    ("B21", "0-ultralow", S6, None, True, P, False, False, None, REVIEW),
    ("B22", "3+", S46, None, True, P, False, False, None, None),
    ("B23", "2+", S46, None, True, E, None, False, None, "order_dual_probe_ish"),
    ("B24", "1+", S46, None, True, N, True, False, None, None),
    ("B24", "0-ultralow", S46, None, True, N, False, True, None, None),
    ("B24", "0", S46, None, True, N, False, False, None, None),
    ("B25", None, S46, None, True, E, None, None, None, "order_ihc_and_or_dual_probe_ish"),
    ("B26", "2+", S4, None, True, N, True, False, None, None),
    ("B26", "0", S4, None, True, N, False, False, None, None),
    ("B27", None, S4, None, True, N, None, None, None, "order_ihc"),
    ("B28", "3+", S4, None, True, P, False, False, None, REVIEW),
]


def _id(row: Row) -> str:
    return f"{row[0]}-ihc{row[1]}-{'same' if row[4] else 'other'}-tissue-{row[5]}"


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_breast_row(row: Row) -> None:
    rule, ihc, ish, recount, same, status, low, ultralow, group, step = row
    result = evaluate(spec("breast", ihc, ish=ish, ish_recount=recount, ihc_same_specimen=same))
    assert result.status == status
    assert result.her2_low is low
    assert result.ultralow is ultralow
    assert result.ish_group == group
    assert (result.next_step.value if result.next_step else None) == step
    assert result.error is None
    assert rule in result.rule_ids


def test_b4_ultralow_unknown_when_ihc0_not_assessed() -> None:
    result = evaluate(spec("breast", "0", ihc0_ultralow_assessed=False))
    assert (result.status, result.her2_low, result.ultralow) == ("negative", False, None)
    assert "B4" in result.rule_ids


@pytest.mark.parametrize(("group", "ish"), [(2, G2), (3, G3), (4, G4)])
def test_b10_unassessed_ihc0_leaves_ultralow_unknown(group: int, ish: IshInput) -> None:
    result = evaluate(spec("breast", "0", ish=ish, ihc0_ultralow_assessed=False))
    assert result.status == "negative"
    assert result.ultralow is None
    assert result.ish_group == group


@pytest.mark.parametrize(("group", "ish", "recount"), [(2, G2, dual("2.3", "3.7", "1.6"))])
def test_required_comment_text_for_group_2(group: int, ish: IshInput, recount: IshInput) -> None:
    result = evaluate(spec("breast", "2+", ish=ish, ish_recount=recount))
    assert result.required_comment is not None
    assert f"group {group}" in result.required_comment
    assert "RC" in result.rule_ids
    assert any(result.required_comment in e.text for e in result.rationale)


@pytest.mark.parametrize(("group", "ish", "ihc"), [(3, G3, "1+"), (4, G4, "0")])
def test_required_comment_names_the_group(group: int, ish: IshInput, ihc: str) -> None:
    result = evaluate(spec("breast", ihc, ish=ish))
    assert result.required_comment is not None
    assert f"group {group}" in result.required_comment


def test_no_required_comment_for_group_5_negative() -> None:
    result = evaluate(spec("breast", "1+", ish=G5))
    assert result.required_comment is None
    assert "RC" not in result.rule_ids


def test_single_probe_band_with_ihc_from_other_tissue_is_treated_as_no_ihc() -> None:
    # Project choice (README): the 4.0-<6.0 band needs concurrent IHC on the same tissue.
    result = evaluate(spec("breast", "2+", ish=S46, ihc_same_specimen=False))
    assert result.status == "equivocal"
    assert result.next_step == "order_ihc_and_or_dual_probe_ish"
    assert "B25" in result.rule_ids


def test_recount_that_is_not_dual_probe_is_not_usable() -> None:
    result = evaluate(spec("breast", "2+", ish=G2, ish_recount=single("3.5")))
    assert result.status == "equivocal"
    assert result.next_step == "ish_recount_blinded_observer"
    assert "R1" in result.rule_ids


def test_recount_is_ignored_outside_groups_2_to_4() -> None:
    result = evaluate(spec("breast", "2+", ish=G5, ish_recount=dual("2.5", "5.0", "2.0")))
    assert result.status == "negative"
    assert "R0" in result.rule_ids


def test_derived_ratio_is_used_when_ratio_is_absent() -> None:
    # 8.0 / 4.0 = 2.0 exactly: group 1 (inclusive), and the sentence shows the derivation.
    result = evaluate(spec("breast", None, ish=dual(None, "8.0", "4.0")))
    assert result.ish_group == 1
    assert any("derived from 8.0/4.0" in e.text for e in result.rationale)


def test_rationale_quotes_the_numbers_and_the_figure() -> None:
    result = evaluate(spec("breast", "0-ultralow", ish=G4))
    text = " ".join(e.text for e in result.rationale)
    for needle in ("1.6", "4.8", "Fig 3", "group 4", "0-ultralow"):
        assert needle in text


def test_every_breast_row_is_in_the_table_and_tested() -> None:
    table_ids = {row.rule_id for row in default_ruleset().breast.rows}
    assert {f"B{i}" for i in range(1, 29)} <= table_ids
    tested = {row[0] for row in ROWS}
    # BQ1/BQ2 (qualitative ISH equivocal) and BQ3 (IHC reported only as Negative) are
    # tested in test_qualitative.py.
    assert table_ids - {"BQ1", "BQ2", "BQ3"} == tested

"""Every row of the gastroesophageal table (her2-rules.md section 5, CAP/ASCP/ASCO 2016)."""

from __future__ import annotations

import pytest

from service.her2 import IshInput, default_ruleset, evaluate
from tests.builders import dual, single, spec

POS = dual("2.5", "5.0", "2.0")
POS_NO_COPIES = dual("2.4", None, None)
NEG = dual("1.4", "2.8", "2.0")
NEG_NO_COPIES = dual("1.4", None, None)
NEG_HIGH = dual("1.5", "6.5", "4.33")
SP = single("7.0")
REVIEW = "pathologist_review_discordance"

# (row, ihc, ish, status, next_step)
ROWS = [
    ("G1", "3+", None, "positive", None),
    ("G1", "3+", SP, "positive", None),
    ("G1", "3+", POS, "positive", None),
    ("G2", "3+", NEG, "positive", REVIEW),
    ("G2", "3+", NEG_HIGH, "positive", REVIEW),
    ("G3", "0", None, "negative", None),
    ("G3", "0-ultralow", None, "negative", None),
    ("G3", "1+", SP, "negative", None),
    ("G3", "1+", NEG, "negative", None),
    ("G4", "0", POS, "negative", REVIEW),
    ("G4", "1+", POS_NO_COPIES, "negative", REVIEW),
    ("G5", "2+", None, "equivocal", "order_reflex_ish"),
    ("G6", "2+", POS, "positive", None),
    ("G6", "2+", POS_NO_COPIES, "positive", None),
    ("G6", None, POS, "positive", None),
    ("G7", "2+", NEG_HIGH, "equivocal", "pathologist_review"),
    ("G7", None, NEG_HIGH, "equivocal", "pathologist_review"),
    ("G8", "2+", NEG, "negative", None),
    ("G8", "2+", NEG_NO_COPIES, "negative", None),
    ("G9", None, NEG, "negative", "order_ihc"),
    ("G9", None, NEG_NO_COPIES, "negative", "order_ihc"),
    ("G10", "2+", SP, "equivocal", "pathologist_review"),
    ("G11", None, SP, "equivocal", "order_ihc"),
]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[0]}-ihc{r[1]}-{i}" for i, r in enumerate(ROWS)])
def test_gastro_row(row: tuple[object, ...]) -> None:
    rule, ihc, ish, status, step = row
    assert ish is None or isinstance(ish, IshInput)
    result = evaluate(spec("gastroesophageal", None if ihc is None else str(ihc), ish=ish))
    assert result.status == status
    assert (result.next_step.value if result.next_step else None) == step
    assert rule in result.rule_ids
    # No HER2-low, ultralow or ISH group for this site, whatever the inputs.
    assert (result.her2_low, result.ultralow, result.ish_group) == (None, None, None)
    assert result.error is None


def test_ratio_exactly_two_is_positive() -> None:
    assert evaluate(spec("gastroesophageal", "2+", ish=dual("2.0", None, None))).status == (
        "positive"
    )


def test_breast_groups_are_not_applied_to_gastro() -> None:
    # Breast group 2 (ratio >= 2.0, copies < 4.0) would need IHC review; GEA calls it positive.
    result = evaluate(spec("gastroesophageal", "2+", ish=dual("2.4", "3.6", "1.5")))
    assert result.status == "positive"
    assert result.ish_group is None


def test_gastro_dual_probe_without_copies_is_not_incomplete() -> None:
    assert evaluate(spec("gastroesophageal", None, ish=POS_NO_COPIES)).error is None


def test_every_gastro_row_is_in_the_table_and_tested() -> None:
    table_ids = {row.rule_id for row in default_ruleset().gastroesophageal.rows}
    assert {f"G{i}" for i in range(1, 12)} <= table_ids
    # GQ1-GQ3 (qualitative ISH equivocal) are tested in test_qualitative.py.
    assert table_ids - {"GQ1", "GQ2", "GQ3"} == {row[0] for row in ROWS}

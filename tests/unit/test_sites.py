"""Other sites (her2-rules.md section 6) and an unknown site (section 7)."""

from __future__ import annotations

import pytest

from service.her2 import evaluate
from tests.helpers import dual, single, spec


def test_other_site_ihc_3_plus_is_positive() -> None:
    result = evaluate(spec("other", "3+"))
    assert (result.status, result.next_step, result.interpretation) == ("positive", None, "final")
    assert "O1" in result.rule_ids
    assert (result.her2_low, result.ultralow, result.ish_group) == (None, None, None)


@pytest.mark.parametrize(
    ("ihc", "ish"),
    [
        ("2+", None),
        ("1+", None),
        ("0", None),
        (None, dual("3.0", "8.0", "2.67")),
        (None, single("9.0")),
        ("2+", dual("3.0", "8.0", "2.67")),
    ],
)
def test_other_site_anything_else_is_indeterminate(ihc: str | None, ish: object) -> None:
    result = evaluate(spec("other", ihc, ish=ish))
    assert result.status == "indeterminate"
    assert result.next_step == "no_site_specific_guideline"
    assert result.error is None
    assert result.interpretation == "preliminary"


def test_other_site_ish_alone_never_qualifies() -> None:
    result = evaluate(spec("other", None, ish=dual("5.0", "10.0", "2.0")))
    assert result.status != "positive"
    assert "O3" in result.rule_ids


def test_other_site_still_validates_input() -> None:
    assert evaluate(spec("other", "3+", ish=dual("-1", "4", "2"))).error == "invalid_value"


@pytest.mark.parametrize(
    ("ihc", "ish", "status", "step"),
    [
        ("3+", None, "positive", None),
        ("1+", None, "negative", None),
        ("0-ultralow", None, "negative", None),
        ("2+", None, "equivocal", "order_reflex_ish"),
        ("2+", dual("1.2", "2.4", "2.0"), "negative", None),
    ],
)
def test_unknown_site_reported_when_both_rule_sets_agree(
    ihc: str, ish: object, status: str, step: str | None
) -> None:
    result = evaluate(spec(None, ihc, ish=ish))
    assert (result.status, result.next_step) == (status, step)
    assert result.site is None
    # Not assigned without a site: HER2-low/ultralow are breast-only terms.
    assert (result.her2_low, result.ultralow, result.ish_group) == (None, None, None)
    assert result.rule_ids[0] == "U1"


@pytest.mark.parametrize(
    ("ihc", "ish"),
    [
        ("2+", dual("2.4", "3.6", "1.5")),  # breast group 2 needs recount; GEA positive
        (None, dual("2.5", None, None)),  # breast needs copies (error); GEA positive
        ("2+", single("7.0")),  # breast B19 positive; GEA G10 review
        ("1+", dual("1.2", "2.4", "2.0")),  # breast B16 vs GEA G3: same status and step
    ][:3],
)
def test_unknown_site_disagreement_asks_for_the_site(ihc: str | None, ish: object) -> None:
    result = evaluate(spec(None, ihc, ish=ish))
    assert (result.status, result.next_step) == ("indeterminate", "specify_tumor_site")
    assert result.error is None
    assert result.rule_ids[0] == "U2"
    assert any(e.text.startswith("[breast rules]") for e in result.rationale)
    assert any(e.text.startswith("[gastroesophageal rules]") for e in result.rationale)


def test_unknown_site_same_error_in_both_is_reported() -> None:
    result = evaluate(spec(None, "2+", ish=dual("3.0", "4.0", "4.0")))
    assert result.error == "inconsistent_ish_values"
    assert result.next_step == "correct_input"

"""Qualitative-only results (her2-rules.md section 5.3)."""

from __future__ import annotations

import pytest

from service.her2 import evaluate
from service.her2.inputs import ish_from
from tests.builders import dual, spec


@pytest.mark.parametrize(
    ("site", "ihc", "call", "status", "step", "rule"),
    [
        ("breast", None, "amplified", "positive", None, "B6"),
        ("breast", "1+", "amplified", "positive", "pathologist_review_discordance", "B7"),
        ("breast", "2+", "not-amplified", "negative", None, "B16"),
        ("breast", None, "not-amplified", "negative", "order_ihc", "B17"),
        ("breast", "3+", "not-amplified", "positive", "pathologist_review_discordance", "B18"),
        ("breast", None, "equivocal", "equivocal", "concurrent_ihc_review", "BQ2"),
        ("breast", "1+", "equivocal", "equivocal", "concurrent_ihc_review", "BQ2"),
        ("breast", "3+", "equivocal", "positive", None, "BQ1"),
        ("gastroesophageal", "2+", "amplified", "positive", None, "G6"),
        ("gastroesophageal", "2+", "not-amplified", "negative", None, "G8"),
        ("gastroesophageal", None, "not-amplified", "negative", "order_ihc", "G9"),
        ("gastroesophageal", "2+", "equivocal", "equivocal", "pathologist_review", "GQ3"),
        ("gastroesophageal", "3+", "equivocal", "positive", "pathologist_review", "GQ1"),
    ],
)
def test_ish_lab_call_only(
    site: str, ihc: str | None, call: str, status: str, step: str | None, rule: str
) -> None:
    result = evaluate(spec(site, ihc, ish=ish_from(lab_call=call)))
    assert result.status == status
    assert result.next_step == step
    assert result.ish_group is None  # a call alone never assigns a group
    assert {"Q1", rule} <= set(result.rule_ids)


def test_numbers_govern_and_contradicting_call_is_flagged() -> None:
    # Group 5 numbers with the lab saying "amplified": negative by the numbers, flagged.
    result = evaluate(spec("breast", "1+", ish=dual("1.2", "2.4", "2.0", lab_call="amplified")))
    assert result.status == "negative"
    assert result.ish_group == 5
    assert result.next_step == "pathologist_review_discordance"
    assert result.interpretation == "preliminary"
    assert "D1" in result.rule_ids


def test_call_agreeing_with_numbers_is_not_flagged() -> None:
    result = evaluate(spec("breast", "1+", ish=dual("1.2", "2.4", "2.0", lab_call="not-amplified")))
    assert result.next_step is None
    assert "D1" not in result.rule_ids


def test_gastro_contradicting_call_is_flagged() -> None:
    ish = dual("2.5", "5.0", "2.0", lab_call="not-amplified")
    result = evaluate(spec("gastroesophageal", "2+", ish=ish))
    assert result.status == "positive"
    assert result.next_step == "pathologist_review_discordance"


@pytest.mark.parametrize(
    ("text", "site", "ihc", "status"),
    [
        ("greater than 2.2", "gastroesophageal", "2+", "positive"),
        ("> 2.2", "gastroesophageal", "2+", "positive"),
        ("less than 1.8", "gastroesophageal", "2+", "negative"),
        ("<1.8", "breast", "2+", "negative"),
        ("at least 2.0", "gastroesophageal", "2+", "positive"),
    ],
)
def test_legacy_ratio_text_is_read_as_the_call_it_implies(
    text: str, site: str, ihc: str, status: str
) -> None:
    result = evaluate(spec(site, ihc, ish=ish_from(her2_cep17_ratio=text)))
    assert result.status == status
    assert "Q1" in result.rule_ids
    assert any(text in e.text for e in result.rationale)


@pytest.mark.parametrize("text", ["greater than 1.8", "less than 2.2", "<= 2.0", "over 1.99"])
def test_ambiguous_legacy_ratio_text_is_no_usable_call(text: str) -> None:
    result = evaluate(spec("gastroesophageal", "2+", ish=ish_from(her2_cep17_ratio=text)))
    assert result.status == "indeterminate"
    assert result.error == "incomplete_ish"
    assert any("no usable call" in e.text for e in result.rationale)


def test_unknown_ish_call_is_invalid_vocabulary() -> None:
    result = evaluate(spec("breast", "2+", ish=ish_from(lab_call="maybe")))
    assert (result.error, result.error_location) == ("invalid_vocabulary", "ish.lab_call")


@pytest.mark.parametrize(
    ("call", "site", "status", "step"),
    [
        ("positive", "breast", "positive", None),
        ("equivocal", "breast", "equivocal", "order_reflex_ish"),
        ("negative", "breast", "negative", None),
        ("positive", "gastroesophageal", "positive", None),
        ("negative", "gastroesophageal", "negative", None),
    ],
)
def test_ihc_call_without_score(call: str, site: str, status: str, step: str | None) -> None:
    result = evaluate(spec(site, None, ihc_call=call))
    assert result.status == status
    assert result.next_step == step
    assert "Q2" in result.rule_ids
    if status != "positive":
        # The score was not reported: HER2-low/ultralow stay unknown.
        assert (result.her2_low, result.ultralow) == (None, None)


def test_ihc_negative_call_with_group_2_gives_unknown_subclasses() -> None:
    result = evaluate(spec("breast", None, ihc_call="negative", ish=dual("2.4", "3.6", "1.5")))
    assert result.status == "negative"
    assert (result.her2_low, result.ultralow) == (None, None)


def test_unusable_ihc_answer_is_treated_as_absent_with_warning() -> None:
    result = evaluate(spec("breast", None, ihc_call="Present"))
    assert result.error == "missing_data"
    assert result.rule_ids[:2] == ("Q2", "V3")


def test_unusable_ihc_answer_with_ish_uses_ish_alone() -> None:
    result = evaluate(spec("breast", None, ihc_call="Present", ish=dual("1.2", "2.4", "2.0")))
    assert (result.status, result.next_step) == ("negative", "order_ihc")


def test_ihc_call_contradicting_score_is_flagged() -> None:
    result = evaluate(spec("breast", "1+", ihc_call="positive"))
    assert result.status == "negative"  # the score governs
    assert result.next_step == "pathologist_review_discordance"
    assert "D2" in result.rule_ids

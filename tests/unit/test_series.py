"""Several specimens over time (section 10) and the interpretation status (section 11)."""

from __future__ import annotations

import pytest

from service.her2 import evaluate, evaluate_series
from service.her2.inputs import prior_from
from tests.builders import dual, single, spec


def test_differing_prior_status_flags_heterogeneity_on_the_current_result() -> None:
    result = evaluate(spec("breast", "1+", prior_results=(prior_from(status="positive"),)))
    assert result.status == "negative"  # the prior never overrides
    assert result.next_step == "clinician_review_heterogeneity"
    assert result.interpretation == "final"
    assert "H1" in result.rule_ids


@pytest.mark.parametrize(
    ("current", "prior_score", "flagged"),
    [
        ("1+", "1+", False),
        ("2+", "1+", False),  # 2+ alone is equivocal, not final: section 10 does not apply
        ("0", "1+", True),  # HER2-0 vs HER2-low
        ("0-ultralow", "1+", True),  # ultralow vs low
        ("0-ultralow", "0", True),  # ultralow vs 0 (separate classes: T-DXd eligibility)
        ("0", "0", False),
    ],
)
def test_breast_negative_class_difference(current: str, prior_score: str, flagged: bool) -> None:
    prior = prior_from(status="negative", ihc_score=prior_score)
    result = evaluate(spec("breast", current, prior_results=(prior,)))
    assert ("H1" in result.rule_ids) is flagged


def test_heterogeneity_never_replaces_a_pending_workup_step() -> None:
    result = evaluate(spec("breast", "2+", prior_results=(prior_from(status="negative"),)))
    assert result.next_step == "order_reflex_ish"
    assert "H1" not in result.rule_ids  # only a final current result is compared


def test_heterogeneity_ranks_below_a_final_compatible_workup_step() -> None:
    prior = prior_from(status="positive")
    result = evaluate(spec("breast", None, ish=dual("1.2", "2.4", "2.0"), prior_results=(prior,)))
    assert result.next_step == "order_ihc"
    assert result.additional_steps == ("clinician_review_heterogeneity",)


def test_gastro_class_is_not_compared() -> None:
    prior = prior_from(status="negative", ihc_score="0")
    result = evaluate(spec("gastroesophageal", "1+", prior_results=(prior,)))
    assert result.next_step is None


def test_unreadable_prior_is_ignored_with_a_note() -> None:
    result = evaluate(spec("breast", "1+", prior_results=(prior_from(status="weird"),)))
    assert result.next_step is None
    assert "H0" in result.rule_ids


def test_series_flags_only_the_most_recent_specimen() -> None:
    older = spec("breast", "3+", collected="2021-03-02")
    newer = spec("breast", "1+", collected="2024-05-01")
    first, second = evaluate_series([newer, older])
    assert first.next_step == "clinician_review_heterogeneity"
    assert first.status == "negative"
    assert second.next_step is None
    assert second.status == "positive"


def test_series_concordant_specimens_are_not_flagged() -> None:
    results = evaluate_series(
        [spec("breast", "1+", collected="2024-02-01"), spec("breast", "1+", collected="2024-06-01")]
    )
    assert [r.next_step for r in results] == [None, None]


def test_series_undated_specimens_count_as_older() -> None:
    undated = spec("breast", "3+")
    dated = spec("breast", "1+", collected="2024-06-01")
    results = evaluate_series([undated, dated])
    assert results[0].next_step is None
    assert results[1].next_step == "clinician_review_heterogeneity"


def test_series_all_undated_are_all_compared() -> None:
    results = evaluate_series([spec("breast", "3+"), spec("breast", "1+")])
    assert [r.next_step for r in results] == ["clinician_review_heterogeneity"] * 2
    assert [r.status for r in results] == ["positive", "negative"]


def test_series_skips_invalid_specimens_as_priors() -> None:
    results = evaluate_series(
        [spec("breast", "9+", collected="2020-01-01"), spec("breast", "1+", collected="2024-01-01")]
    )
    assert results[1].next_step is None


@pytest.mark.parametrize(
    ("specimen", "interpretation"),
    [
        (spec("breast", "3+"), "final"),
        (spec("breast", "2+"), "preliminary"),  # equivocal
        (spec("breast", "1+", ihc_final=False), "preliminary"),  # a preliminary input
        (spec("breast", None, ish=dual("1.2", "2.4", "2.0", final=False)), "preliminary"),
        (spec("breast", "1+", ish=dual("2.5", "5.0", "2.0")), "preliminary"),  # discordance
        (spec("breast", "1+", ish=dual("2.4", "3.6", "1.5")), "final"),  # required comment
        (spec("breast", None, ish=dual("1.2", "2.4", "2.0")), "final"),  # order_ihc
        (spec("gastroesophageal", "2+", ish=dual("1.5", "6.5", "4.33")), "preliminary"),
        (spec(assay_failed=True), "final"),  # indeterminate, repeat on a new specimen
        (spec("other", "1+"), "preliminary"),
    ],
)
def test_interpretation_status(specimen: object, interpretation: str) -> None:
    result = evaluate(specimen)  # type: ignore[arg-type]
    assert result.interpretation == interpretation
    assert result.rule_ids[-1] == "S11"


def test_discordance_behind_a_workup_step_still_makes_it_preliminary() -> None:
    # Single-probe >= 6.0 without IHC (B20, final-compatible) but the lab called it
    # not amplified: the discordance ranks below the workup step yet blocks "final".
    result = evaluate(spec("breast", None, ish=single("7.0", lab_call="not-amplified")))
    assert result.next_step == "concurrent_ihc_review_recommended"
    assert result.additional_steps == ("pathologist_review_discordance",)
    assert result.interpretation == "preliminary"


@pytest.mark.parametrize("prior_status", ["equivocal", "indeterminate"])
def test_unresolved_priors_are_not_heterogeneity(prior_status: str) -> None:
    result = evaluate(spec("breast", "3+", prior_results=(prior_from(status=prior_status),)))
    assert result.next_step is None


def test_failed_assay_is_not_compared_with_priors() -> None:
    prior = prior_from(status="positive")
    result = evaluate(spec(assay_failed=True, prior_results=(prior,)))
    assert result.next_step == "repeat_test_new_specimen"
    assert result.additional_steps == ()

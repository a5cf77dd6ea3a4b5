"""her2-rules.md section 12: the mistakes naive code makes, one test each."""

from __future__ import annotations

from decimal import Decimal

from service.her2 import evaluate, evaluate_series
from service.her2.inputs import ish_from, prior_from
from tests.builders import dual, single, spec


def test_ihc_1_plus_is_not_positive() -> None:
    assert evaluate(spec("breast", "1+")).status == "negative"


def test_ihc_2_plus_is_not_final() -> None:
    result = evaluate(spec("breast", "2+"))
    assert (result.status, result.interpretation) == ("equivocal", "preliminary")


def test_no_2007_thresholds() -> None:
    # 2007: FISH ratio 2.0-2.2 was equivocal. 2018: ratio 2.1 with 4.2 copies is group 1.
    assert evaluate(spec("breast", None, ish=dual("2.1", "4.2", "2.0"))).status == "positive"


def test_group_2_is_not_positive_on_the_ratio() -> None:
    assert evaluate(spec("breast", None, ish=dual("2.4", "3.6", "1.5"))).status != "positive"


def test_group_3_is_not_positive_on_copy_number() -> None:
    assert evaluate(spec("breast", "1+", ish=dual("1.5", "6.6", "4.4"))).status == "negative"


def test_group_4_has_no_ish_equivocal_status() -> None:
    result = evaluate(spec("breast", "1+", ish=dual("1.6", "4.8", "3.0")))
    assert result.status == "negative"
    assert result.next_step == "negative_with_required_comment"


def test_blinded_recount_is_not_skipped() -> None:
    result = evaluate(spec("breast", "2+", ish=dual("1.6", "4.8", "3.0")))
    assert result.next_step == "ish_recount_blinded_observer"


def test_recount_changing_group_is_not_auto_resolved() -> None:
    result = evaluate(
        spec("breast", "2+", ish=dual("1.6", "4.8", "3.0"), ish_recount=dual("1.5", "6.3", "4.2"))
    )
    assert (result.status, result.next_step) == ("equivocal", "internal_adjudication")


def test_ihc_from_other_tissue_not_used_for_groups_2_to_4() -> None:
    result = evaluate(spec("breast", "3+", ish=dual("1.6", "4.8", "3.0"), ihc_same_specimen=False))
    assert result.status == "equivocal"


def test_off_by_one_at_the_thresholds() -> None:
    assert evaluate(spec("breast", None, ish=dual("2.0", "4.0", "2.0"))).ish_group == 1
    assert evaluate(spec("breast", None, ish=dual("1.99", "6.0", "3.02"))).ish_group == 3
    assert evaluate(spec("breast", None, ish=single("6.0"))).status == "positive"


def test_breast_groups_not_applied_to_gastro() -> None:
    result = evaluate(spec("gastroesophageal", "2+", ish=dual("1.6", "4.8", "3.0")))
    assert (result.status, result.ish_group) == ("negative", None)


def test_low_and_ultralow_not_emitted_for_positive_gastro_or_ish_only() -> None:
    positive = evaluate(spec("breast", "3+"))
    gastro = evaluate(spec("gastroesophageal", "1+"))
    ish_only = evaluate(spec("breast", None, ish=dual("1.2", "2.4", "2.0")))
    assert (positive.her2_low, positive.ultralow) == (False, False)
    assert (gastro.her2_low, gastro.ultralow) == (None, None)
    assert (ish_only.her2_low, ish_only.ultralow) == (None, None)


def test_ultralow_not_assumed_for_legacy_ihc_0() -> None:
    assert evaluate(spec("breast", "0", ihc0_ultralow_assessed=False)).ultralow is None


def test_no_floats_near_two() -> None:
    float_ratio = ish_from(probe="dual", her2_cep17_ratio=1.9999999999999998)
    assert evaluate(spec("gastroesophageal", "2+", ish=float_ratio)).error == "invalid_type"
    exact = dual("1.9999999999999998", None, None)
    assert evaluate(spec("gastroesophageal", "2+", ish=exact)).status == "negative"


def test_division_by_zero_cep17() -> None:
    result = evaluate(spec("breast", "2+", ish=dual(None, "4.0", "0")))
    assert result.error == "invalid_value"


def test_fewer_than_twenty_cells() -> None:
    ish = dual("2.5", "5.0", "2.0", cells_counted=Decimal(19))
    assert evaluate(spec("breast", "2+", ish=ish)).error == "insufficient_cells"


def test_newest_result_does_not_silently_override_older_specimens() -> None:
    results = evaluate_series(
        [spec("breast", "3+", collected="2021-01-01"), spec("breast", "1+", collected="2025-01-01")]
    )
    assert results[0].status == "positive"  # the older specimen keeps its own result
    assert results[1].next_step == "clinician_review_heterogeneity"
    direct = evaluate(spec("breast", "1+", prior_results=(prior_from(status="positive"),)))
    assert direct.next_step == "clinician_review_heterogeneity"

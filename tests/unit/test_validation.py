"""Validation (her2-rules.md section 3): each rule, its error code, location and order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.her2 import SpecimenInput, evaluate
from service.her2.inputs import ish_from, specimen_from
from tests.builders import dual, spec

# (name, specimen, error, next_step, error_location)
CASES = [
    ("V1-assay-failed", spec(assay_failed=True), None, "repeat_test_new_specimen", None),
    (
        "V1-assay-failed-not-bool",
        spec(ihc="1+", assay_failed="yes"),
        "invalid_type",
        "correct_input",
        "assay_failed",
    ),
    ("V2-ihc-4+", spec(ihc="4+"), "invalid_vocabulary", "correct_input", "ihc_score"),
    ("V2-ihc-2", spec(ihc="2"), "invalid_vocabulary", "correct_input", "ihc_score"),
    ("V2-ihc-3", spec(ihc="3"), "invalid_vocabulary", "correct_input", "ihc_score"),
    ("V2-ihc-0+", spec(ihc="0+"), "invalid_vocabulary", "correct_input", "ihc_score"),
    ("V2-ihc-int", spec(ihc=2), "invalid_type", "correct_input", "ihc_score"),  # type: ignore[arg-type]
    ("V2-site", spec(site="lung", ihc="3+"), "invalid_vocabulary", "correct_input", "site"),
    (
        "V2-flag-type",
        spec(ihc="0", ihc0_ultralow_assessed="no"),
        "invalid_type",
        "correct_input",
        "ihc0_ultralow_assessed",
    ),
    ("V3-missing", spec(), "missing_data", "obtain_her2_testing", None),
    # her2-rules.md section 3 item 7: an ISH that is present but carries nothing usable
    # is incomplete_ish, never "no ISH" (it used to fall through to missing_data).
    ("V4-blank-ish", spec(ish=ish_from()), "incomplete_ish", "correct_input", "ish"),
    (
        "V4-probe",
        spec(ish=ish_from(probe="triple", her2_cep17_ratio=Decimal(2))),
        "invalid_vocabulary",
        "correct_input",
        "ish.probe",
    ),
    (
        "V4-non-numeric",
        spec(ish=dual("abc", "4.0", "2.0")),
        "invalid_type",
        "correct_input",
        "ish.her2_cep17_ratio",
    ),
    (
        "V4-float-refused",
        spec(
            ish=ish_from(
                probe="dual",
                her2_cep17_ratio=2.0,
                avg_her2_copies=Decimal(4),
                avg_cep17_copies=Decimal(2),
            )
        ),
        "invalid_type",
        "correct_input",
        "ish.her2_cep17_ratio",
    ),
    (
        "V4-bool-refused",
        spec(ish=ish_from(probe="single", avg_her2_copies=True)),
        "invalid_type",
        "correct_input",
        "ish.avg_her2_copies",
    ),
    (
        "V4-nan",
        spec(ish=ish_from(probe="single", avg_her2_copies=Decimal("NaN"))),
        "invalid_type",
        "correct_input",
        "ish.avg_her2_copies",
    ),
    (
        "V4-infinity",
        spec(ish=ish_from(probe="single", avg_her2_copies=Decimal("Infinity"))),
        "invalid_value",
        "correct_input",
        "ish.avg_her2_copies",
    ),
    (
        "V4-cells-fraction",
        spec(ish=dual("2.5", "5.0", "2.0", cells_counted=Decimal("20.5"))),
        "invalid_type",
        "correct_input",
        "ish.cells_counted",
    ),
    (
        "V4-negative-ratio",
        spec(ihc="2+", ish=dual("-1.0", "4.0", "2.0")),
        "invalid_value",
        "correct_input",
        "ish.her2_cep17_ratio",
    ),
    (
        "V4-negative-copies",
        spec(ish=dual(None, "-4.0", "2.0")),
        "invalid_value",
        "correct_input",
        "ish.avg_her2_copies",
    ),
    (
        "V4-zero-her2",
        spec(ish=dual(None, "0", "2.0")),
        "invalid_value",
        "correct_input",
        "ish.avg_her2_copies",
    ),
    (
        "V4-zero-cep17",
        spec(ish=dual(None, "4.0", "0")),
        "invalid_value",
        "correct_input",
        "ish.avg_cep17_copies",
    ),
    (
        "V4-zero-ratio",
        spec(site="gastroesophageal", ish=dual("0", None, None)),
        "invalid_value",
        "correct_input",
        "ish.her2_cep17_ratio",
    ),
    (
        "V4-single-with-ratio",
        spec(ish=ish_from(probe="single", her2_cep17_ratio=Decimal(2), avg_her2_copies=Decimal(5))),
        "invalid_value",
        "correct_input",
        "ish.probe",
    ),
    (
        "V4-single-with-cep17",
        spec(ish=ish_from(probe="single", avg_cep17_copies=Decimal(2), avg_her2_copies=Decimal(5))),
        "invalid_value",
        "correct_input",
        "ish.probe",
    ),
    (
        "V4-cells-19",
        spec(ish=dual("2.5", "5.0", "2.0", cells_counted=19)),
        "insufficient_cells",
        "count_additional_cells",
        "ish.cells_counted",
    ),
    (
        "V4-dual-no-ratio",
        spec(ish=dual(None, "4.0", None)),
        "incomplete_ish",
        "correct_input",
        "ish.her2_cep17_ratio",
    ),
    (
        "V4-single-no-copies",
        spec(ish=ish_from(probe="single", cells_counted=40)),
        "incomplete_ish",
        "correct_input",
        "ish",
    ),
    (
        "V4-breast-dual-no-copies",
        spec(ihc="2+", ish=dual("2.5", None, None)),
        "incomplete_ish",
        "correct_input",
        "ish.avg_her2_copies",
    ),
    (
        "V4-inconsistent",
        spec(ihc="2+", ish=dual("3.0", "4.0", "4.0")),
        "inconsistent_ish_values",
        "correct_input",
        "ish.her2_cep17_ratio",
    ),
    (
        "V6-recount-invalid",
        spec(
            ihc="2+",
            ish=dual("2.4", "3.6", "1.5"),
            ish_recount=dual("2.4", "3.6", "1.5", cells_counted=10),
        ),
        "insufficient_cells",
        "count_additional_cells",
        "ish_recount.cells_counted",
    ),
    (
        "V6-recount-inconsistent",
        spec(ihc="2+", ish=dual("2.4", "3.6", "1.5"), ish_recount=dual("9.9", "3.6", "1.5")),
        "inconsistent_ish_values",
        "correct_input",
        "ish_recount.her2_cep17_ratio",
    ),
]


@pytest.mark.parametrize(
    ("name", "specimen", "error", "step", "where"), CASES, ids=[c[0] for c in CASES]
)
def test_validation_rule(
    name: str, specimen: SpecimenInput, error: str | None, step: str, where: str | None
) -> None:
    result = evaluate(specimen)
    assert result.status == "indeterminate"
    assert result.error == error
    assert result.next_step == step
    assert result.error_location == where
    assert (result.her2_low, result.ultralow, result.ish_group) == (None, None, None)
    # The failing validation step is the last rule before the interpretation status.
    assert result.rule_ids[-2:] == (name.split("-", maxsplit=1)[0], "S11")


def test_ratio_tolerance_is_inclusive_at_exactly_five_percent() -> None:
    # 4.0/2.0 = 2.0; 2.1 is exactly 5 % above: accepted, and the reported 2.1 governs.
    assert evaluate(spec(ish=dual("2.1", "4.0", "2.0"))).error is None
    assert evaluate(spec(ish=dual("1.9", "4.0", "2.0"))).error is None
    assert evaluate(spec(ish=dual("2.1001", "4.0", "2.0"))).error == "inconsistent_ish_values"
    assert evaluate(spec(ish=dual("1.8999", "4.0", "2.0"))).error == "inconsistent_ish_values"


def test_reported_ratio_governs_within_tolerance() -> None:
    # Reported 1.99 with 4.0/1.96 = 2.0408...: within 5 %, so 1.99 (< 2.0) decides: group 4.
    result = evaluate(spec("breast", "1+", ish=dual("1.99", "4.0", "1.96")))
    assert result.ish_group == 4
    assert "V5" in result.rule_ids


def test_cells_exactly_twenty_are_enough() -> None:
    assert evaluate(spec(ish=dual("2.5", "5.0", "2.0", cells_counted=20))).error is None


def test_assay_failure_wins_over_every_other_problem() -> None:
    result = evaluate(spec(site="lung", ihc="9+", assay_failed=True))
    assert result.error is None
    assert result.next_step == "repeat_test_new_specimen"
    assert result.interpretation == "final"


def test_first_hit_wins_vocabulary_before_ish_checks() -> None:
    result = evaluate(spec(ihc="4+", ish=dual("-1", "4.0", "2.0")))
    assert result.error == "invalid_vocabulary"


def test_ish_type_check_before_value_check() -> None:
    result = evaluate(spec(ish=dual("-1", "abc", "2.0")))
    assert result.error == "invalid_type"


def test_negative_checked_before_cell_count() -> None:
    result = evaluate(spec(ish=dual("-1", "4.0", "2.0", cells_counted=5)))
    assert result.error == "invalid_value"


def test_no_upper_plausibility_limit() -> None:
    result = evaluate(spec("breast", None, ish=dual("25.0", "50.0", "2.0")))
    assert (result.status, result.ish_group) == ("positive", 1)


def test_hostile_exponent_is_refused_without_hanging() -> None:
    huge = Decimal("1E+999999999")
    result = evaluate(spec(ish=ish_from(probe="single", avg_her2_copies=huge)))
    assert result.error == "invalid_value"


def test_not_a_specimen_is_an_error_result() -> None:
    result = evaluate("breast 3+")  # type: ignore[arg-type]
    assert (result.status, result.error) == ("indeterminate", "invalid_type")


def test_ish_that_is_not_an_ish_record() -> None:
    result = evaluate(specimen_from(site="breast", ish="dual probe, ratio 2.4"))
    assert (result.error, result.error_location) == ("invalid_type", "ish")


def test_error_results_are_preliminary() -> None:
    assert evaluate(spec(ihc="4+")).interpretation == "preliminary"
    assert evaluate(spec()).interpretation == "preliminary"


def test_ihc_spacing_and_case_are_tolerated() -> None:
    assert evaluate(spec(ihc=" 2 +")).status == "equivocal"
    assert evaluate(spec(ihc="0-ULTRALOW")).ultralow is True

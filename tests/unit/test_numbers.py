"""Exact decimal handling: inclusive boundaries, no floats, no division (section 1)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from service.her2 import evaluate
from service.her2.numbers import (
    Bound,
    NumberProblem,
    Side,
    exact_product,
    parse_bound,
    parse_count,
    parse_decimal,
    ratio_at_least,
    within_relative_tolerance,
)
from tests.builders import dual, single, spec


@pytest.mark.parametrize(
    ("ratio", "her2", "cep17", "group"),
    [
        ("2.0", "4.0", "2.0", 1),
        ("2.00", "4.00", "2.00", 1),
        ("1.99", "4.0", "2.01", 4),
        ("2.0", "3.99", "2.0", 2),
        ("1.99", "6.0", "3.02", 3),
        ("1.99", "5.99", "3.01", 4),
        ("1.99", "3.99", "2.0", 5),
        ("1.999999999999", "4.0", "2.0", 4),
    ],
)
def test_breast_group_boundaries_are_inclusive(
    ratio: str, her2: str, cep17: str, group: int
) -> None:
    assert evaluate(spec("breast", None, ish=dual(ratio, her2, cep17))).ish_group == group


@pytest.mark.parametrize(
    ("copies", "rule"), [("6.0", "B20"), ("5.99", "B25"), ("4.0", "B25"), ("3.99", "B27")]
)
def test_single_probe_boundaries(copies: str, rule: str) -> None:
    assert rule in evaluate(spec("breast", None, ish=single(copies))).rule_ids


def test_derived_ratio_just_below_two_is_below_two() -> None:
    # 3.9999999999999999999999999999999 / 2 is below 2.0 by 5e-32: a 28-digit
    # division would round it to 2.0; the exact comparison does not.
    her2 = D("3.9999999999999999999999999999999")
    assert not ratio_at_least(D("2.0"), None, her2, D("2"))
    result = evaluate(spec("gastroesophageal", "2+", ish=dual(None, str(her2), "2")))
    assert result.status == "negative"


def test_parse_decimal_refuses_floats_and_bools() -> None:
    assert parse_decimal(2.0).problem is NumberProblem.NOT_NUMERIC
    assert parse_decimal(True).problem is NumberProblem.NOT_NUMERIC
    assert parse_decimal(" 2.10 ").value == D("2.10")
    assert str(parse_decimal("2.10").value) == "2.10"  # trailing zero kept: never re-rounded
    assert parse_decimal(3).value == D(3)
    assert parse_decimal("1e3").value == D(1000)


def test_parse_count() -> None:
    assert parse_count("20").value == D(20)
    assert parse_count(D("20.0")).value == D(20)
    assert parse_count(D("20.5")).problem is NumberProblem.NOT_INTEGER


def test_exact_product_never_rounds() -> None:
    a = D("1.2345678901234567890123456789")
    b = D("9.8765432109876543210987654321")
    assert exact_product(a, b) == D("12.19326311370217952261850327336229233322374638011112635269")


@pytest.mark.parametrize(
    ("reported", "ok"), [("2.1", True), ("1.9", True), ("2.10001", False), ("1.89999", False)]
)
def test_tolerance_boundary(reported: str, ok: bool) -> None:
    assert within_relative_tolerance(D(reported), D("4.0"), D("2.0"), D(5)) is ok


@pytest.mark.parametrize(
    ("text", "bound", "side"),
    [
        ("greater than 2.2", Bound(">", D("2.2")), Side.AT_OR_ABOVE),
        ("Greater  Than 2.0", Bound(">", D("2.0")), Side.AT_OR_ABOVE),
        (">=2.0", Bound(">=", D("2.0")), Side.AT_OR_ABOVE),
        ("≥ 2", Bound(">=", D("2")), Side.AT_OR_ABOVE),
        ("less than 1.8", Bound("<", D("1.8")), Side.BELOW),
        ("< 2.0", Bound("<", D("2.0")), Side.BELOW),
        ("<= 1.99", Bound("<=", D("1.99")), Side.BELOW),
        ("greater than 1.8", Bound(">", D("1.8")), None),
        ("less than 2.2", Bound("<", D("2.2")), None),
        ("<= 2.0", Bound("<=", D("2.0")), None),
    ],
)
def test_parse_bound(text: str, bound: Bound, side: Side | None) -> None:
    assert parse_bound(text) == bound
    assert bound.side_of(D("2.0")) is side


@pytest.mark.parametrize("text", ["amplified", "2.2 or more", "greater than", "> two", ""])
def test_parse_bound_rejects_other_text(text: str) -> None:
    assert parse_bound(text) is None

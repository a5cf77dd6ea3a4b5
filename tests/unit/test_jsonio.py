"""Exact decimals through FHIR JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.fhir import jsonio


def test_decimals_round_trip_exactly() -> None:
    text = '{"a": 1.20, "b": [2.0, {"c": 1e-3}], "d": 3, "e": "1.5"}'
    value = jsonio.loads(text)
    assert value["a"] == Decimal("1.20")
    assert str(value["a"]) == "1.20"
    assert jsonio.dumps(value) == '{"a": 1.20, "b": [2.0, {"c": 0.001}], "d": 3, "e": "1.5"}'


def test_strings_that_look_like_placeholders_are_untouched() -> None:
    assert jsonio.dumps({"s": "__decimal_x__1"}) == '{"s": "__decimal_x__1"}'


def test_non_finite_decimal_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        jsonio.dumps({"v": Decimal("NaN")})

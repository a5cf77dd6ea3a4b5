"""Strict JSON reading: repeated keys, text that is not UTF-8, lone surrogates."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.fhir import jsonio


@pytest.mark.parametrize(
    "text",
    [
        b'{"valueString": "3+", "valueString": "0"}',
        b'{"a": [{"b": {"c": 1, "c": 1}}]}',
        '{"a": 1, "a": 1}',
    ],
)
def test_a_repeated_key_anywhere_is_refused(text: str | bytes) -> None:
    with pytest.raises(jsonio.JsonError, match="repeats a key"):
        jsonio.loads(text)


@pytest.mark.parametrize("text", [b'"\\ud800"', b'{"a": ["x\\uDFFF"]}', '{"\\udbff": 1}'])
def test_a_lone_surrogate_is_refused(text: str | bytes) -> None:
    with pytest.raises(jsonio.JsonError, match="surrogate"):
        jsonio.loads(text)


def test_a_surrogate_pair_and_an_escaped_backslash_are_text() -> None:
    assert jsonio.loads(b'["\\ud83d\\ude00", "\\\\ud800"]') == ["\U0001f600", "\\ud800"]


def test_bytes_that_are_not_utf8_are_refused_with_our_words() -> None:
    with pytest.raises(jsonio.JsonError) as caught:
        jsonio.loads(b'{"name": "Zebulon\xe9"}')
    assert "Zebulon" not in str(caught.value)


def test_the_json_module_message_never_passes() -> None:
    with pytest.raises(jsonio.JsonError) as caught:
        jsonio.loads('{"name": "Zebulon",}')
    assert str(caught.value) == "The body is not valid JSON."


def test_decimals_stay_exact() -> None:
    value = jsonio.loads(b'{"ratio": 2.20, "n": 3, "e": 1E-3}')
    assert str(value["ratio"]) == "2.20"
    assert value["n"] == 3
    assert value["e"] == Decimal("0.001")

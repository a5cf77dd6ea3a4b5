"""The typed boundary (service.her2.inputs): reported values in, typed rule inputs out."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from service.her2 import ErrorCode, IhcCall, IhcScore, Invalid, IshCall, Probe, Site, Status
from service.her2.inputs import (
    count_from,
    date_from,
    decimal_from,
    flag_from,
    ihc_call_from,
    ihc_score_from,
    ish_call_from,
    ish_from,
    prior_from,
    probe_from,
    ratio_from,
    site_from,
    specimen_from,
)
from service.her2.numbers import Bound

TYPE, VOCAB, VALUE = ErrorCode.INVALID_TYPE, ErrorCode.INVALID_VOCABULARY, ErrorCode.INVALID_VALUE
RULES = Path(__file__).resolve().parents[3] / "service" / "her2"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2+", IhcScore.TWO), (" 2 + ", IhcScore.TWO), ("0-Ultralow", IhcScore.ZERO_ULTRALOW)],
)
def test_ihc_scores(raw: str, expected: IhcScore) -> None:
    assert ihc_score_from(raw) is expected


@pytest.mark.parametrize(("raw", "error"), [("4+", VOCAB), ("17", VOCAB), (27, TYPE), (True, TYPE)])
def test_ihc_score_outside_the_scale_is_marked(raw: object, error: ErrorCode) -> None:
    marked = ihc_score_from(raw)
    assert isinstance(marked, Invalid)
    assert marked.error is error
    assert str(raw) not in marked.detail  # a marker never quotes the value


def test_codes_of_every_vocabulary() -> None:
    assert site_from("Breast") is Site.BREAST
    assert site_from(None) is None
    assert isinstance(site_from("lung"), Invalid)
    assert ihc_call_from("positive") is IhcCall.POSITIVE
    assert isinstance(ihc_call_from("present"), Invalid)
    assert probe_from("dual-probe") is Probe.DUAL
    assert probe_from("single") is Probe.SINGLE
    assert ish_call_from("not_amplified") is IshCall.NOT_AMPLIFIED
    assert prior_from(status="negative").status is Status.NEGATIVE
    assert isinstance(prior_from(status="maybe").status, Invalid)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2.0", Decimal("2.0")),
        (Decimal("1.99"), Decimal("1.99")),
        (3, Decimal(3)),
        (2.0, Invalid(TYPE, "not a number")),  # a float has lost the reported value
        ("abc", Invalid(TYPE, "not a number")),
        (Decimal("NaN"), Invalid(TYPE, "not a number")),
        (Decimal("Infinity"), Invalid(VALUE, "not a finite number")),
        ("1e9999", Invalid(VALUE, "not a finite number")),
        (None, None),
    ],
)
def test_decimals_stay_exact(raw: object, expected: object) -> None:
    assert decimal_from(raw) == expected


def test_counts_are_whole_numbers() -> None:
    assert count_from("40") == 40
    assert count_from(Decimal("20.0")) == 20
    assert count_from("20.5") == Invalid(TYPE, "not a whole number")


def test_legacy_ratio_text_becomes_a_bound_that_keeps_its_text() -> None:
    bound = ratio_from("greater than 2.2")
    assert bound == Bound(">", Decimal("2.2"))
    assert isinstance(bound, Bound)
    assert bound.text == "greater than 2.2"
    assert ratio_from("amplified-ish") == Invalid(TYPE, "neither a number nor a bounded value")
    assert ratio_from("2.4") == Decimal("2.4")


def test_flags_and_dates() -> None:
    assert flag_from(False) is False
    assert flag_from("no") == Invalid(TYPE, "not true or false")
    assert date_from("2026-01-10T09:00:00Z") == dt.date(2026, 1, 10)
    assert date_from("yesterday") is None


def test_specimen_from_public_case_fields() -> None:
    specimen = specimen_from(
        site="breast",
        ihc_score="2+",
        ish={"probe": "dual", "her2_cep17_ratio": Decimal("2.4"), "avg_her2_copies": "3.6"},
        prior_results=[{"status": "positive", "date": "2025-01-01"}],
    )
    assert specimen.site is Site.BREAST
    assert specimen.ihc_score is IhcScore.TWO
    assert specimen.ish == ish_from(probe="dual", her2_cep17_ratio="2.4", avg_her2_copies="3.6")
    assert specimen.prior_results[0].status is Status.POSITIVE
    assert specimen_from(ish="not a record").ish == Invalid(TYPE, "not an ISH result")
    assert specimen_from(ish={"ratio": "2.4"}).ish == Invalid(TYPE, "not an ISH result")


RULE_MODULES = ["engine", "validation", "breast", "gastro", "priority", "series", "draft"]


@pytest.mark.parametrize("module", RULE_MODULES)
def test_the_rules_never_parse_reported_text(module: str) -> None:
    tree = ast.parse((RULES / f"{module}.py").read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert not {n for n in imported if n.startswith("parse_")}
    assert "service.her2.inputs" not in {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    }

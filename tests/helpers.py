"""Builders shared by the tests: short literals in, engine inputs out (Decimals, never floats)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from service.her2 import Her2Result, IshInput, PriorResult, SpecimenInput


def dec(value: object) -> object:
    """Strings that look numeric become Decimal; everything else passes through."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def dual(ratio: str | None, her2: str | None, cep17: str | None, **extra: Any) -> IshInput:
    return IshInput(
        probe="dual",
        her2_cep17_ratio=dec(ratio),
        avg_her2_copies=dec(her2),
        avg_cep17_copies=dec(cep17),
        **extra,
    )


def single(her2: str, **extra: Any) -> IshInput:
    return IshInput(probe="single", avg_her2_copies=dec(her2), **extra)


def spec(site: str | None = "breast", ihc: str | None = None, **kw: Any) -> SpecimenInput:
    return SpecimenInput(site=site, ihc_score=ihc, **kw)


def spec_from_case(case: dict[str, Any]) -> SpecimenInput:
    """A public case (tests/fixtures/cases/public-cases.json, loaded with parse_float=Decimal)."""
    inputs = case["inputs"]

    def ish(data: dict[str, Any] | None) -> IshInput | None:
        return None if data is None else IshInput(**data)

    return SpecimenInput(
        site=case["site"],
        ihc_score=inputs.get("ihc_score"),
        ihc0_ultralow_assessed=inputs.get("ihc0_ultralow_assessed", True),
        ish=ish(inputs.get("ish")),
        ish_recount=ish(inputs.get("ish_recount")),
        ihc_same_specimen=inputs.get("ihc_same_specimen", True),
        assay_failed=inputs.get("assay_failed", False),
        prior_results=tuple(PriorResult(**p) for p in inputs.get("prior_results", [])),
    )


def summary(result: Her2Result) -> dict[str, object]:
    """The fields of a result in the public cases' vocabulary."""
    return {
        "status": result.status.value,
        "her2_low": result.her2_low,
        "ultralow": result.ultralow,
        "ish_group": result.ish_group,
        "next_step": result.next_step.value if result.next_step else None,
        "error": result.error.value if result.error else None,
    }

"""Rule-level inputs: short literals in, typed engine inputs out.

They go through the same typed boundary as every reader (``service.her2.inputs``):
strings that look numeric become ``Decimal`` (never floats), codes become enums, and
anything else becomes the ``Invalid`` marker the rules report.
"""

from __future__ import annotations

from typing import Any

from service.her2 import Her2Result, IshInput, SpecimenInput
from service.her2.inputs import ish_from, specimen_from


def dual(ratio: str | None, her2: str | None, cep17: str | None, **extra: Any) -> IshInput:
    return ish_from(
        probe="dual", her2_cep17_ratio=ratio, avg_her2_copies=her2, avg_cep17_copies=cep17, **extra
    )


def single(her2: str, **extra: Any) -> IshInput:
    return ish_from(probe="single", avg_her2_copies=her2, **extra)


def spec(site: str | None = "breast", ihc: str | None = None, **kw: Any) -> SpecimenInput:
    return specimen_from(site=site, ihc_score=ihc, **kw)


def spec_from_case(case: dict[str, Any]) -> SpecimenInput:
    """A public case (tests/fixtures/cases/public-cases.json, loaded with parse_float=Decimal)."""
    inputs = case["inputs"]
    return specimen_from(
        site=case["site"],
        ihc_score=inputs.get("ihc_score"),
        ihc0_ultralow_assessed=inputs.get("ihc0_ultralow_assessed", True),
        ish=inputs.get("ish"),
        ish_recount=inputs.get("ish_recount"),
        ihc_same_specimen=inputs.get("ihc_same_specimen", True),
        assay_failed=inputs.get("assay_failed", False),
        prior_results=inputs.get("prior_results", []),
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

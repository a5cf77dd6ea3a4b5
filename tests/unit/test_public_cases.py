"""Every public worked example of the clinical specification runs and passes.

The examples are kept in the repository (``tests/fixtures/cases/public-cases.json``, a
verbatim copy of the project's published worked examples), so the suite passes on a bare
clone.
A missing file fails the suite; it is never skipped silently.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.her2 import evaluate
from tests.builders import CASES_FILE, public_cases, spec_from_case, summary

CASES = public_cases()


def test_public_cases_file_is_present() -> None:
    assert CASES_FILE.is_file(), f"public cases not found at {CASES_FILE}"
    assert len(CASES) >= 49


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_public_case(case: dict[str, Any]) -> None:
    result = evaluate(spec_from_case(case))
    assert summary(result) == case["expected"], case["why"]
    assert result.ruleset.id == "her2-status-rules"
    assert result.rationale, "every result explains itself"

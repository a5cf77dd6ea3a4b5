"""Golden files: FHIR input in, exact FHIR output out (read → rules → write).

Inputs live in tests/fixtures/inputs, expected Bundles (or OperationOutcomes when
nothing could be derived) in tests/fixtures/expected.  To regenerate after an
intended change: ``HER2_UPDATE_GOLDEN=1 scripts/test -k golden``, then review
the diff of tests/fixtures/expected like code.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.app.derivation import derive
from tests.builders import FIXTURES as FIXTURES  # noqa: PLC0414 (re-exported: test_outbound.py)
from tests.builders import NOW

INPUTS = sorted((FIXTURES / "inputs").glob("*.json"))
UPDATE = os.environ.get("HER2_UPDATE_GOLDEN") == "1"


def run(path: Path) -> dict[str, Any]:
    payload = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    derivation = derive(payload, NOW)
    return derivation.bundle if derivation.usable else derivation.outcome()


def test_there_are_golden_inputs() -> None:
    assert len(INPUTS) >= 12


@pytest.mark.parametrize("path", INPUTS, ids=[p.stem for p in INPUTS])
def test_golden(path: Path) -> None:
    expected_path = FIXTURES / "expected" / path.name
    actual = run(path)
    if UPDATE:
        expected_path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert expected_path.is_file(), f"no golden file for {path.name}"
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert actual == expected


@pytest.mark.parametrize("path", INPUTS, ids=[p.stem for p in INPUTS])
def test_output_is_deterministic(path: Path) -> None:
    assert run(path) == run(path)

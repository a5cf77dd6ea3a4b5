"""Every output of the golden runs parses with its fhir.resources R4B model."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

EXPECTED = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "expected").glob("*.json"))


def _parse(resource: dict[str, Any]) -> None:
    rtype = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}")
    getattr(module, rtype).model_validate(resource)


@pytest.mark.parametrize("path", EXPECTED, ids=[p.stem for p in EXPECTED])
def test_every_output_parses_with_r4b(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    _parse(document)
    for entry in document.get("entry", []):
        _parse(entry["resource"])
        assert entry["fullUrl"].startswith("urn:uuid:")

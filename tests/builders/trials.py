"""Shared helpers for the trial-matching tests (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.trials.model import Study

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trials"
CORPUS = FIXTURES / "eligibility_corpus.json"
CTGOV = FIXTURES / "ctgov"


def corpus() -> list[dict[str, Any]]:
    """The cited eligibility sentences with their expected extraction."""
    sentences: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))["sentences"]
    return sentences


def study(
    eligibility: str,
    conditions: tuple[str, ...] = ("Breast Cancer",),
    *,
    study_id: str = "NCT00000000",
    status: str = "RECRUITING",
    phases: tuple[str, ...] = ("PHASE3",),
    keywords: tuple[str, ...] = (),
    title: str = "",
) -> Study:
    """A study with the given eligibility text."""
    return Study(study_id, title, status, phases, conditions, keywords, eligibility)


MCODE = FIXTURES / "mcode"


def mcode_request(name: str) -> dict[str, Any]:
    """A ``/getClinicalTrial`` body in the mCODE library's shape (``fixtures/trials/mcode``)."""
    body: dict[str, Any] = json.loads((MCODE / f"{name}.json").read_text(encoding="utf-8"))
    return body


def with_parameters(body: dict[str, Any], **values: object) -> dict[str, Any]:
    """The body with its Parameters entry replaced by ``values`` as ``valueString``."""
    entries = [e for e in body["entry"] if e["resource"]["resourceType"] != "Parameters"]
    parameter = [{"name": k, "valueString": v} for k, v in values.items()]
    entries.append({"resource": {"resourceType": "Parameters", "parameter": parameter}})
    return {**body, "entry": entries}

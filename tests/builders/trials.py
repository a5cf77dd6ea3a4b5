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

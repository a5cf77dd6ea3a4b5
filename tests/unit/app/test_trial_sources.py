"""Trial sources behind the TrialSource port, and matching one patient against them."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from service.app.derivation import derive
from service.app.trial_matching import NO_RESULT, match_patient
from service.app.trial_sources import CtgovDirectory, TrialSource, all_studies
from service.fhir.outbound import Derived
from service.fhir.trial_request import TrialFilters, read_filters
from service.trials.matching import Outcome
from service.trials.model import Study
from tests.builders import BREAST, NOW, bundle, ihc_score, specimen
from tests.builders.trials import CTGOV, study


class _Listed:
    """A source of studies in hand (a FHIR source satisfies the port the same way)."""

    def __init__(self, *studies: Study) -> None:
        self.listed = studies

    def studies(self) -> Sequence[Study]:
        return self.listed


def test_a_directory_is_read_once(tmp_path: Path) -> None:
    shutil.copy(CTGOV / "NCT03734029.json", tmp_path)
    source: TrialSource = CtgovDirectory(tmp_path)
    assert [s.study_id for s in source.studies()] == ["NCT03734029"]
    shutil.copy(CTGOV / "NCT02614794.json", tmp_path)
    assert [s.study_id for s in source.studies()] == ["NCT03734029"]  # until a restart


def test_a_study_in_two_sources_is_kept_once_first_source_first() -> None:
    first = _Listed(study("HER2-low", study_id="NCT1", title="downloaded"))
    second = _Listed(study("HER2-low", study_id="NCT1", title="stored"), study("", study_id="X"))
    assert [(s.study_id, s.title) for s in all_studies([first, second])] == [
        ("NCT1", "downloaded"),
        ("X", ""),
    ]


def _breast_ihc(score: str) -> list[Derived]:
    payload = bundle(specimen("s", body_site=BREAST), ihc_score("i", score, specimen="Specimen/s"))
    return list(derive(payload, NOW).derived)


def test_a_patient_is_matched_against_every_source_with_the_filters() -> None:
    trials = match_patient(_breast_ihc("1+"), [CtgovDirectory(CTGOV)], read_filters("active", None))
    outcomes = {m.study.study_id: m.outcome for m in trials.matches}
    assert outcomes["NCT03734029"] is Outcome.CANDIDATE  # DESTINY-Breast04, HER2-low
    assert "NCT02614794" not in outcomes  # active, not recruiting: filtered out
    assert trials.issues == []


def test_no_current_result_is_no_candidate_and_says_why() -> None:
    trials = match_patient([], [CtgovDirectory(CTGOV)], TrialFilters())
    assert trials.issues == [NO_RESULT]
    assert Outcome.CANDIDATE not in {m.outcome for m in trials.matches}
    her2 = [m for m in trials.matches if m.outcome is not Outcome.NO_HER2_CRITERION]
    assert her2
    assert {m.outcome for m in her2} <= {Outcome.NEEDS_REVIEW, Outcome.NOT_UNDERSTOOD}

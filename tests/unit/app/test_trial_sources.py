"""Trial sources behind the TrialSource port, and matching one patient against them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.app.derivation import derive
from service.app.trial_matching import NO_RESULT, match_patient
from service.app.trial_sources import CtgovDirectory, Refreshing, TrialSource, read_all
from service.bootstrap import trial_sources
from service.clients.fhir import FhirClient
from service.clients.research_studies import FhirResearchStudies
from service.fhir.outbound import Derived
from service.fhir.trial_request import TrialFilters, read_filters
from service.settings import TrialSettings
from service.trials.matching import Outcome
from service.trials.model import SourceRead, Study
from tests.builders import BREAST, NOW, bundle, ihc_score, specimen
from tests.builders.trials import CTGOV, study


class _Listed:
    """A source of studies in hand (a FHIR source satisfies the port the same way)."""

    def __init__(self, *studies: Study) -> None:
        self.listed = studies

    def read(self) -> SourceRead:
        return SourceRead(self.listed)


def test_a_configured_directory_is_read_once(tmp_path: Path) -> None:
    shutil.copy(CTGOV / "NCT03734029.json", tmp_path)
    (source,) = trial_sources(TrialSettings(tmp_path), None)
    assert [s.study_id for s in source.read().studies] == ["NCT03734029"]
    shutil.copy(CTGOV / "NCT02614794.json", tmp_path)
    assert [s.study_id for s in source.read().studies] == ["NCT03734029"]  # until a restart
    # The directory source itself reads what is there now.
    plain: TrialSource = CtgovDirectory(tmp_path)
    assert [s.study_id for s in plain.read().studies] == ["NCT02614794", "NCT03734029"]


def test_a_study_in_two_sources_is_kept_once_first_source_first() -> None:
    first = _Listed(study("HER2-low", study_id="NCT1", title="downloaded"))
    second = _Listed(study("HER2-low", study_id="NCT1", title="stored"), study("", study_id="X"))
    assert [(s.study_id, s.title) for s in read_all([first, second]).studies] == [
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


class _Counting:
    """A source that counts its reads and can be made to fail."""

    def __init__(self) -> None:
        self.reads = 0
        self.failing = False

    def read(self) -> SourceRead:
        self.reads += 1
        if self.failing:
            raise RuntimeError("the server is down")
        return SourceRead((study("HER2-low", study_id=f"NCT{self.reads}"),))


def test_a_refreshing_source_rereads_only_after_its_interval() -> None:
    now = [0.0]
    inner = _Counting()
    source = Refreshing(inner, 300, clock=lambda: now[0])
    assert [s.study_id for s in source.studies()] == ["NCT1"]
    now[0] = 299.9
    assert [s.study_id for s in source.studies()] == ["NCT1"]
    assert inner.reads == 1
    now[0] = 300.0
    assert [s.study_id for s in source.studies()] == ["NCT2"]


def test_a_failed_refresh_is_not_kept_and_the_next_call_tries_again() -> None:
    now = [0.0]
    inner = _Counting()
    source = Refreshing(inner, 300, clock=lambda: now[0])
    source.studies()
    inner.failing, now[0] = True, 301.0
    with pytest.raises(RuntimeError):
        source.studies()
    with pytest.raises(RuntimeError):  # never the stale list, never silently empty
        source.studies()
    inner.failing = False
    assert [s.study_id for s in source.studies()] == ["NCT4"]


def test_an_interval_of_zero_reads_on_every_call() -> None:
    inner = _Counting()
    source = Refreshing(inner, 0)
    source.studies()
    source.studies()
    assert inner.reads == 2


def test_the_composition_root_adds_the_fhir_source_only_when_switched_on() -> None:
    client = FhirClient("https://ehr.test/fhir")
    assert trial_sources(TrialSettings(from_fhir=False), client) == []
    assert trial_sources(TrialSettings(from_fhir=True), None) == []
    (source,) = trial_sources(TrialSettings(from_fhir=True, refresh_seconds=60), client)
    assert isinstance(source, Refreshing)
    assert source.seconds == 60
    assert isinstance(source.source, FhirResearchStudies)
    assert source.source.client is client
    both = trial_sources(TrialSettings(CTGOV, from_fhir=True), client)
    assert all(isinstance(s, Refreshing) for s in both)
    inner = [type(s.source) for s in both if isinstance(s, Refreshing)]
    assert inner == [CtgovDirectory, FhirResearchStudies]  # downloaded records first

"""An incomplete trial read reaches the caller: a warning, never a silent short list."""

from __future__ import annotations

import pytest

from service.app.trial_matching import INCOMPLETE, NO_RESULT, match_patient
from service.app.trial_sources import Refreshing, read_all
from service.fhir.trial_request import TrialFilters
from service.trials.model import SourceRead
from tests.builders.trials import study


class _Reporting:
    """A source whose reads report skipped or truncated studies, as the FHIR reader's do."""

    def __init__(self, skipped: int = 0, truncated: bool = False) -> None:
        self.skipped = skipped
        self.truncated = truncated
        self.reads = 0

    def read(self) -> SourceRead:
        self.reads += 1
        return SourceRead((study("HER2-low", study_id="NCT1"),), self.skipped, self.truncated)


def test_a_complete_read_carries_no_warning() -> None:
    trials = match_patient([], [_Reporting()], TrialFilters())
    assert trials.issues == [NO_RESULT]


@pytest.mark.parametrize(("skipped", "truncated"), [(2, False), (0, True), (1, True)])
def test_skipped_or_truncated_studies_are_a_warning(skipped: int, truncated: bool) -> None:
    source = Refreshing(_Reporting(skipped, truncated), 300)
    trials = match_patient([], [source], TrialFilters())
    assert trials.issues == [NO_RESULT, INCOMPLETE]
    assert INCOMPLETE.severity.value == "warning"
    # The cached read keeps its report: the next call is warned as well.
    assert match_patient([], [source], TrialFilters()).issues == [NO_RESULT, INCOMPLETE]
    assert source.source.reads == 1  # type: ignore[attr-defined]


def test_reports_of_several_sources_add_up() -> None:
    read = read_all([_Reporting(2), Refreshing(_Reporting(3, True), 0), _Reporting()])
    assert (read.skipped, read.truncated) == (5, True)
    assert [s.study_id for s in read.studies] == ["NCT1"]

"""The patient's current HER2 result per site, from the derivation (issue 14)."""

from __future__ import annotations

from service.app.derivation import derive
from service.app.trial_matching import current_her2, match_patient
from service.app.trial_sources import CtgovDirectory
from service.fhir.trial_request import TrialFilters
from service.her2 import Site, Status
from service.trials.matching import Finding, Outcome, PatientHer2
from service.trials.model import CriterionKind, Section
from tests.builders import BREAST, NOW, bundle, ihc_score, specimen
from tests.builders.trials import CTGOV


def _breast(
    id: str, score: str, effective: str | None, status: str = "final"
) -> list[dict[str, object]]:
    return [
        specimen(id, body_site=BREAST),
        ihc_score(f"i-{id}", score, specimen=f"Specimen/{id}", effective=effective, status=status),
    ]


def test_the_most_recent_specimen_is_current() -> None:
    payload = bundle(*_breast("old", "3+", "2025-01-10"), *_breast("new", "1+", "2026-06-01"))
    current = current_her2(derive(payload, NOW).derived)
    assert current == {Site.BREAST: PatientHer2(Site.BREAST, Status.NEGATIVE, True, False)}


def test_two_disagreeing_current_specimens_are_not_final() -> None:
    payload = bundle(*_breast("a", "3+", "2026-06-01"), *_breast("b", "1+", "2026-06-01"))
    current = current_her2(derive(payload, NOW).derived)
    assert current == {Site.BREAST: PatientHer2(Site.BREAST, Status.EQUIVOCAL)}


def test_a_preliminary_result_answers_no_criterion_until_final() -> None:
    # A preliminary IHC 3+ derives "positive, preliminary" (her2-rules.md section 11):
    # it must never make the patient a candidate for a HER2-positive trial.
    derived = derive(bundle(*_breast("p", "3+", "2026-06-01", "preliminary")), NOW).derived
    assert [d.result.status for d in derived] == [Status.POSITIVE]
    assert current_her2(derived) == {Site.BREAST: PatientHer2(Site.BREAST, Status.EQUIVOCAL)}


def test_an_undated_result_that_disagrees_with_the_newest_dated_one_is_not_final() -> None:
    # The undated specimen may be the newest: its IHC 0 and the 2015 IHC 3+ are both current.
    payload = bundle(*_breast("old", "3+", "2015-01-01"), *_breast("undated", "0", None))
    derived = derive(payload, NOW).derived
    assert {d.result.status for d in derived} == {Status.POSITIVE, Status.NEGATIVE}
    assert current_her2(derived) == {Site.BREAST: PatientHer2(Site.BREAST, Status.EQUIVOCAL)}


def test_an_undated_result_that_agrees_with_the_newest_dated_one_keeps_it() -> None:
    payload = bundle(*_breast("old", "1+", "2015-01-01"), *_breast("undated", "1+", None))
    current = current_her2(derive(payload, NOW).derived)
    assert current == {Site.BREAST: PatientHer2(Site.BREAST, Status.NEGATIVE, True, False)}


def test_a_result_of_unknown_site_is_not_used() -> None:
    payload = bundle(ihc_score("i", "3+", specimen="Specimen/x"))
    derived = derive(payload, NOW).derived
    assert [d.result.site for d in derived] == [None]
    assert current_her2(derived) == {}


def test_candidates_for_an_ihc_1plus_breast_patient() -> None:
    derived = derive(bundle(*_breast("s", "1+", "2026-06-01")), NOW).derived
    recruiting = TrialFilters(statuses=frozenset({"RECRUITING"}))
    found = match_patient(derived, [CtgovDirectory(CTGOV)], recruiting)
    assert found.issues == []
    matches = {m.study.study_id: m for m in found.matches}
    assert sorted(matches) == ["FIXTURE-GASTRIC-POS", "NCT03734029"]
    db04 = matches["NCT03734029"]
    assert db04.outcome is Outcome.CANDIDATE
    assert [
        (f.criterion.kind, f.criterion.section, f.outcome) for f in db04.findings if f.criterion
    ] == [
        (CriterionKind.HER2_LOW, Section.INCLUSION, Outcome.CANDIDATE),
        (CriterionKind.HER2_POSITIVE, Section.INCLUSION, Outcome.CANDIDATE),
        (CriterionKind.HER2_LOW, Section.INCLUSION, Outcome.CANDIDATE),
    ]
    assert len(db04.findings) == 3
    assert db04.findings[1].criterion is not None
    assert db04.findings[1].criterion.sentence == (
        "Tumors previously not classified as HER2-positive on any prior pathology testing"
    )
    gastric = matches["FIXTURE-GASTRIC-POS"]
    assert gastric.outcome is Outcome.EXCLUDED
    assert gastric.findings[0] == Finding(
        Outcome.EXCLUDED, "the study is for gastroesophageal cancer", None
    )

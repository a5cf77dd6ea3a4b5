"""Trial matches as a searchset Bundle of ResearchStudy (issue 14)."""

from __future__ import annotations

from decimal import Decimal

from fhir.resources.R4B.bundle import Bundle

from service.fhir.issues import Issue, Severity
from service.fhir.research_study_in import study_from_research_study
from service.fhir.research_study_out import NOT_A_DECISION, SCORES, research_study, searchset
from service.fhir.trial_request import read_filters
from service.her2 import Site, Status
from service.trials.matching import (
    Finding,
    Outcome,
    PatientHer2,
    TrialMatch,
    match_studies,
    match_study,
)
from service.trials.model import Criterion, CriterionKind, Section
from tests.builders.trials import research_study as research_study_resource
from tests.builders.trials import study

LOW = {Site.BREAST: PatientHer2(Site.BREAST, Status.NEGATIVE, True, False)}
SENTENCE = "Inclusion Criteria:\n- HER2-low (IHC 1+ or IHC 2+/ISH-negative) breast cancer"


def test_a_candidate_carries_its_codes_and_the_verbatim_sentence() -> None:
    match = match_study(
        study(
            SENTENCE,
            study_id="NCT01234567",
            title="A trial",
            phases=("PHASE2", "PHASE3"),
            keywords=("HER2-low",),
        ),
        LOW,
    )
    assert match.outcome is Outcome.CANDIDATE
    resource = research_study(match)
    assert resource["id"] == "NCT01234567"
    assert resource["identifier"] == [
        {"use": "official", "value": "NCT01234567", "system": "http://clinicaltrials.gov/"}
    ]
    assert resource["status"] == "active"
    assert resource["phase"]["coding"][0]["code"] == "phase-2-phase-3"
    assert resource["condition"] == [{"text": "Breast Cancer"}]
    assert resource["keyword"] == [{"text": "HER2-low"}]
    description = resource["description"]
    assert description.startswith("HER2 match (her2-status): candidate")
    assert '"HER2-low (IHC 1+ or IHC 2+/ISH-negative) breast cancer"' in description
    assert "(inclusion, eligibility)" in description
    assert description.endswith(NOT_A_DECISION)


def test_an_id_that_is_no_fhir_id_stays_an_identifier_without_a_system() -> None:
    match = TrialMatch(
        study("", study_id="site trial #4", status="WITHDRAWN", phases=()),
        Outcome.NO_HER2_CRITERION,
        None,
    )
    resource = research_study(match)
    assert "id" not in resource
    assert "phase" not in resource
    assert resource["identifier"] == [{"use": "official", "value": "site trial #4"}]
    assert resource["status"] == "withdrawn"


def _match(study_id: str, outcome: Outcome) -> TrialMatch:
    criterion = Criterion(CriterionKind.HER2_POSITIVE, Section.INCLUSION, "HER2-positive")
    finding = Finding(outcome, "a reason", criterion)
    return TrialMatch(study("HER2-positive", study_id=study_id), outcome, Site.BREAST, (finding,))


def test_the_searchset_keeps_the_chosen_outcomes_best_first() -> None:
    matches = [
        _match("NCT00000003", Outcome.EXCLUDED),
        _match("NCT00000002", Outcome.NEEDS_REVIEW),
        _match("NCT00000001", Outcome.NOT_UNDERSTOOD),
        _match("NCT00000004", Outcome.CANDIDATE),
        _match("NCT00000005", Outcome.NO_HER2_CRITERION),
    ]
    answered = {Outcome.CANDIDATE, Outcome.NEEDS_REVIEW, Outcome.NOT_UNDERSTOOD}
    bundle = searchset(matches, answered)
    assert (bundle["type"], bundle["total"]) == ("searchset", 3)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [
        "NCT00000004",
        "NCT00000001",
        "NCT00000002",
    ]
    assert [e["search"] for e in bundle["entry"]] == [
        {"mode": "match", "score": Decimal("1")},
        {"mode": "match", "score": Decimal("0.5")},
        {"mode": "match", "score": Decimal("0.5")},
    ]
    Bundle.model_validate(bundle)  # valid FHIR R4B


def test_every_outcome_has_a_score_in_0_to_1_and_a_candidate_scores_highest() -> None:
    assert set(SCORES) == set(Outcome)
    assert all(Decimal(0) <= s <= Decimal(1) for s in SCORES.values())
    assert max(SCORES, key=lambda o: SCORES[o]) is Outcome.CANDIDATE
    assert SCORES[Outcome.EXCLUDED] == 0


def test_issues_close_the_bundle_as_an_outcome_entry_not_counted() -> None:
    note = Issue(Severity.INFORMATION, "informational", "No current HER2 result.")
    bundle = searchset([_match("NCT00000009", Outcome.EXCLUDED)], set(Outcome), [note])
    assert bundle["total"] == 1
    last = bundle["entry"][-1]
    assert last["search"] == {"mode": "outcome"}
    assert last["resource"]["issue"][0]["diagnostics"] == "No current HER2 result."
    assert bundle["entry"][0]["search"]["score"] == 0
    Bundle.model_validate(bundle)


def test_a_study_read_from_a_research_study_comes_back_with_its_codes() -> None:
    # A trial from the FHIR source (service.fhir.research_study_in) goes through the
    # same filters and mapping as a downloaded record.
    resource = research_study_resource(
        "rs-1",
        eligibility="Inclusion Criteria:\n- HER2-low (IHC 1+ or IHC 2+/ISH-negative) breast cancer",
        status="active",
        phase="phase-1-phase-2",
        nct="NCT07654321",
    )
    fhir_study = study_from_research_study(resource)
    filters = read_filters("active", "phase-2")
    (match,) = match_studies([fhir_study], LOW, filters.statuses, filters.phases)
    assert match.outcome is Outcome.CANDIDATE
    out = research_study(match)
    assert (out["id"], out["status"]) == ("NCT07654321", "active")
    assert out["phase"]["coding"][0]["code"] == "phase-1-phase-2"


def test_blank_title_conditions_and_keywords_never_become_empty_fhir_strings() -> None:
    match = TrialMatch(
        study(
            "",
            study_id="NCT01234567",
            title="  ",
            conditions=("", " Breast Cancer "),
            keywords=("",),
        ),
        Outcome.NO_HER2_CRITERION,
        None,
    )
    resource = research_study(match)
    assert "title" not in resource
    assert "keyword" not in resource
    assert resource["condition"] == [{"text": "Breast Cancer"}]
    Bundle.model_validate(searchset([match], frozenset(Outcome), ()))

"""Matching for every HER2 category x criterion type, site, filters (issue 14)."""

from __future__ import annotations

import pytest

from service.her2 import Site, Status
from service.trials.matching import Outcome, PatientHer2, match_studies, match_study
from tests.builders.trials import study

B, G = Site.BREAST, Site.GASTROESOPHAGEAL
C, X, R = Outcome.CANDIDATE, Outcome.EXCLUDED, Outcome.NEEDS_REVIEW

PATIENTS = {
    "positive": PatientHer2(B, Status.POSITIVE, False, False),
    "low": PatientHer2(B, Status.NEGATIVE, True, False),
    "ultralow": PatientHer2(B, Status.NEGATIVE, False, True),
    "null": PatientHer2(B, Status.NEGATIVE, False, False),
    "ihc0_not_assessed": PatientHer2(B, Status.NEGATIVE, False, None),
    "negative_low_unknown": PatientHer2(B, Status.NEGATIVE, None, None),
    "equivocal": PatientHer2(B, Status.EQUIVOCAL, None, False),
    "indeterminate": PatientHer2(B, Status.INDETERMINATE, None, None),
}

CRITERIA = {
    "her2_positive": "HER2-positive (IHC 3+ or ISH+) breast cancer",
    "her2_low": "HER2-low (IHC 1+ or IHC 2+/ISH-) breast cancer",
    "her2_ultralow": "HER2-ultralow breast cancer",
    "her2_low_or_ultralow": "HER2-low or HER2-ultralow breast cancer",
    "her2_negative": "HER2-negative breast cancer",
    "her2_0": "HER2 IHC 0 breast cancer",
    "her2_null": "HER2-null breast cancer",
    "her2_low_or_0": "HER2-low (IHC 1+ or IHC 2+/ISH-) or HER2 IHC 0 breast cancer",
    "her2_negative_or_low": "HER2-negative or HER2-low breast cancer",
}

# Outcome of an INCLUSION criterion; an exclusion criterion swaps C and X.
# columns: positive low ultralow low|ultralow negative 0 null low|0 negative|low
TABLE = {
    "positive": "C X X X X X X X X",
    "low": "X C X C C X X C C",
    "ultralow": "X X C C C C X C C",
    "null": "X X X X C C C C C",
    "ihc0_not_assessed": "X X R R C C R C C",
    "negative_low_unknown": "X R R R C R R C C",
    "equivocal": "R R R R R R R R R",
    "indeterminate": "R R R R R R R R R",
}
LETTER = {"C": C, "X": X, "R": R}
CASES = [
    (patient, kind, LETTER[letter])
    for patient, row in TABLE.items()
    for kind, letter in zip(CRITERIA, row.split(), strict=True)
]


@pytest.mark.parametrize(("patient", "kind", "expected"), CASES)
def test_inclusion(patient: str, kind: str, expected: Outcome) -> None:
    trial = study(f"Inclusion Criteria:\n* {CRITERIA[kind]}")
    match = match_study(trial, {B: PATIENTS[patient]})
    assert match.outcome is expected
    assert match.findings[-1].criterion is not None
    assert match.findings[-1].criterion.sentence == CRITERIA[kind]


@pytest.mark.parametrize(("patient", "kind", "expected"), CASES)
def test_exclusion(patient: str, kind: str, expected: Outcome) -> None:
    swapped = {C: X, X: C, R: R}[expected]
    trial = study(f"Exclusion Criteria:\n* {CRITERIA[kind]}")
    assert match_study(trial, {B: PATIENTS[patient]}).outcome is swapped


def test_denied_class_in_inclusion_excludes() -> None:
    trial = study(
        "Inclusion Criteria:\n* Was never previously HER2-positive (IHC 3+ or IHC 2+/ISH+)"
    )
    assert match_study(trial, {B: PATIENTS["positive"]}).outcome is X
    assert match_study(trial, {B: PATIENTS["low"]}).outcome is C


GASTRO_POS = study(
    "Inclusion Criteria:\n* HER2-positive disease, defined as either IHC 3+ or IHC 2+ with ISH+",
    ("Gastric Adenocarcinoma",),
)


def test_gastric_trial_uses_the_gastroesophageal_result() -> None:
    results = {G: PatientHer2(G, Status.POSITIVE), B: PatientHer2(B, Status.NEGATIVE, True, False)}
    match = match_study(GASTRO_POS, results)
    assert match.site is G
    assert match.outcome is C


def test_gastric_trial_for_a_breast_only_patient_is_excluded_for_its_site() -> None:
    match = match_study(GASTRO_POS, {B: PATIENTS["positive"]})
    assert match.outcome is X
    assert match.findings[0].reason == "the study is for gastroesophageal cancer"


def test_gastro_negative_and_a_her2_low_criterion_needs_review() -> None:
    # No gastroesophageal HER2-low category (her2-rules.md section 5).
    trial = study("Inclusion Criteria:\n* HER2-low gastric cancer", ("Gastric Cancer",))
    assert match_study(trial, {G: PatientHer2(G, Status.NEGATIVE)}).outcome is R


def test_sentence_naming_gastric_uses_that_site() -> None:
    trial = study(
        "Inclusion Criteria:\n* HER2-positive gastric or GEJ adenocarcinoma",
        ("Solid Tumor",),
    )
    results = {G: PatientHer2(G, Status.NEGATIVE), B: PATIENTS["positive"]}
    assert match_study(trial, results).outcome is X


def test_unknown_study_site_and_two_site_results_needs_review() -> None:
    trial = study("Inclusion Criteria:\n* HER2-positive disease", ("Solid Tumor",))
    results = {G: PatientHer2(G, Status.POSITIVE), B: PATIENTS["positive"]}
    assert match_study(trial, results).outcome is R


def test_not_understood_is_never_a_candidate() -> None:
    trial = study("Inclusion Criteria:\n* HER2 IHC 2+ or 3+\n* HER2-positive breast cancer")
    match = match_study(trial, {B: PATIENTS["positive"]})
    assert match.outcome is Outcome.NOT_UNDERSTOOD
    assert match.findings[0].reason == "HER2 criterion not understood"


def test_a_certain_exclusion_wins_over_not_understood() -> None:
    trial = study("Inclusion Criteria:\n* HER2 IHC 2+ or 3+\n* HER2-positive breast cancer")
    assert match_study(trial, {B: PATIENTS["low"]}).outcome is X


def test_text_outside_sections_is_not_understood() -> None:
    trial = study("HER2-positive breast cancer")
    assert match_study(trial, {B: PATIENTS["positive"]}).outcome is Outcome.NOT_UNDERSTOOD


def test_mutation_only_study_has_no_her2_status_criterion() -> None:
    trial = study("Inclusion Criteria:\n* Activating HER2 mutation", ("NSCLC",))
    assert match_study(trial, {B: PATIENTS["positive"]}).outcome is Outcome.NO_HER2_CRITERION


def test_no_result_needs_review() -> None:
    trial = study("Inclusion Criteria:\n* HER2-positive breast cancer")
    assert match_study(trial, {}).outcome is R


def test_status_and_phase_filters() -> None:
    trials = [
        study("Inclusion Criteria:\n* HER2-low", study_id="A", status="RECRUITING"),
        study("Inclusion Criteria:\n* HER2-low", study_id="B", status="COMPLETED"),
        study("Inclusion Criteria:\n* HER2-low", study_id="C", phases=("PHASE1", "PHASE2")),
    ]
    results = {B: PATIENTS["low"]}
    kept = match_studies(trials, results, statuses=["recruiting"], phases=["PHASE3"])
    assert [m.study.study_id for m in kept] == ["A"]
    kept = match_studies(trials, results, phases=["PHASE2"])
    assert [m.study.study_id for m in kept] == ["C"]
    assert len(match_studies(trials, results)) == 3


def test_inclusion_alternatives_are_not_understood_rather_than_excluding_everyone() -> None:
    trial = study(
        "Inclusion Criteria:\n* HER2-positive breast cancer\n"
        "* HER2-low (IHC 1+ or IHC 2+/ISH-) breast cancer"
    )
    for patient in ("positive", "low", "null"):
        match = match_study(trial, {B: PATIENTS[patient]})
        assert match.outcome is Outcome.NOT_UNDERSTOOD
        assert match.findings[0].reason.startswith("HER2 inclusion criteria no result meets")


def test_criteria_of_a_part_of_the_study_are_not_understood() -> None:
    trial = study(
        "Inclusion Criteria:\n* Part 1: HER2-positive breast cancer\n"
        "* Part 2: HER2-low (IHC 1+ or IHC 2+/ISH-) breast cancer"
    )
    for patient in ("positive", "low", "null"):
        match = match_study(trial, {B: PATIENTS[patient]})
        assert match.outcome is Outcome.NOT_UNDERSTOOD
        assert {f.reason for f in match.findings} == {"HER2 criterion not understood"}


def test_conditions_are_alternatives() -> None:
    trial = study("", ("HER2-negative Breast Cancer", "HER2-low Breast Cancer"))
    assert match_study(trial, {B: PATIENTS["null"]}).outcome is C
    trial = study("", ("HER2-positive Breast Cancer", "HER2-low Breast Cancer"))
    match = match_study(trial, {B: PATIENTS["low"]})
    assert match.outcome is Outcome.NOT_UNDERSTOOD
    assert match.findings[0].criterion is not None
    assert match.findings[0].criterion.sentence == (
        "HER2-positive Breast Cancer; HER2-low Breast Cancer"
    )


@pytest.mark.parametrize(
    "conditions",
    [("Colorectal Neoplasms",), ("Non-small Cell Lung Cancer",), ("Biliary Tract Cancer",)],
)
def test_a_trial_of_another_organ_is_not_a_candidate_for_a_breast_result(
    conditions: tuple[str, ...],
) -> None:
    trial = study("Inclusion Criteria:\n- HER2-positive disease", conditions)
    match = match_study(
        trial, {Site.BREAST: PatientHer2(Site.BREAST, Status.POSITIVE, False, False)}
    )
    assert match.outcome is Outcome.NEEDS_REVIEW


@pytest.mark.parametrize(
    "conditions",
    [
        ("Gastrointestinal Cancer",),
        ("Gastro-intestinal Neoplasms",),
        ("Gastrointestinal Stromal Tumors",),
        ("GIST",),
        ("Gastroenteropancreatic Neuroendocrine Tumors",),
        ("HER2-positive GI Cancers",),
    ],
)
def test_a_gastrointestinal_trial_is_not_read_as_gastroesophageal(
    conditions: tuple[str, ...],
) -> None:
    trial = study("Inclusion Criteria:\n- HER2-positive disease", conditions)
    gastric = PatientHer2(G, Status.POSITIVE, False, False)
    match = match_study(trial, {G: gastric})
    assert match.site is None
    assert match.outcome is Outcome.NEEDS_REVIEW
    assert "other than" in match.findings[0].reason


@pytest.mark.parametrize(
    "conditions",
    [
        ("Gastric Cancer",),
        ("Gastroesophageal Junction Adenocarcinoma",),
        ("Gastro-oesophageal Cancer",),
        ("Gastric Cancer", "Gastrointestinal Cancer"),
    ],
)
def test_a_gastric_or_junction_trial_is_gastroesophageal(conditions: tuple[str, ...]) -> None:
    trial = study("Inclusion Criteria:\n- HER2-positive disease", conditions)
    match = match_study(trial, {G: PatientHer2(G, Status.POSITIVE, False, False)})
    assert match.site is G
    assert match.outcome is Outcome.CANDIDATE


def test_a_basket_trial_naming_no_organ_is_matched_on_the_one_result() -> None:
    trial = study("Inclusion Criteria:\n- HER2-positive disease", ("HER2-positive Solid Tumors",))
    match = match_study(
        trial, {Site.BREAST: PatientHer2(Site.BREAST, Status.POSITIVE, False, False)}
    )
    assert match.outcome is Outcome.CANDIDATE

"""The site a trial is for (service/trials/sites.py), and how matching uses it."""

from __future__ import annotations

import pytest

from service.her2 import Site, Status
from service.trials.matching import Outcome, PatientHer2, match_study
from service.trials.sites import names_something_unplaced, other_site, site_named
from tests.builders.trials import study

B, G = Site.BREAST, Site.GASTROESOPHAGEAL
POSITIVE = {B: PatientHer2(B, Status.POSITIVE, False, False)}
GASTRIC_POSITIVE = {G: PatientHer2(G, Status.POSITIVE, False, False)}
REQUIRES_POSITIVE = "Inclusion Criteria:\n* HER2-positive disease"


@pytest.mark.parametrize(
    ("text", "site"),
    [
        ("Stomach Neoplasms", G),
        ("Cardia Cancer", G),
        ("Gastric Cancer", G),
        ("Gastro-oesophageal Junction Adenocarcinoma", G),
        ("Mammary Carcinoma, Human", B),
        ("Breast Neoplasms", B),
        ("Gastrointestinal Cancer", None),
        ("Breast and Gastric Cancer", None),
        ("Cardiac Toxicity", None),
        ("Solid Tumor", None),
    ],
)
def test_the_site_a_text_names(text: str, site: Site | None) -> None:
    assert site_named(text) is site


@pytest.mark.parametrize(
    "condition",
    [
        "HER2-positive Solid Tumors",
        "Advanced Solid Tumor Harboring HER2 Alterations",
        "Metastatic Cancer",
        "Cancer of Unknown Primary",
        "Neoplasms",
        "HER2 Gene Amplification",
        "HER2-low Cancer",
    ],
)
def test_generic_conditions_name_nothing_unplaced(condition: str) -> None:
    assert not names_something_unplaced(condition)
    assert not other_site([condition], "")


@pytest.mark.parametrize(
    "condition",
    ["Ampullary Carcinoma", "Carcinoma, Ductal", "Bile Duct Cancer", "Xyzoma", "Thymoma"],
)
def test_a_condition_naming_anything_else_is_another_site(condition: str) -> None:
    assert other_site([condition], "")


def test_a_title_naming_another_organ_is_another_site() -> None:
    assert other_site(["Solid Tumor"], "Drug X in HER2-positive Small Bowel Adenocarcinoma")
    assert not other_site(["Solid Tumor"], "Drug X in HER2-positive Solid Tumours")


@pytest.mark.parametrize(
    ("conditions", "title"),
    [
        (("Stomach Neoplasms",), "Zanidatamab in HER2+ Stomach Adenocarcinoma"),
        (("Stomach Cancer", "Cardia Cancer"), ""),
    ],
)
def test_a_stomach_trial_is_no_candidate_for_a_breast_result(
    conditions: tuple[str, ...], title: str
) -> None:
    match = match_study(study(REQUIRES_POSITIVE, conditions, title=title), POSITIVE)
    assert match.site is G
    assert match.outcome is Outcome.EXCLUDED


def test_a_mammary_trial_is_no_candidate_for_a_gastric_result() -> None:
    match = match_study(study(REQUIRES_POSITIVE, ("Mammary Carcinoma, Human",)), GASTRIC_POSITIVE)
    assert match.site is B
    assert match.outcome is Outcome.EXCLUDED


@pytest.mark.parametrize(
    "conditions",
    [("Bile Duct Cancer",), ("Ampullary Carcinoma", "Small Intestine Cancer"), ("Xyzoma",)],
)
def test_a_trial_for_an_unplaced_organ_is_left_for_review(conditions: tuple[str, ...]) -> None:
    match = match_study(study(REQUIRES_POSITIVE, conditions), POSITIVE)
    assert match.site is None
    assert match.outcome is Outcome.NEEDS_REVIEW


def test_in_conjunction_with_names_no_junction() -> None:
    assert site_named("Tucatinib in Conjunction With Trastuzumab") is None
    assert site_named("GE junction adenocarcinoma") is G
    trial = study(
        REQUIRES_POSITIVE,
        ("Colorectal Cancer",),
        title="Tucatinib in Conjunction With Trastuzumab in HER2-positive Colorectal Cancer",
    )
    assert match_study(trial, GASTRIC_POSITIVE).outcome is Outcome.NEEDS_REVIEW


@pytest.mark.parametrize(
    "title",
    [
        "Drug X in Patients With HER2-Positive Non-Breast Solid Tumors",
        "Drug X in HER2-Positive Solid Tumours Other Than Breast Cancer",
        "Drug X in HER2-Positive Cancers Excluding Gastric Cancer",
    ],
)
def test_a_title_that_denies_a_site_names_none_and_is_reviewed(title: str) -> None:
    trial = study(REQUIRES_POSITIVE, ("Solid Tumor",), title=title)
    for results in (POSITIVE, GASTRIC_POSITIVE):
        match = match_study(trial, results)
        assert match.site is None
        assert match.outcome is Outcome.NEEDS_REVIEW


def test_a_title_does_not_override_conditions_naming_another_organ() -> None:
    trial = study(REQUIRES_POSITIVE, ("Biliary Tract Cancer",), title="X With Gastric Cancer Drug")
    assert match_study(trial, GASTRIC_POSITIVE).site is None
    assert match_study(trial, GASTRIC_POSITIVE).outcome is Outcome.NEEDS_REVIEW


@pytest.mark.parametrize(
    "eligibility",
    [
        "Inclusion Criteria:\n* Solid tumour of any origin except breast cancer\n"
        "* HER2-positive (IHC 3+ or ISH amplified)",
        "Inclusion Criteria:\n* HER2-positive (IHC 3+ or ISH amplified)\n"
        "Exclusion Criteria:\n* Breast cancer or gastric cancer",
    ],
)
def test_a_basket_whose_text_names_a_site_is_left_for_review(eligibility: str) -> None:
    trial = study(eligibility, ("HER2-positive Solid Tumors",))
    for results in (POSITIVE, GASTRIC_POSITIVE):
        match = match_study(trial, results)
        assert match.outcome is Outcome.NEEDS_REVIEW
        assert "the eligibility text names a tumour site" in {f.reason for f in match.findings}


def test_breastfeeding_names_no_site() -> None:
    eligibility = (
        "Inclusion Criteria:\n* HER2-positive disease\nExclusion Criteria:\n* Breastfeeding"
    )
    trial = study(eligibility, ("HER2-positive Solid Tumors",))
    assert match_study(trial, POSITIVE).outcome is Outcome.CANDIDATE
    assert site_named("Pregnant or breast-feeding women") is None

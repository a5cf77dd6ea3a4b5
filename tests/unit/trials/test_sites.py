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

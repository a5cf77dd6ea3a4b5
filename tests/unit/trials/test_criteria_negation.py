"""Denials, headings and nesting: a patient the text excludes is never a candidate."""

from __future__ import annotations

import pytest

from service.her2 import Site, Status
from service.trials.criteria import read_sentence, read_study, sentences
from service.trials.matching import Outcome, PatientHer2, match_study
from service.trials.model import Criterion, CriterionKind, Section
from tests.builders.trials import study

B = Site.BREAST
PATIENTS = {
    "positive": PatientHer2(B, Status.POSITIVE, False, False),
    "low": PatientHer2(B, Status.NEGATIVE, True, False),
    "ultralow": PatientHer2(B, Status.NEGATIVE, False, True),
    "null": PatientHer2(B, Status.NEGATIVE, False, False),
}
NU = CriterionKind.NOT_UNDERSTOOD


def _read(sentence: str, section: Section = Section.INCLUSION) -> Criterion:
    found = read_sentence(sentence, section)
    assert found is not None
    return found


def _outcome(eligibility: str, patient: str) -> Outcome:
    return match_study(study(eligibility), {B: PATIENTS[patient]}).outcome


# (section, sentence, the patient the sentence excludes)
DENIALS = [
    ("inclusion", "ER-positive breast cancer with no HER2 overexpression", "positive"),
    ("inclusion", "Breast cancer without HER2 overexpression", "positive"),
    ("inclusion", "Tumour not HER2-amplified", "positive"),
    ("inclusion", "HER2 not overexpressed", "positive"),
    ("inclusion", "Patients with HER2-positive disease are not eligible", "positive"),
    ("inclusion", "Any HER2 status except HER2-positive", "positive"),
    ("inclusion", "Non-HER2-positive breast cancer", "positive"),
    ("inclusion", "HER2-negative breast cancer, HER2-low excluded", "low"),
    (
        "inclusion",
        "HER2-negative (IHC 0, 1+). Patients with HER2-low disease are not eligible.",
        "low",
    ),
    ("inclusion", "HER2-low breast cancer; HER2-ultralow is not eligible", "ultralow"),
    ("inclusion", "HER2 0 (no HER2-low)", "low"),
    ("exclusion", "Tumours that do not overexpress HER2", "null"),
    ("inclusion", "Lack of HER2 overexpression", "positive"),
    ("inclusion", "Absence of HER2 amplification", "positive"),
    ("inclusion", "No evidence of HER2 amplification", "positive"),
    ("inclusion", "Tumour must not overexpress HER2", "positive"),
    ("inclusion", "HER2 non-overexpressing breast cancer", "positive"),
    ("inclusion", "HER2 amplification negative breast cancer", "positive"),
    ("inclusion", "HER2-low disease is excluded", "low"),
    ("inclusion", "HER2-positive patients are ineligible", "positive"),
    ("inclusion", "HER2-negative breast cancer except HER2-low", "low"),
    ("inclusion", "Any HER2 status other than HER2-positive", "positive"),
    ("inclusion", "HER2-positive tumours do not qualify", "positive"),
    ("inclusion", "HER2-positive disease isn't eligible", "positive"),
    ("inclusion", "HER2-low tumours cannot be enrolled", "low"),
    ("inclusion", "HER2 amplification: negative", "positive"),
    ("inclusion", "HER2 without overexpression prior to therapy", "positive"),
    # A denial in another clause must not reach the class: the low patient is not
    # a candidate of a study that requires HER2-positive.
    ("inclusion", "Not pregnant; HER2-positive breast cancer", "low"),
    ("inclusion", "Not pregnant and HER2-positive breast cancer", "low"),
    # A "not" about something else is no denial of the class: read as one, the
    # positive-only study would take the HER2-0 patient.
    ("inclusion", "Has not progressed during HER2-positive adjuvant trastuzumab", "null"),
    ("inclusion", "Tumour not resectable HER2-positive breast cancer", "null"),
    ("inclusion", "Metastatic disease not amenable to local HER2-positive therapy", "null"),
    ("inclusion", "HER2-positive status is a contraindication", "positive"),
    ("inclusion", "HER2-positive patients are barred", "positive"),
]


@pytest.mark.parametrize(("section", "sentence"), [(s, t) for s, t, _ in DENIALS])
def test_a_denial_is_not_understood(section: str, sentence: str) -> None:
    assert _read(sentence, Section(section)).kind is NU


@pytest.mark.parametrize(("section", "sentence", "patient"), DENIALS)
def test_the_denied_patient_is_not_a_candidate(section: str, sentence: str, patient: str) -> None:
    heading = "Inclusion Criteria:" if section == "inclusion" else "Exclusion Criteria:"
    assert _outcome(f"{heading}\n* {sentence}", patient) is not Outcome.CANDIDATE


@pytest.mark.parametrize(
    "sentence",
    [
        "Not HER2-positive",
        "Patients must not have HER2-positive disease",
        "Was never previously HER2-positive on prior pathology testing",
        "Tumours previously not classified as HER2-positive",
        "Was never previously reported as HER2-positive (IHC 3+ or ISH+)",
        "Must not have been found to be HER2-positive",
    ],
)
def test_the_precise_negation_still_excludes_positive(sentence: str) -> None:
    found = _read(sentence)
    assert (found.kind, found.negated, found.excludes) == (CriterionKind.HER2_POSITIVE, True, True)
    assert _outcome(f"Inclusion Criteria:\n* {sentence}", "positive") is Outcome.EXCLUDED
    assert _outcome(f"Inclusion Criteria:\n* {sentence}", "low") is Outcome.CANDIDATE


def test_a_second_denial_sinks_the_precise_negation() -> None:
    # A double denial: read as "not HER2-positive" it would take the low patient.
    sentence = "Tumours not HER2-positive are ineligible"
    found = _read(sentence)
    assert found.kind is NU
    assert _outcome(f"Inclusion Criteria:\n* {sentence}", "low") is not Outcome.CANDIDATE


@pytest.mark.parametrize(
    "sentence",
    [
        "No prior systemic therapy for HER2-positive metastatic breast cancer",
        "HER2-positive breast cancer without prior trastuzumab",
        "HER2-positive disease, not previously treated with chemotherapy",
    ],
)
def test_no_prior_therapy_is_not_a_denial_of_the_class(sentence: str) -> None:
    found = _read(sentence)
    assert (found.kind, found.negated) == (CriterionKind.HER2_POSITIVE, False)


def test_any_other_denial_in_the_sentence_sinks_it() -> None:
    # Conservative: the reader cannot tell which clause a denial belongs to.
    found = _read("HER2-positive breast cancer; no brain metastases")
    assert found.kind is NU


@pytest.mark.parametrize(
    "sentence",
    [
        "HER2-negative breast cancer",
        "HR+/HER2- breast cancer",
        "HER2 not amplified",
        "IHC 0-1+ or FISH not amplified",
    ],
)
def test_negative_class_names_are_not_denials(sentence: str) -> None:
    found = _read(sentence)
    assert found.kind is CriterionKind.HER2_NEGATIVE


EXCLUSION_HEADINGS = [
    "Exclusion Criteria:",
    "**Exclusion Criteria:**",
    "* Exclusion criteria:",
    "- Exclusion Criteria:",
    "Exclusion Criteria (all cohorts):",
    "Exclusion criteria for all participants:",
    "Key exclusion criteria include:",
    "Exclusion:",
    "EXCLUSION CRITERIA",
    "## Exclusion Criteria",
    "Exclusion Criteria (all cohorts)",
    "Exclusion Criteria - all patients:",
    "Non-inclusion criteria:",
    "Noninclusion Criteria:",
    "Exclusions:",
    "Exclusion Criteria include",
    "Exclusion",
    "**Exclusion Criteria**",
    "Exclusion Criteria -",
]
# Not headings the reader knows, but a line about exclusion: what follows is unplaced.
UNPLACED_EXCLUSION_LINES = [
    "Exlusion Criteria:",
    "Exclution Criteria:",
    "Patients with the following conditions are not allowed to participate",
    "* Subjects meeting any of the following criteria will not be enrolled",
    "* Patients will be excluded for the following reasons",
    "The following patients will not be enrolled:",
]


@pytest.mark.parametrize("line", UNPLACED_EXCLUSION_LINES)
def test_an_exclusion_line_the_reader_does_not_know_never_makes_a_requirement(line: str) -> None:
    text = f"Inclusion Criteria:\n* Metastatic breast cancer\n{line}\n* HER2-positive disease"
    assert _outcome(text, "positive") is not Outcome.CANDIDATE
    assert _outcome(text, "null") is not Outcome.EXCLUDED


def test_a_hard_wrapped_not_is_not_lost() -> None:
    text = "Inclusion Criteria:\nPatients with metastatic breast cancer who are not\nHER2-positive"
    assert _outcome(text, "positive") is not Outcome.CANDIDATE


@pytest.mark.parametrize(
    "sentence",
    [
        "Metastatic lesion that is HER2-positive although the primary tumour was not HER2-positive",
        "Primary tumour not HER2-positive, with HER2-positive metastatic biopsy",
    ],
)
def test_a_class_named_again_beside_its_denial_is_not_understood(sentence: str) -> None:
    assert _read(sentence).kind is NU
    assert _outcome(f"Inclusion Criteria:\n* {sentence}", "null") is not Outcome.CANDIDATE


@pytest.mark.parametrize("heading", EXCLUSION_HEADINGS)
def test_exclusion_headings_switch_the_section(heading: str) -> None:
    text = f"Inclusion Criteria:\n* HER2-negative\n{heading}\n* HER2-low"
    assert list(sentences(text)) == [
        (Section.INCLUSION, "HER2-negative"),
        (Section.EXCLUSION, "HER2-low"),
    ]
    assert _outcome(text, "low") is Outcome.EXCLUDED
    assert _outcome(text, "null") is Outcome.CANDIDATE


def test_an_indented_line_after_a_heading_is_an_item_not_a_continuation() -> None:
    text = "Inclusion Criteria:\n* HER2-negative\nEXCLUSION CRITERIA\n  HER2-low"
    assert list(sentences(text))[-1] == (Section.EXCLUSION, "HER2-low")
    assert _outcome(text, "low") is Outcome.EXCLUDED


def test_a_heading_and_its_first_item_on_one_line() -> None:
    text = "Inclusion Criteria:\n* HER2-negative\nExclusion Criteria: * HER2-low"
    assert list(sentences(text))[-1] == (Section.EXCLUSION, "HER2-low")
    assert _outcome(text, "low") is Outcome.EXCLUDED


@pytest.mark.parametrize(
    "heading",
    ["**Inclusion Criteria:**", "Key Inclusion Criteria:", "Inclusion:", "1. Inclusion Criteria"],
)
def test_inclusion_headings_switch_the_section(heading: str) -> None:
    text = f"{heading}\n* HER2-low breast cancer"
    assert list(sentences(text)) == [(Section.INCLUSION, "HER2-low breast cancer")]
    assert _outcome(text, "low") is Outcome.CANDIDATE
    assert _outcome(text, "positive") is Outcome.EXCLUDED


@pytest.mark.parametrize(
    "line",
    [
        "Exclusion of patients with HER2-low disease is not planned",
        "Inclusion of HER2-low patients",
        "Exclusion criteria apply to HER2-low patients",
        "Inclusion in the study: HER2-low",
    ],
)
def test_a_sentence_starting_with_the_word_is_not_a_heading(line: str) -> None:
    found = list(sentences(f"Inclusion Criteria:\n* {line}"))
    assert found == [(Section.INCLUSION, line)]


NESTED = (
    "Inclusion Criteria:\n* Patients must not have any of the following:\n  * HER2-positive disease"
)


def test_an_item_under_a_denying_parent_is_not_a_requirement() -> None:
    assert [c.kind for c in read_study(NESTED)] == [NU]
    assert _outcome(NESTED, "positive") is not Outcome.CANDIDATE


def test_the_denying_parent_ends_at_its_next_sibling() -> None:
    text = NESTED + "\n  * Pregnancy\n* HER2-low breast cancer"
    assert [c.kind for c in read_study(text)] == [NU, CriterionKind.HER2_LOW]


def test_a_flat_list_under_a_denying_parent_runs_to_the_next_heading() -> None:
    text = (
        "Inclusion Criteria:\n* Must not have any of the following:\n* HER2-positive disease\n"
        "* HER2-low disease\nExclusion Criteria:\n* HER2-positive disease"
    )
    found = [(c.kind, c.section) for c in read_study(text)]
    assert found == [
        (NU, Section.INCLUSION),
        (NU, Section.INCLUSION),
        (CriterionKind.HER2_POSITIVE, Section.EXCLUSION),
    ]


def test_a_parent_that_does_not_deny_keeps_its_items() -> None:
    text = "Inclusion Criteria:\n* HER2-low, defined as:\n  * IHC 1+ or IHC 2+/ISH-"
    assert [c.kind for c in read_study(text)] == [CriterionKind.HER2_LOW] * 2


def test_a_wrapped_line_is_read_with_its_first_line() -> None:
    text = "Inclusion Criteria:\n* Tumour must not be\n  HER2-positive\n* Age 18 or over"
    found = read_study(text)
    assert [(c.kind, c.negated) for c in found] == [(CriterionKind.HER2_POSITIVE, True)]
    assert found[0].sentence in text
    assert _outcome(text, "positive") is Outcome.EXCLUDED


def test_a_wrapped_denial_is_not_understood() -> None:
    text = "Inclusion Criteria:\n* Breast cancer without\n  HER2 overexpression"
    assert [c.kind for c in read_study(text)] == [NU]
    assert _outcome(text, "positive") is not Outcome.CANDIDATE


@pytest.mark.parametrize(
    "parent",
    [
        "* **Patients with any of the following are not eligible:**",
        "* _Patients must not have:_",
        "* Patients with any of the following are not eligible -",
        "Patients are ineligible if they have",
        "* Patients must not have",
    ],
)
def test_a_denying_lead_in_in_any_spelling_denies_its_items(parent: str) -> None:
    text = f"Inclusion Criteria:\n* Metastatic breast cancer\n{parent}\n\n  * HER2-positive disease"
    assert [c.kind for c in read_study(text)] == [NU]
    assert _outcome(text, "positive") is not Outcome.CANDIDATE


def test_a_criterion_ending_in_a_dash_is_no_lead_in() -> None:
    text = "Inclusion Criteria:\n* HR+/HER2-\n  breast cancer\n* HER2-low disease"
    assert [c.kind for c in read_study(text)] == [
        CriterionKind.HER2_NEGATIVE,
        CriterionKind.HER2_LOW,
    ]


@pytest.mark.parametrize(
    "line",
    [
        "Criteria for exclusion:",
        "Eligibility exclusions:",
        "Exclusion criteria apply as below",
        "Patients are not eligible in these cases",
    ],
)
def test_an_unplaced_line_about_exclusion_ends_the_inclusion_section(line: str) -> None:
    text = f"Inclusion Criteria:\n* HER2-low disease\n{line}\n* HER2-positive disease"
    first, second = read_study(text)
    assert (first.kind, first.section) == (CriterionKind.HER2_LOW, Section.INCLUSION)
    assert second.kind is NU or second.section is Section.UNKNOWN
    assert _outcome(text, "positive") is not Outcome.CANDIDATE
    assert _outcome(text, "low") is not Outcome.CANDIDATE  # what follows cannot be placed


def test_a_wrapped_not_about_something_else_does_not_deny_the_class() -> None:
    text = (
        "Inclusion Criteria:\n* Locally advanced disease not amenable to resection\n"
        "  HER2-positive per ASCO/CAP"
    )
    assert [c.kind for c in read_study(text)] == [NU]
    assert _outcome(text, "null") is not Outcome.CANDIDATE


@pytest.mark.parametrize(
    "heading",
    [
        "Disease-specific Inclusion Criteria:",
        "Part B Inclusion Criteria:",
        "Eligibility Criteria for Part B:",
        "Inclusion Criteria - Part B",
        "Inclusion criteria (Part 2)",
        "Inclusion Criteria for Dose Expansion",
    ],
)
def test_inclusion_criteria_after_the_exclusion_section_never_exclude(heading: str) -> None:
    text = (
        "Inclusion Criteria:\n* Metastatic breast cancer\n\nExclusion Criteria:\n* Pregnancy\n\n"
        f"{heading}\n* HER2-low breast cancer (IHC 1+ or IHC 2+/ISH-)"
    )
    for patient in ("positive", "ultralow", "null"):
        assert _outcome(text, patient) is not Outcome.CANDIDATE


@pytest.mark.parametrize(
    "lead_in",
    ["Part A (Dose Escalation):", "Part B (Dose Expansion):", "* Stratum B:", "Module 2 -"],
)
def test_a_subgroup_lead_in_makes_its_items_not_the_study_s(lead_in: str) -> None:
    text = f"Inclusion Criteria:\n* Metastatic breast cancer\n{lead_in}\n* HER2-positive disease"
    (found,) = read_study(text)
    assert found.kind is NU or found.section is Section.UNKNOWN
    assert _outcome(text, "null") is not Outcome.EXCLUDED
    assert _outcome(text, "positive") is not Outcome.CANDIDATE


def test_part_specific_exclusions_are_not_the_study_s() -> None:
    text = (
        "Inclusion Criteria:\n* Metastatic breast cancer\n"
        "Exclusion Criteria for Part B:\n* HER2-low disease"
    )
    assert [c.section for c in read_study(text)] == [Section.UNKNOWN]
    assert _outcome(text, "low") is Outcome.NOT_UNDERSTOOD

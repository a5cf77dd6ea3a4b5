"""ResearchStudy reader: shapes that fhir.resources accepts but must not be read as status.

Each case once made a wrong ``candidate`` (or a 500); each must now be read
conservatively: not understood, left for review, or skipped.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir.her2_characteristic import read_characteristic
from service.fhir.research_study_in import (
    UNREAD_CONDITION,
    NotAResearchStudy,
    study_from_research_study,
)
from service.her2 import Site, Status
from service.trials.matching import Outcome, PatientHer2, match_study
from service.trials.model import CriterionKind, Section
from tests.builders.trials import (
    LOINC,
    SNOMED,
    characteristic,
    concept,
    group,
    interpretation,
    research_study,
)

NU = CriterionKind.NOT_UNDERSTOOD
BREAST_POSITIVE = {Site.BREAST: PatientHer2(Site.BREAST, Status.POSITIVE, False, False)}
GASTRIC_POSITIVE = {
    Site.GASTROESOPHAGEAL: PatientHer2(Site.GASTROESOPHAGEAL, Status.POSITIVE, False, False)
}
POSITIVE_TEXT = "Inclusion Criteria:\n- HER2-positive breast cancer"
EXCLUDING_TEXT = "Inclusion Criteria:\n- Breast cancer\nExclusion Criteria:\n- HER2-positive"


def _outcome(resource: dict[str, Any], results: Any = None, **groups: Any) -> Outcome:
    study = study_from_research_study(resource, groups or None)
    return match_study(study, BREAST_POSITIVE if results is None else results).outcome


@pytest.mark.parametrize("exclude", ["true", 1, "1", "yes", "on", "false", 0])
@pytest.mark.parametrize("where", ["contained", "server"])
def test_an_exclude_that_is_no_json_boolean_is_not_understood(exclude: Any, where: str) -> None:
    her2_positive = interpretation()
    her2_positive["exclude"] = exclude
    if where == "contained":
        resource = research_study("s", contained=group("g", her2_positive))
        groups = {}
    else:
        resource = research_study("s", enrollment="Group/g")
        groups = {"Group/g": group("g", her2_positive)}
    study = study_from_research_study(resource, groups)
    assert [(c.kind, c.section) for c in study.coded or ()] == [
        (CriterionKind.NOT_UNDERSTOOD, Section.UNKNOWN)
    ]
    assert match_study(study, BREAST_POSITIVE).outcome is Outcome.NOT_UNDERSTOOD


@pytest.mark.parametrize("value", ["true", 1])
def test_a_component_boolean_that_is_no_json_boolean_is_not_understood(value: Any) -> None:
    read = read_characteristic(
        characteristic(
            concept("https://her2-status.org/fhir/CodeSystem/her2-status-component", "her2-low"),
            valueBoolean=value,
        )
    )
    assert read is not None
    assert read.kind is CriterionKind.NOT_UNDERSTOOD


def _coded_only(system: str, code: str) -> dict[str, Any]:
    resource = research_study("s", conditions=(), contained=group("g", interpretation()))
    resource["condition"] = [{"coding": [{"system": system, "code": code}]}]
    return resource


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (SNOMED, "254837009"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "C50.919"),
        ("http://hl7.org/fhir/sid/icd-10", "C50.9"),
    ],
)
def test_a_breast_coded_condition_names_breast(system: str, code: str) -> None:
    resource = _coded_only(system, code)
    assert _outcome(resource) is Outcome.CANDIDATE
    assert _outcome(resource, GASTRIC_POSITIVE) is Outcome.EXCLUDED


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (SNOMED, "363349007"),
        (SNOMED, "363402007"),
        ("http://hl7.org/fhir/sid/icd-10", "C16.9"),
        ("http://hl7.org/fhir/sid/icd-10-cm", "C15.5"),
    ],
)
def test_a_gastroesophageal_coded_condition_names_its_site(system: str, code: str) -> None:
    resource = _coded_only(system, code)
    assert _outcome(resource, GASTRIC_POSITIVE) is Outcome.CANDIDATE
    assert _outcome(resource) is Outcome.EXCLUDED


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (SNOMED, "93880001"),  # lung: not in the project's site tables, never guessed
        ("http://hl7.org/fhir/sid/icd-10", "C34.9"),
        ("urn:local", "breast"),
    ],
)
def test_another_or_unknown_coded_condition_is_left_for_review(system: str, code: str) -> None:
    resource = _coded_only(system, code)
    assert study_from_research_study(resource).conditions == (UNREAD_CONDITION,)
    assert _outcome(resource) is Outcome.NEEDS_REVIEW
    assert _outcome(resource, GASTRIC_POSITIVE) is Outcome.NEEDS_REVIEW


def test_condition_words_that_agree_with_the_code_are_kept() -> None:
    resource = _coded_only(SNOMED, "254837009")
    resource["condition"][0]["coding"][0]["display"] = "Breast carcinoma"
    assert study_from_research_study(resource).conditions == ("Breast carcinoma",)


@pytest.mark.parametrize(
    ("words", "system", "code"),
    [
        ("HER2-positive", "http://hl7.org/fhir/sid/icd-10", "C34.9"),
        ("Breast carcinoma", SNOMED, "93880001"),
        ("Breast cancer", "http://hl7.org/fhir/sid/icd-10", "C16.0"),
        (" ", "http://hl7.org/fhir/sid/icd-10", "C34.9"),
    ],
)
def test_condition_words_never_override_a_code_naming_something_else(
    words: str, system: str, code: str
) -> None:
    resource = _coded_only(system, code)
    resource["condition"][0]["text"] = words
    assert study_from_research_study(resource).conditions == (UNREAD_CONDITION,)
    assert _outcome(resource) is Outcome.NEEDS_REVIEW
    assert _outcome(resource, GASTRIC_POSITIVE) is Outcome.NEEDS_REVIEW


def test_generic_condition_words_take_the_site_of_their_code() -> None:
    resource = _coded_only("http://hl7.org/fhir/sid/icd-10", "C50.9")
    resource["condition"][0]["text"] = "HER2-positive cancer"
    assert study_from_research_study(resource).conditions[-1] == "Breast cancer"
    assert _outcome(resource, GASTRIC_POSITIVE) is Outcome.EXCLUDED


@pytest.mark.parametrize("depth", [150, 400])
def test_deeply_nested_extensions_make_no_study(depth: int) -> None:
    extension: dict[str, Any] = {"url": "http://x", "valueString": "v"}
    for _ in range(depth):
        extension = {"url": "http://x", "extension": [extension]}
    resource = research_study("s")
    resource["extension"] = [extension]
    with pytest.raises(NotAResearchStudy):
        study_from_research_study(resource)


@pytest.mark.parametrize(
    "entry",
    [
        {"identifier": {"system": "urn:x", "value": "g"}},
        {"type": "Group"},
        {"type": "Group", "display": POSITIVE_TEXT},
    ],
)
def test_an_enrollment_group_named_without_reference_is_not_understood(
    entry: dict[str, Any],
) -> None:
    resource = research_study("s", eligibility=POSITIVE_TEXT)
    resource["enrollment"].insert(0, entry)
    assert _outcome(resource) is Outcome.NOT_UNDERSTOOD


def test_a_display_only_enrollment_is_the_eligibility_text() -> None:
    assert _outcome(research_study("s", eligibility=POSITIVE_TEXT)) is Outcome.CANDIDATE


def _mutation() -> dict[str, Any]:
    return characteristic({"text": "ERBB2 activating mutation"}, valueBoolean=True)


def test_mutation_characteristics_alone_leave_the_text_to_be_read() -> None:
    resource = research_study("s", contained=group("g", _mutation()), eligibility=EXCLUDING_TEXT)
    assert study_from_research_study(resource).coded is None
    assert _outcome(resource) is Outcome.EXCLUDED


def test_mutation_and_status_characteristics_stay_coded() -> None:
    resource = research_study(
        "s", contained=group("g", _mutation(), interpretation()), eligibility=EXCLUDING_TEXT
    )
    coded = study_from_research_study(resource).coded or ()
    assert {c.kind for c in coded} == {CriterionKind.HER2_MUTATION, CriterionKind.HER2_POSITIVE}
    assert _outcome(resource) is Outcome.CANDIDATE


MODIFIER = [{"url": "http://example.org/negated", "valueBoolean": True}]


def test_a_modifier_extension_on_the_characteristic_is_not_understood() -> None:
    her2_positive = {**interpretation(), "modifierExtension": MODIFIER}
    resource = research_study("s", contained=group("g", her2_positive))
    assert _outcome(resource) is Outcome.NOT_UNDERSTOOD


def test_a_modifier_extension_on_a_non_her2_characteristic_is_not_understood() -> None:
    other = {**characteristic({"text": "Age"}, valueBoolean=True), "modifierExtension": MODIFIER}
    resource = research_study("s", contained=group("g", other, interpretation()))
    assert _outcome(resource) is Outcome.NOT_UNDERSTOOD


def test_a_modifier_extension_on_the_group_is_not_understood() -> None:
    contained = {**group("g", interpretation()), "modifierExtension": MODIFIER}
    assert _outcome(research_study("s", contained=contained)) is Outcome.NOT_UNDERSTOOD
    server = {**group("g", interpretation()), "modifierExtension": MODIFIER}
    resource = research_study("s", enrollment="Group/g")
    assert _outcome(resource, None, **{"Group/g": server}) is Outcome.NOT_UNDERSTOOD


def test_a_modifier_extension_on_the_study_is_not_understood() -> None:
    resource = research_study("s", eligibility=POSITIVE_TEXT)
    resource["modifierExtension"] = MODIFIER
    assert _outcome(resource) is Outcome.NOT_UNDERSTOOD


def test_two_contained_resources_with_one_id_are_not_understood() -> None:
    resource = research_study(
        "s", contained=group("g", interpretation(exclude=True)), eligibility=POSITIVE_TEXT
    )
    resource["contained"].append(group("g"))
    assert _outcome(resource) is Outcome.NOT_UNDERSTOOD


@pytest.mark.parametrize(
    "other",
    [
        {"system": LOINC, "code": "16112-5"},  # oestrogen receptor
        {"system": "urn:local", "code": "her2"},
    ],
)
def test_a_code_whose_codings_disagree_is_not_understood(other: dict[str, str]) -> None:
    her2_positive = interpretation()
    her2_positive["code"]["coding"].append(other)
    read = read_characteristic(her2_positive)
    assert read is not None
    assert read.kind is CriterionKind.NOT_UNDERSTOOD


def test_a_value_with_an_unrecognised_coding_is_not_understood() -> None:
    her2_positive = interpretation()
    her2_positive["valueCodeableConcept"]["coding"].append({"system": "urn:x", "code": "equivocal"})
    read = read_characteristic(her2_positive)
    assert read is not None
    assert read.kind is CriterionKind.NOT_UNDERSTOOD


@pytest.mark.parametrize(
    ("element", "field", "words"),
    [
        ("code", "text", "Estrogen receptor status"),
        ("code", "display", "ER [Interpretation] in Tissue"),
        ("valueCodeableConcept", "text", "Not positive"),
        ("valueCodeableConcept", "text", "Equivocal"),
        ("valueCodeableConcept", "display", "Negative"),
    ],
)
def test_words_that_say_something_else_than_the_codes_are_not_understood(
    element: str, field: str, words: str
) -> None:
    characteristic = interpretation()  # LOINC 48676-1 = SNOMED Positive
    concept_ = characteristic[element]
    (concept_ if field == "text" else concept_["coding"][0])[field] = words
    found = read_characteristic(characteristic)
    assert found is not None
    assert found.kind is CriterionKind.NOT_UNDERSTOOD


def test_words_that_agree_with_the_codes_are_read() -> None:
    characteristic = interpretation()
    characteristic["valueCodeableConcept"]["coding"][0]["display"] = "Positive"
    characteristic["valueCodeableConcept"]["text"] = "HER2 positive"
    found = read_characteristic(characteristic)
    assert found is not None
    assert found.kind is CriterionKind.HER2_POSITIVE


@pytest.mark.parametrize("element", ["code", "valueCodeableConcept"])
@pytest.mark.parametrize("broken", [{"code": "260385009"}, {"system": SNOMED}, {"display": "x"}])
def test_a_coding_without_system_or_code_is_not_understood(
    element: str, broken: dict[str, str]
) -> None:
    her2_positive = interpretation()
    her2_positive[element]["coding"].append(broken)
    assert getattr(read_characteristic(her2_positive), "kind", None) is NU


def test_the_project_s_own_ihc_displays_are_read() -> None:
    code = concept(LOINC, "85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain")
    value = concept(
        "https://her2-status.org/fhir/CodeSystem/her2-ihc-score",
        "0-null",
        "IHC 0, no membrane staining (assessed)",
    )
    found = read_characteristic(characteristic(code, valueCodeableConcept=value))
    assert found is not None
    assert found.kind is CriterionKind.HER2_NULL


def test_a_study_modifier_or_duplicate_ids_read_no_characteristic() -> None:
    requires_positive = group("g", interpretation())
    modified = research_study("s", contained=requires_positive)
    modified["modifierExtension"] = [{"url": "urn:x", "valueBoolean": True}]
    negative = {Site.BREAST: PatientHer2(Site.BREAST, Status.NEGATIVE, False, False)}
    assert _outcome(modified, negative) is Outcome.NOT_UNDERSTOOD
    twice = research_study("s", contained=requires_positive)
    twice["contained"].append(group("g", interpretation(exclude=True)))
    assert _outcome(twice) is Outcome.NOT_UNDERSTOOD


def test_a_display_with_its_translation_is_still_the_eligibility_text() -> None:
    resource = research_study("s", eligibility=POSITIVE_TEXT)
    (entry,) = [e for e in resource["enrollment"] if "display" in e]
    entry["_display"] = {"extension": [{"url": "urn:translation", "valueString": "x"}]}
    entry["id"] = "e1"
    assert _outcome(resource) is Outcome.CANDIDATE

"""Coded HER2 eligibility: Group.characteristic → Criterion (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir.her2_characteristic import read_characteristic
from service.her2 import Site
from service.trials.model import CriterionKind, Her2Class, Section
from tests.builders.trials import (
    COMPONENT,
    LOINC,
    SNOMED,
    characteristic,
    component,
    concept,
    interpretation,
)

STATUS = "https://her2-status.org/fhir/CodeSystem/her2-status"
IHC_SCORE = "https://her2-status.org/fhir/CodeSystem/her2-ihc-score"
LOINC_OID = "urn:oid:2.16.840.1.113883.6.1"


def ihc(system: str, code: str, test: str = "18474-7") -> dict[str, Any]:
    return characteristic(concept(LOINC, test), valueCodeableConcept=concept(system, code))


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ((SNOMED, "10828004"), CriterionKind.HER2_POSITIVE),
        ((LOINC, "LA6576-8"), CriterionKind.HER2_POSITIVE),
        ((STATUS, "positive"), CriterionKind.HER2_POSITIVE),
        ((SNOMED, "260385009"), CriterionKind.HER2_NEGATIVE),
        ((LOINC, "LA6577-6"), CriterionKind.HER2_NEGATIVE),
        ((LOINC_OID, "LA6577-6"), CriterionKind.HER2_NEGATIVE),
        ((STATUS, "negative"), CriterionKind.HER2_NEGATIVE),
    ],
)
def test_interpretation_answers(answer: tuple[str, str], kind: CriterionKind) -> None:
    read = read_characteristic(interpretation(answer))
    assert read is not None
    assert (read.kind, read.section, read.negated, read.source) == (
        kind,
        Section.INCLUSION,
        False,
        "characteristic",
    )
    assert read.site is None


def test_interpretation_code_in_the_loinc_oid_system() -> None:
    coded = characteristic(
        concept(LOINC_OID, "48676-1"), valueCodeableConcept=concept(SNOMED, "10828004")
    )
    read = read_characteristic(coded)
    assert read is not None
    assert read.kind is CriterionKind.HER2_POSITIVE


def test_exclude_puts_the_criterion_in_the_exclusion_section() -> None:
    read = read_characteristic(interpretation((SNOMED, "10828004"), exclude=True))
    assert read is not None
    assert read.section is Section.EXCLUSION
    assert read.excludes
    assert read.sentence == f"HER2 [Interpretation] in Tissue: {SNOMED}|10828004 (exclude)"


def test_agreeing_codings_of_one_answer() -> None:
    coded = interpretation()
    coded["valueCodeableConcept"]["coding"].append({"system": LOINC, "code": "LA6576-8"})
    read = read_characteristic(coded)
    assert read is not None
    assert read.kind is CriterionKind.HER2_POSITIVE


@pytest.mark.parametrize(
    ("code", "value", "kind", "negated", "excludes"),
    [
        ("her2-low", True, CriterionKind.HER2_LOW, False, False),
        ("her2-low", False, CriterionKind.HER2_LOW, True, True),
        ("her2-ultralow", True, CriterionKind.HER2_ULTRALOW, False, False),
        ("her2-ultralow", False, CriterionKind.HER2_ULTRALOW, True, True),
    ],
)
def test_components(
    code: str, value: bool, kind: CriterionKind, negated: bool, excludes: bool
) -> None:
    read = read_characteristic(component(code, value))
    assert read is not None
    assert (read.kind, read.negated, read.excludes) == (kind, negated, excludes)
    assert read.sentence == f"{COMPONENT}|{code}: {'true' if value else 'false'}"


def test_a_denied_class_in_the_exclusion_section_is_required() -> None:
    # "Exclude: HER2-low is false" leaves only HER2-low patients.
    read = read_characteristic(component("her2-low", False, exclude=True))
    assert read is not None
    assert read.section is Section.EXCLUSION
    assert read.negated
    assert not read.excludes
    assert read.classes == frozenset({Her2Class.LOW})


@pytest.mark.parametrize(
    ("answer", "test", "kind", "site"),
    [
        ((LOINC, "LA6111-4"), "18474-7", CriterionKind.HER2_ZERO, None),
        ((IHC_SCORE, "0-null"), "18474-7", CriterionKind.HER2_NULL, None),
        ((IHC_SCORE, "0-ultralow"), "18474-7", CriterionKind.HER2_ULTRALOW, None),
        ((LOINC, "LA6111-4"), "85319-2", CriterionKind.HER2_ZERO, Site.BREAST),
    ],
)
def test_ihc_answers_that_name_a_class(
    answer: tuple[str, str], test: str, kind: CriterionKind, site: Site | None
) -> None:
    read = read_characteristic(ihc(*answer, test=test))
    assert read is not None
    assert (read.kind, read.site) == (kind, site)


def _other(**value: Any) -> dict[str, Any]:
    return characteristic(concept(LOINC, "48676-1"), **value)


@pytest.mark.parametrize(
    "coded",
    [
        # IHC scores that are part of a class only, or no class.
        ihc(LOINC, "LA11841-6"),
        ihc(LOINC, "LA11842-4"),
        ihc(LOINC, "LA11843-2"),
        ihc(LOINC, "LA11885-3"),
        # Interpretation answers that are no class, or disagree, or are not coded.
        interpretation((SNOMED, "42425007")),
        interpretation((SNOMED, "82334004")),
        interpretation((SNOMED, "123456")),
        _other(valueBoolean=True),
        _other(),
        {
            **interpretation(),
            "valueCodeableConcept": {
                "coding": [
                    {"system": SNOMED, "code": "10828004"},
                    {"system": SNOMED, "code": "260385009"},
                ]
            },
        },
        # An ISH test result alone is part of a class only.
        characteristic(concept(LOINC, "85318-4"), valueCodeableConcept=concept(SNOMED, "10828004")),
        # The project's other codes, and HER2 codes never used for status.
        characteristic(concept(COMPONENT, "ish-group"), valueBoolean=True),
        component("her2-low", True) | {"valueBoolean": None, "valueString": "yes"},
        characteristic(concept(LOINC, "32996-1"), valueCodeableConcept=concept(SNOMED, "10828004")),
        # HER2 in words only, in the code or in the value.
        characteristic({"text": "HER2 status"}, valueCodeableConcept={"text": "low"}),
        characteristic(
            concept(SNOMED, "250724005", "Tumor marker"),
            valueCodeableConcept={"text": "HER2 positive"},
        ),
        characteristic(
            concept(SNOMED, "250724005"), valueCodeableConcept=concept(STATUS, "positive")
        ),
        # Two HER2 codes of different kinds in one characteristic.
        characteristic(
            {
                "coding": [
                    {"system": LOINC, "code": "48676-1"},
                    {"system": LOINC, "code": "18474-7"},
                ]
            },
            valueCodeableConcept=concept(SNOMED, "10828004"),
        ),
    ],
)
def test_her2_characteristics_that_are_not_understood(coded: dict[str, Any]) -> None:
    read = read_characteristic(coded)
    assert read is not None
    assert read.kind is CriterionKind.NOT_UNDERSTOOD
    assert read.source == "characteristic"


@pytest.mark.parametrize(
    "coded",
    [
        # Oestrogen receptor status: positive, but not HER2.
        characteristic(concept(LOINC, "16112-5"), valueCodeableConcept=concept(SNOMED, "10828004")),
        characteristic(
            concept(SNOMED, "424144002", "Age"), valueRange={"low": {"value": 18, "unit": "a"}}
        ),
        characteristic({"text": "ECOG 0-1"}, valueBoolean=True),
    ],
)
def test_characteristics_not_about_her2_are_ignored(coded: dict[str, Any]) -> None:
    assert read_characteristic(coded) is None


def test_sentence_renders_code_and_value() -> None:
    read = read_characteristic(interpretation((SNOMED, "260385009")))
    assert read is not None
    assert read.sentence == f"HER2 [Interpretation] in Tissue: {SNOMED}|260385009"
    quantity = characteristic(
        {"text": "HER2 copies"}, valueQuantity={"comparator": ">=", "value": 6, "unit": "copies"}
    )
    read = read_characteristic(quantity)
    assert read is not None
    assert read.kind is CriterionKind.NOT_UNDERSTOOD
    assert read.sentence == "HER2 copies: >= 6 copies"


@pytest.mark.parametrize(
    ("words", "kind"),
    [
        ("Activating ERBB2 mutation", CriterionKind.HER2_MUTATION),
        ("HER2 exon 20 insertion", CriterionKind.HER2_MUTATION),
        ("HER2 amplification or mutation", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-low", CriterionKind.NOT_UNDERSTOOD),
    ],
)
def test_her2_in_words_only_tells_a_mutation_apart(words: str, kind: CriterionKind) -> None:
    read = read_characteristic(characteristic({"text": words}, valueBoolean=True))
    assert read is not None
    assert read.kind is kind


def test_a_mutation_word_beside_a_status_code_is_still_the_status_code() -> None:
    coded = interpretation((SNOMED, "10828004"))
    coded["code"]["text"] = "HER2 mutation"
    read = read_characteristic(coded)
    assert read is not None
    assert read.kind is CriterionKind.HER2_POSITIVE

"""Other sites (her2-rules.md section 6) and an unknown site (section 7)."""

from __future__ import annotations

from typing import Any

import pytest

from service.app.derivation import derive
from service.fhir.codes import CodeMap, CodeMapError
from service.fhir.inbound import read_inputs
from service.fhir.issues import Severity
from service.her2 import evaluate
from tests.builders import BREAST, NOW, bundle, condition, dual, ihc, single, spec


def test_other_site_ihc_3_plus_is_positive() -> None:
    result = evaluate(spec("other", "3+"))
    assert (result.status, result.next_step, result.interpretation) == ("positive", None, "final")
    assert "O1" in result.rule_ids
    assert (result.her2_low, result.ultralow, result.ish_group) == (None, None, None)


@pytest.mark.parametrize(
    ("ihc", "ish"),
    [
        ("2+", None),
        ("1+", None),
        ("0", None),
        (None, dual("3.0", "8.0", "2.67")),
        (None, single("9.0")),
        ("2+", dual("3.0", "8.0", "2.67")),
    ],
)
def test_other_site_anything_else_is_indeterminate(ihc: str | None, ish: object) -> None:
    result = evaluate(spec("other", ihc, ish=ish))
    assert result.status == "indeterminate"
    assert result.next_step == "no_site_specific_guideline"
    assert result.error is None
    assert result.interpretation == "preliminary"


def test_other_site_ish_alone_never_qualifies() -> None:
    result = evaluate(spec("other", None, ish=dual("5.0", "10.0", "2.0")))
    assert result.status != "positive"
    assert "O3" in result.rule_ids


def test_other_site_still_validates_input() -> None:
    assert evaluate(spec("other", "3+", ish=dual("-1", "4", "2"))).error == "invalid_value"


@pytest.mark.parametrize(
    ("ihc", "ish", "status", "step"),
    [
        ("3+", None, "positive", None),
        ("1+", None, "negative", None),
        ("0-ultralow", None, "negative", None),
        ("2+", None, "equivocal", "order_reflex_ish"),
        ("2+", dual("1.2", "2.4", "2.0"), "negative", None),
    ],
)
def test_unknown_site_reported_when_both_rule_sets_agree(
    ihc: str, ish: object, status: str, step: str | None
) -> None:
    result = evaluate(spec(None, ihc, ish=ish))
    assert (result.status, result.next_step) == (status, step)
    assert result.site is None
    # Not assigned without a site: HER2-low/ultralow are breast-only terms.
    assert (result.her2_low, result.ultralow, result.ish_group) == (None, None, None)
    assert result.rule_ids[0] == "U1"


@pytest.mark.parametrize(
    ("ihc", "ish"),
    [
        ("2+", dual("2.4", "3.6", "1.5")),  # breast group 2 needs recount; GEA positive
        (None, dual("2.5", None, None)),  # breast needs copies (error); GEA positive
        ("2+", single("7.0")),  # breast B19 positive; GEA G10 review
        ("1+", dual("1.2", "2.4", "2.0")),  # breast B16 vs GEA G3: same status and step
    ][:3],
)
def test_unknown_site_disagreement_asks_for_the_site(ihc: str | None, ish: object) -> None:
    result = evaluate(spec(None, ihc, ish=ish))
    assert (result.status, result.next_step) == ("indeterminate", "specify_tumor_site")
    assert result.error is None
    assert result.rule_ids[0] == "U2"
    assert any(e.text.startswith("[breast rules]") for e in result.rationale)
    assert any(e.text.startswith("[gastroesophageal rules]") for e in result.rationale)


def test_unknown_site_same_error_in_both_is_reported() -> None:
    result = evaluate(spec(None, "2+", ish=dual("3.0", "4.0", "4.0")))
    assert result.error == "inconsistent_ish_values"
    assert result.next_step == "correct_input"


# --- the tumour site from cancer Conditions (fhir-contract.md section 4) ------------------

WHO = "http://hl7.org/fhir/sid/icd-10"
CM = "http://hl7.org/fhir/sid/icd-10-cm"
GM = "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
ICD_O3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def site_of(*conditions: dict[str, Any], code_map: CodeMap | None = None) -> str | None:
    reading = read_inputs(bundle(*conditions, ihc(answer="LA11842-4")), code_map)
    site = reading.groups[0].site
    return site.value if site else None


@pytest.mark.parametrize(
    ("system", "code", "site"),
    [
        (WHO, "C50.9", "breast"),
        (CM, "C50.911", "breast"),
        (GM, "C50.4", "breast"),
        (GM, "C16.0", "gastroesophageal"),
        ("http://fhir.de/CodeSystem/dimdi/icd-10-gm", "C15.5", "gastroesophageal"),
        ("http://hl7.org/fhir/sid/icd-10-ca", "C50.9", "breast"),
        (ICD_O3, "C50.9", "breast"),
        (ICD_O3, "C16.2", "gastroesophageal"),
        (ICD_O3, "C15.3", "gastroesophageal"),
        (GM, "C34.1", "other"),
        (WHO, "C56", "other"),
        (ICD_O3, "C34.1", "other"),
        # C80 (primary site unknown) is a malignant primary outside breast and
        # gastroesophageal: the other-site rules, which claim a positive only for IHC 3+.
        (WHO, "C80.9", "other"),
        (ICD_O3, "C80.9", "other"),
    ],
)
def test_cancer_condition_in_every_icd10_edition_and_icd_o3(
    system: str, code: str, site: str
) -> None:
    assert site_of(condition(system, code)) == site


@pytest.mark.parametrize(
    "code",
    [
        "C77.3",  # secondary, lymph nodes
        "C78.0",  # secondary, lung
        "C79.81",  # secondary, breast (ICD-10-CM)
        "C83.3",  # lymphoma: no solid organ
        "D05.1",  # in situ (DCIS)
        "J45.9",  # not a cancer
    ],
)
def test_codes_that_are_no_malignant_primary_leave_the_site_unknown(code: str) -> None:
    assert site_of(condition(CM, code)) is None


def test_a_metastasis_in_the_breast_does_not_make_the_site_breast() -> None:
    # The body site of a secondary describes the metastasis, not the primary.
    assert site_of(condition(CM, "C79.81", body=BREAST)) is None


def test_a_benign_breast_lesion_does_not_make_the_site_breast() -> None:
    assert site_of(condition(GM, "D24", body=BREAST)) is None


def test_icd_o3_morphology_with_topography_body_site() -> None:
    assert site_of(condition(ICD_O3, "8500/3", body=(ICD_O3, "C50.9"))) == "breast"
    assert site_of(condition(ICD_O3, "8140/3", body=(ICD_O3, "C34.1"))) == "other"
    # Behaviour /6: metastatic; the body site is the metastasis.
    assert site_of(condition(ICD_O3, "8500/6", body=(ICD_O3, "C34.1"))) is None


@pytest.mark.parametrize(
    "status",
    [
        {"verificationStatus": {"coding": [{"system": VER_STATUS, "code": "refuted"}]}},
        {"verificationStatus": {"coding": [{"system": VER_STATUS, "code": "entered-in-error"}]}},
    ],
)
def test_refuted_or_withdrawn_conditions_are_ignored(status: dict[str, Any]) -> None:
    assert site_of(condition(GM, "C34.1", **status), condition(WHO, "C50.9")) == "breast"


def test_two_primaries_of_different_rule_sets_leave_the_site_unknown_with_a_warning() -> None:
    reading = read_inputs(
        bundle(condition(GM, "C34.1"), condition(WHO, "C50.9"), ihc(answer="LA11842-4"))
    )
    assert reading.groups[0].site is None
    assert any(
        i.severity is Severity.WARNING and "Conditions" in i.diagnostics for i in reading.issues
    )


def test_national_icd10_editions_are_configured_in_the_code_map() -> None:
    national = "http://example.org/fhir/sid/icd-10-xx"
    assert site_of(condition(national, "C34.1")) is None
    code_map = CodeMap().with_local({"icd10_systems": [national]})
    assert site_of(condition(national, "C34.1"), code_map=code_map) == "other"
    with pytest.raises(CodeMapError):
        CodeMap().with_local({"icd10_systems": "http://not-a-list"})


def _derived(payload: dict[str, Any]) -> dict[str, Any]:
    derivation = derive(payload, NOW)
    observations = [
        e["resource"]
        for e in derivation.bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ]
    assert len(observations) == 1
    resource: dict[str, Any] = observations[0]
    return resource


def _status_and_step(observation: dict[str, Any]) -> tuple[str, str | None]:
    status = observation["valueCodeableConcept"]["coding"][2]["code"]
    steps = [
        c["valueCodeableConcept"]["coding"][0]["code"]
        for c in observation.get("component", [])
        if c["code"]["coding"][0]["code"] == "next-step"
    ]
    return status, steps[0] if steps else None


def test_lung_primary_in_icd10_gm_with_ihc_2_plus_has_no_site_specific_guideline() -> None:
    observation = _derived(bundle(condition(GM, "C34.1"), ihc(answer="LA11842-4")))
    assert _status_and_step(observation) == ("indeterminate", "no_site_specific_guideline")


def test_lung_primary_in_icd10_gm_with_a_qualitative_positive_ihc() -> None:
    # Before the fix the lung primary was "site unknown" and the qualitative Positive
    # came out positive under the breast and gastroesophageal rules.  At another site
    # a Positive IHC counts as 3+ (rules section 5.3), and IHC 3+ is positive at any
    # site (section 6): still positive, but under the other-site rule, and the note
    # says the site is "other", from the Condition.
    observation = _derived(bundle(condition(GM, "C34.1"), ihc(answer="LA6576-8")))
    status, _ = _status_and_step(observation)
    notes = " ".join(n["text"] for n in observation.get("note", []))
    assert status == "positive"
    assert "Tumour site: other (from the primary cancer Condition)" in notes
    assert "[O1]" in notes  # the other-site rule fired, not the breast/gastro ones
    assert "site unknown" not in notes.lower()

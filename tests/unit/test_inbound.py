"""The lenient FHIR reader (contract sections 1-4): shapes, references, statuses, grouping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from service.app.derivation import derive
from service.fhir.codes import LOINC, LOINC_OID, SNOMED, CodeMap, CodeMapError
from service.fhir.envelope import EnvelopeError
from service.fhir.inbound import read_inputs
from service.fhir.issues import Severity
from service.her2 import ErrorCode, Invalid, IshInput
from service.her2.inputs import NOT_A_CODE
from service.her2.numbers import Bound
from tests.builders import (
    NOW,
    bundle,
    condition,
    data_absent,
    ihc,
    ish_call,
    observation,
    quantity,
)

VOCABULARY = "not one of 0, 0-ultralow, 1+, 2+, 3+"
# A value that does not fit its code reaches the rules as invalid_type (fails closed).
NOT_A_NUMBER = Invalid(ErrorCode.INVALID_TYPE, "not a number")
LOCAL = "http://lab.example.org/codes"


def one_spec(payload: dict[str, Any], **kw: Any) -> Any:
    reading = read_inputs(payload, **kw)
    assert len(reading.groups) == 1
    return reading.groups[0].spec


def statuses(payload: dict[str, Any]) -> list[str]:
    derivation = derive(payload, NOW)
    return [
        e["resource"]["valueCodeableConcept"]["coding"][2]["code"]
        for e in derivation.bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ]


# --- codes -------------------------------------------------------------------


def test_loinc_oid_system_is_accepted() -> None:
    spec = one_spec(bundle(observation("i", "18474-7", system=LOINC_OID, valueString="3+")))
    assert spec.ihc_score == "3+"


def test_snomed_ratio_code_is_accepted() -> None:
    spec = one_spec(bundle(observation("r", "1365744007", system=SNOMED, **quantity("2.4"))))
    assert spec.ish.her2_cep17_ratio == Decimal("2.4")


def test_unknown_code_is_never_guessed_from_display() -> None:
    resource = observation("x", "LOCAL-HER2", system=LOCAL, valueString="3+")
    resource["code"]["coding"][0]["display"] = "HER2 IHC"
    reading = read_inputs(bundle(resource))
    assert reading.groups == []
    assert any(i.expression == "Bundle.entry[0].resource.code" for i in reading.issues)


def test_local_code_map_adds_a_site_code() -> None:
    table = {
        "observations": [
            {"system": "http://lab.example.org/codes", "code": "LOCAL-HER2", "kind": "ihc"}
        ]
    }
    resource = observation("x", "LOCAL-HER2", system=LOCAL, valueString="3+")
    spec = one_spec(bundle(resource), code_map=CodeMap().with_local(table))
    assert spec.ihc_score == "3+"


def test_local_code_map_rejects_unknown_kinds() -> None:
    with pytest.raises(CodeMapError):
        CodeMap().with_local({"observations": [{"system": "s", "code": "c", "kind": "magic"}]})


def test_code_map_from_file(tmp_path: Any) -> None:
    path = tmp_path / "map.json"
    path.write_text('{"sites": [{"system": "http://x", "code": "B", "site": "breast"}]}')
    assert CodeMap.from_file(path).site_of("http://x", "B") == "breast"
    path.write_text("[]")
    with pytest.raises(CodeMapError):
        CodeMap.from_file(path)


@pytest.mark.parametrize("code", ["32996-1", "42914-2", "51981-9", "72382-5", "72383-3"])
def test_her2_related_non_ihc_ish_codes_are_never_used(code: str) -> None:
    reading = read_inputs(bundle(observation("s", code, **quantity("15"))))
    assert reading.groups == []
    assert any(i.severity is Severity.WARNING for i in reading.issues)


# --- value shapes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "score", "assessed"),
    [
        ({"valueString": "2 +"}, "2+", True),
        ({"valueString": "0"}, "0", False),
        ({"valueInteger": 3}, "3+", True),
        ({"valueInteger": 0}, "0", False),
        ({"valueInteger": 4}, Invalid(ErrorCode.INVALID_VOCABULARY, VOCABULARY), True),
    ],
)
def test_ihc_string_and_integer_values(
    value: dict[str, Any], score: object, assessed: bool
) -> None:
    spec = one_spec(bundle(observation("i", "18474-7", **value)))
    assert (spec.ihc_score, spec.ihc0_ultralow_assessed) == (score, assessed)


def test_ihc_zero_with_null_coding_is_assessed() -> None:
    concept = {
        "coding": [
            {"system": LOINC, "code": "LA6111-4"},
            {"system": "https://her2-status.org/fhir/CodeSystem/her2-ihc-score", "code": "0-null"},
        ]
    }
    spec = one_spec(bundle(observation("i", "18474-7", valueCodeableConcept=concept)))
    assert (spec.ihc_score, spec.ihc0_ultralow_assessed) == ("0", True)


def test_ihc_of_wrong_type_fails_closed() -> None:
    assert one_spec(bundle(observation("i", "18474-7", **quantity("2")))).ihc_score == NOT_A_CODE
    derivation = derive(bundle(observation("i", "18474-7", **quantity("2"))), NOW)
    assert not derivation.usable
    assert [i.input_error for i in derivation.issues if i.input_error] == ["invalid_type"]


def test_ihc_answer_present_is_not_usable() -> None:
    concept = {"coding": [{"system": SNOMED, "code": "52101004"}]}  # "Present"
    derivation = derive(bundle(observation("i", "18474-7", valueCodeableConcept=concept)), NOW)
    assert not derivation.usable
    assert any(i.code == "code-unknown" for i in derivation.issues)


@pytest.mark.parametrize(
    ("answer", "call"),
    [("LA6576-8", "positive"), ("LA6577-6", "negative"), ("LA11885-3", "equivocal")],
)
def test_ihc_qualitative_answers(answer: str, call: str) -> None:
    spec = one_spec(bundle(ihc(answer=answer)))
    assert (spec.ihc_score, spec.ihc_call) == (None, call)


def test_indeterminate_answer_is_an_assay_failure() -> None:
    spec = one_spec(bundle(ihc(answer="LA11884-6")))
    assert spec.assay_failed is True


def test_failed_ihc_with_valid_ish_keeps_the_ish() -> None:
    failed = observation("i", "18474-7", **data_absent())
    spec = one_spec(
        bundle(
            failed,
            observation("r", "49683-6", **quantity("1.2")),
            observation("h", "74860-8", **quantity("2.4")),
            observation("c", "74861-6", **quantity("2.0")),
        )
    )
    assert spec.assay_failed is False
    assert spec.ihc_score is None
    assert spec.ish is not None


def test_ish_without_value_components_or_reason_is_passed_on_empty() -> None:
    # Rules section 3.7: an ISH that is there but carries nothing usable is never
    # silently dropped; the rules see an ISH with every field None.
    reading = read_inputs(bundle(ihc(), ish_call(status="preliminary")))
    group = reading.groups[0]
    ish = group.spec.ish
    assert isinstance(ish, IshInput)
    assert (ish.probe, ish.her2_cep17_ratio, ish.avg_her2_copies, ish.avg_cep17_copies) == (
        None,
        None,
        None,
        None,
    )
    assert (ish.cells_counted, ish.lab_call) == (None, None)
    assert ish.final is False  # the Observation was preliminary
    assert group.field_paths["ish"] == "Bundle.entry[1].resource"
    assert group.spec.ihc_score == "2+"


def test_empty_ish_panel_is_passed_on_empty() -> None:
    panel = observation("panel", "74885-5")
    group = read_inputs(bundle(ihc(), panel)).groups[0]
    assert isinstance(group.spec.ish, IshInput)
    assert group.spec.ish.final is True
    assert group.field_paths["ish"] == "Bundle.entry[1].resource"


def test_ish_not_done_is_still_absent() -> None:
    # A dataAbsentReason says the test is not available: no ISH, not an empty one.
    spec = one_spec(bundle(ihc(), ish_call(**data_absent("not-performed"))))
    assert spec.ish is None


def test_empty_ish_does_not_displace_a_usable_count() -> None:
    spec = one_spec(bundle(ihc(), ish_call(), observation("r", "49683-6", **quantity("2.4"))))
    assert spec.ish is not None
    assert spec.ish.her2_cep17_ratio == Decimal("2.4")


def test_comparator_ratio_is_a_bound() -> None:
    spec = one_spec(bundle(observation("r", "49683-6", **quantity("2.2", comparator=">"))))
    assert spec.ish.her2_cep17_ratio == Bound(">", Decimal("2.2"))


def test_copy_number_bound_fails_closed() -> None:
    spec = one_spec(bundle(observation("h", "74860-8", **quantity("6", comparator=">"))))
    assert spec.ish.avg_her2_copies == NOT_A_NUMBER


@pytest.mark.parametrize("unit", ["%", "mg", "ng/mL"])
def test_unit_that_does_not_fit_the_code_fails_closed(unit: str) -> None:
    spec = one_spec(bundle(observation("r", "49683-6", **quantity("2.4", unit))))
    assert spec.ish.her2_cep17_ratio == NOT_A_NUMBER


def test_value_ratio_is_divided_exactly() -> None:
    ratio = {"numerator": {"value": Decimal("4.8")}, "denominator": {"value": Decimal("2.0")}}
    spec = one_spec(bundle(observation("r", "49683-6", valueRatio=ratio)))
    assert spec.ish.her2_cep17_ratio == Decimal("2.4")


def test_value_ratio_zero_denominator_is_invalid_value() -> None:
    ratio = {"numerator": {"value": Decimal("4.8")}, "denominator": {"value": Decimal(0)}}
    derivation = derive(bundle(observation("r", "49683-6", valueRatio=ratio)), NOW)
    assert [i.input_error for i in derivation.issues if i.input_error] == ["invalid_value"]


def test_copy_number_as_coded_value_fails_closed() -> None:
    concept = {"coding": [{"system": LOINC, "code": "LA6576-8"}]}
    spec = one_spec(bundle(observation("h", "74860-8", valueCodeableConcept=concept)))
    assert spec.ish.avg_her2_copies == NOT_A_NUMBER


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("Amplified", "amplified"),
        ("Not amplified", "not-amplified"),
        ("Positive", "amplified"),
        ("equivocal", "equivocal"),
    ],
)
def test_ish_qualitative_strings(text: str, call: str) -> None:
    assert one_spec(bundle(observation("q", "85318-4", valueString=text))).ish.lab_call == call


def test_single_probe_method() -> None:
    method = {
        "coding": [
            {
                "system": "https://her2-status.org/fhir/CodeSystem/her2-ish-assay",
                "code": "single-probe",
            }
        ]
    }
    panel = observation(
        "p",
        "74885-5",
        method=method,
        component=[{"code": {"coding": [{"system": LOINC, "code": "74860-8"}]}, **quantity("6.5")}],
    )
    spec = one_spec(bundle(panel))
    assert (spec.ish.probe, spec.ish.avg_her2_copies) == ("single", Decimal("6.5"))


# --- references -------------------------------------------------------------------


@pytest.mark.parametrize(
    "member_ref",
    [
        "Observation/r1",
        "http://ehr.example.org/fhir/Observation/r1",
        "Observation/r1/_history/7",
        "urn:uuid:5a0c5c6e-0000-4000-8000-000000000001",
    ],
)
def test_panel_member_reference_forms(member_ref: str) -> None:
    panel = observation("p", "74885-5", hasMember=[{"reference": member_ref}])
    member = observation("r1", "49683-6", effective=None, **quantity("2.4"))
    payload = bundle(panel, member, urls=["", "urn:uuid:5a0c5c6e-0000-4000-8000-000000000001"])
    reading = read_inputs(payload)
    assert len(reading.groups) == 1
    ish = reading.groups[0].spec.ish
    assert isinstance(ish, IshInput)
    assert ish.her2_cep17_ratio == Decimal("2.4")


def test_identifier_only_specimen_reference_resolves() -> None:
    specimen = {
        "resourceType": "Specimen",
        "id": "sp1",
        "identifier": [{"system": "urn:acc", "value": "A-1"}],
    }
    resource = ihc(
        specimen={"type": "Specimen", "identifier": {"system": "urn:acc", "value": "A-1"}}
    )
    reading = read_inputs(bundle(specimen, resource))
    assert reading.groups[0].specimen == "Specimen/sp1"


def test_member_missing_from_request_is_a_warning() -> None:
    panel = observation("p", "74885-5", hasMember=[{"reference": "Observation/elsewhere"}])
    reading = read_inputs(bundle(panel, ihc()))
    assert any("not included" in i.diagnostics for i in reading.issues)


# --- statuses ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["registered", "cancelled", "entered-in-error"])
def test_ignored_statuses(status: str) -> None:
    assert read_inputs(bundle(ihc(status=status))).groups == []


@pytest.mark.parametrize(
    ("status", "interpretation"),
    [
        ("final", "final"),
        ("amended", "final"),
        ("corrected", "final"),
        ("preliminary", "preliminary"),
        ("unknown", "preliminary"),
    ],
)
def test_usable_statuses(status: str, interpretation: str) -> None:
    derivation = derive(bundle(ihc(answer="LA11843-2", status=status)), NOW)
    observation = derivation.bundle["entry"][0]["resource"]
    assert observation["status"] == interpretation


def test_invalid_status_is_named_in_the_operation_outcome() -> None:
    # The status issue used to be recorded after the input's problems were copied,
    # so the caller only learnt that the input "cannot be read".
    derivation = derive(bundle(ihc(answer="LA11843-2", status="done-ish")), NOW)
    assert not derivation.usable
    outcome = derivation.outcome()
    located = [
        i for i in outcome["issue"] if i.get("expression") == ["Bundle.entry[0].resource.status"]
    ]
    assert [(i["severity"], i["code"]) for i in located] == [("error", "code-invalid")]
    assert "status" in located[0]["diagnostics"]
    # The specimen still fails closed, and no request value is quoted anywhere.
    assert any(
        i.get("details", {}).get("coding", [{}])[0].get("code") == "invalid_type"
        for i in outcome["issue"]
    )
    assert "done-ish" not in str(outcome)


def test_entered_in_error_input_is_listed_as_withdrawn() -> None:
    reading = read_inputs(bundle(ihc("new"), ihc("old", status="entered-in-error")))
    assert [n.id for n in reading.groups[0].withdrawn] == ["old"]


# --- grouping -----------------------------------------------------------------------


def test_inputs_within_the_window_form_one_group() -> None:
    payload = bundle(
        ihc(effective="2026-01-01"),
        observation("r", "49683-6", effective="2026-01-30", **quantity("2.4")),
    )
    assert len(read_inputs(payload).groups) == 1
    assert len(read_inputs(payload, window=dt.timedelta(days=10)).groups) == 2


def test_different_subjects_are_never_combined() -> None:
    payload = bundle(ihc("a", subject="Patient/p1"), ihc("b", subject="Patient/p2"))
    assert len(read_inputs(payload).groups) == 2


def test_latest_ihc_of_a_group_is_used_and_the_older_noted() -> None:
    older = ihc(
        "old", answer="LA11841-6", effective="2026-01-01", specimen={"reference": "Specimen/s"}
    )
    newer = ihc(
        "new", answer="LA11843-2", effective="2026-01-05", specimen={"reference": "Specimen/s"}
    )
    group = read_inputs(bundle(newer, older)).groups[0]
    assert group.spec.ihc_score == "3+"
    assert any("superseded" in note for note in group.notes)


def test_reflex_ish_added_later_keeps_the_same_key() -> None:
    first = derive(bundle(ihc(effective="2026-01-01")), NOW)
    later = derive(
        bundle(
            ihc(effective="2026-01-01"),
            observation("r", "49683-6", effective="2026-01-09", **quantity("1.2")),
            observation("h", "74860-8", effective="2026-01-09", **quantity("2.4")),
            observation("c", "74861-6", effective="2026-01-09", **quantity("2.0")),
        ),
        NOW,
    )
    key = [d.key for d in first.derived]
    assert key == [d.key for d in later.derived]
    assert [d.result.status for d in first.derived] == ["equivocal"]
    assert [d.result.status for d in later.derived] == ["negative"]


def test_malformed_her2_entry_fails_only_its_specimen() -> None:
    broken = observation(
        "r", "49683-6", specimen={"reference": "Specimen/x"}, valueString="2", valueInteger=2
    )
    good = ihc("g", answer="LA11843-2", specimen={"reference": "Specimen/y"})
    derivation = derive(bundle(broken, good), NOW)
    assert derivation.usable
    assert statuses(bundle(broken, good)) == ["positive"]
    errors = [i for i in derivation.issues if i.input_error]
    assert [e.input_error for e in errors] == ["invalid_type"]


# --- site -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition_code", "system", "site"),
    [
        ("C50.911", "http://hl7.org/fhir/sid/icd-10-cm", "breast"),
        ("C16.9", "http://hl7.org/fhir/sid/icd-10", "gastroesophageal"),
        ("C15.5", "http://hl7.org/fhir/sid/icd-10-cm", "gastroesophageal"),
        ("254837009", SNOMED, "breast"),
        # A lung primary: the other-site rules (rules section 6), never "unknown".
        ("C34.1", "http://hl7.org/fhir/sid/icd-10-cm", "other"),
    ],
)
def test_site_from_the_patients_condition(
    condition_code: str, system: str, site: str | None
) -> None:
    group = read_inputs(bundle(condition(system, condition_code), ihc())).groups[0]
    assert (group.site.value if group.site else None) == site


def test_conflicting_conditions_leave_the_site_unknown() -> None:
    conditions = [condition("http://hl7.org/fhir/sid/icd-10", c) for c in ("C50.9", "C16.9")]
    group = read_inputs(bundle(*conditions, ihc())).groups[0]
    assert group.site is None


def test_focus_condition_wins_over_other_conditions() -> None:
    breast = condition("http://hl7.org/fhir/sid/icd-10", "C50.9", id="c1")
    gastric = condition("http://hl7.org/fhir/sid/icd-10", "C16.9", id="c2")
    group = read_inputs(bundle(breast, gastric, ihc(focus=[{"reference": "Condition/c2"}]))).groups[
        0
    ]
    assert group.site == "gastroesophageal"


def test_breast_specific_code_decides_the_site() -> None:
    resource = observation("i", "85319-2", valueString="1+")
    assert read_inputs(bundle(resource)).groups[0].site == "breast"


# --- envelope ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        {"resourceType": "Patient", "id": "p"},
        {"no": "type"},
        {"resourceType": "Parameters", "parameter": [{"name": "tumorSite", "valueCode": "lung"}]},
    ],
)
def test_unreadable_envelopes(payload: object) -> None:
    with pytest.raises(EnvelopeError) as raised:
        read_inputs(payload)
    assert raised.value.issues


def test_unknown_parameter_is_a_warning() -> None:
    payload = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "colour", "valueString": "red"},
            {"name": "observation", "resource": ihc()},
        ],
    }
    reading = read_inputs(payload)
    assert len(reading.groups) == 1
    assert reading.issues[0].expression == "Parameters.parameter[0]"

"""The derivation through FHIR: rule sets side by side, unusable ISH named (rules §3 item 7)."""

from __future__ import annotations

from typing import Any

from service.app.derivation import derive
from service.fhir.codes import CS_RULE_SET
from service.fhir.issues import Severity
from service.her2 import load_ruleset
from tests.builders import FIXTURES, NOW, bundle, concept, observation, quantity

TEST_RULESET = FIXTURES / "rulesets"
SPECIMEN = "Specimen/s1"


def _status(resource: dict[str, Any]) -> str:
    code: str = resource["valueCodeableConcept"]["coding"][2]["code"]
    return code


def test_two_rule_sets_give_different_correctly_labelled_outputs() -> None:
    # Breast IHC 1+ with ratio 2.1 and 4.2 HER2 signals: group 1 (positive) under the
    # shipped rule set, group 4 (negative) under the test rule set with ratio 2.2.
    payload = bundle(
        observation("i", "85319-2", specimen=SPECIMEN, **concept("LA11841-6")),
        observation("r", "49683-6", specimen=SPECIMEN, **quantity("2.1")),
        observation("h", "74860-8", specimen=SPECIMEN, **quantity("4.2")),
        observation("c", "74861-6", specimen=SPECIMEN, **quantity("2.0")),
    )
    moved = load_ruleset(TEST_RULESET / "her2-status-rules-0.9.0-test.json")
    current = derive(payload, NOW).outputs[0]
    other = derive(payload, NOW, ruleset=moved).outputs[0]
    assert (_status(current.observation), _status(other.observation)) == ("positive", "negative")
    methods = [o.observation["method"]["coding"][0] for o in (current, other)]
    assert [(m["system"], m["version"]) for m in methods] == [
        (CS_RULE_SET, "1.0.0"),
        (CS_RULE_SET, "0.9.0-test"),
    ]
    assert other.observation["method"]["text"].startswith("her2-status-rules 0.9.0-test")
    # The Provenance id hashes the rule-set version: a re-derivation under a new
    # version is a new Provenance, never a silent overwrite of the old one.
    assert current.provenance["id"] != other.provenance["id"]


def test_legacy_ish_text_with_positive_ihc_call_is_derived_from_the_ihc_with_a_warning() -> None:
    # A published synthetic breast patient: IHC "Positive", FISH "greater than 1.8".
    payload = bundle(
        observation("i", "85319-2", specimen=SPECIMEN, **concept("LA6576-8")),
        observation("f", "85318-4", specimen=SPECIMEN, valueString="greater than 1.8"),
    )
    derivation = derive(payload, NOW)
    assert derivation.usable
    assert [_status(o.observation) for o in derivation.outputs] == ["positive"]
    warnings = [i for i in derivation.issues if i.severity is Severity.WARNING]
    assert any("carries nothing usable" in w.diagnostics for w in warnings)
    assert any(w.expression and "entry[1]" in w.expression for w in warnings)


def test_legacy_ish_text_with_ihc_2plus_stays_incomplete() -> None:
    payload = bundle(
        observation("i", "85319-2", specimen=SPECIMEN, **concept("LA11842-4")),
        observation("f", "85318-4", specimen=SPECIMEN, valueString="greater than 1.8"),
    )
    derivation = derive(payload, NOW)
    assert not derivation.usable
    assert [i.input_error for i in derivation.issues if i.input_error] == ["incomplete_ish"]


def test_empty_ish_observation_with_ihc_2plus_is_incomplete_and_located() -> None:
    # Rules section 3 item 7: an ISH Observation with no value, no components and no
    # dataAbsentReason used to be dropped, deriving the specimen from the IHC alone.
    payload = bundle(
        observation("i", "85319-2", specimen=SPECIMEN, **concept("LA11842-4")),
        observation("f", "85318-4", specimen=SPECIMEN),
    )
    derivation = derive(payload, NOW)
    assert not derivation.usable
    errors = [i for i in derivation.issues if i.input_error]
    assert [(i.input_error, i.expression) for i in errors] == [
        ("incomplete_ish", "Bundle.entry[1].resource")
    ]


def test_empty_ish_observation_with_ihc_3plus_is_positive_with_a_warning() -> None:
    payload = bundle(
        observation("i", "85319-2", specimen=SPECIMEN, **concept("LA11843-2")),
        observation("f", "85318-4", specimen=SPECIMEN),
    )
    derivation = derive(payload, NOW)
    assert [_status(o.observation) for o in derivation.outputs] == ["positive"]
    assert derivation.outputs[0].observation["status"] == "final"
    warnings = [i for i in derivation.issues if i.severity is Severity.WARNING]
    assert [w.expression for w in warnings if "nothing usable" in w.diagnostics] == [
        "Bundle.entry[1].resource"
    ]

"""fhir_profiles/: up to date with the code, parseable, and covering every emitted code."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from scripts.build_profiles import PROFILES, expected_files
from scripts.guide import all_resources, code_systems
from scripts.guide.narrative import with_narrative
from scripts.guide.package import PACKAGE_ID
from service.fhir import jsonio
from service.fhir.codes import CANONICAL, CS_RULE_SET, SID_STATUS, SID_THERAPY_LIST
from service.fhir.conformance import (
    capability_statement,
    marker_patient_operation_definition,
    marker_system_operation_definition,
    patient_operation_definition,
    system_operation_definition,
    trial_operation_definition,
)
from service.fhir.conformance.header import IG_VERSION
from service.her2 import ErrorCode, NextStep, default_ruleset, load_catalog

FILES = expected_files()
GOLDEN = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "expected").glob("*.json"))


@pytest.mark.parametrize("name", sorted(FILES))
def test_profile_file_is_up_to_date(name: str) -> None:
    path = PROFILES / name
    assert path.is_file(), f"run scripts/build-profiles: {name} missing"
    assert path.read_text(encoding="utf-8") == FILES[name], f"run scripts/build-profiles: {name}"


def test_no_stray_files() -> None:
    on_disk = {str(p.relative_to(PROFILES)) for p in PROFILES.rglob("*.json")}
    assert on_disk == set(FILES)


RESOURCES = sorted(n for n in FILES if n != "package.json")


@pytest.mark.parametrize("name", RESOURCES)
def test_every_resource_parses_with_r4b(name: str) -> None:
    resource = jsonio.loads(FILES[name])
    rtype = resource["resourceType"]
    module = importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}")
    getattr(module, rtype).model_validate(resource)


def _concepts(url_suffix: str) -> set[str]:
    system = next(cs for cs in code_systems() if cs["url"].endswith(url_suffix))
    return {c["code"] for c in system["concept"]}


def test_code_systems_cover_the_rules_vocabularies() -> None:
    assert _concepts("/her2-next-step") == {s.value for s in NextStep}
    assert _concepts("/her2-input-error") == {e.value for e in ErrorCode}
    assert _concepts("/her2-therapy-class") == set(load_catalog().classes)


def test_rule_set_code_system_publishes_the_rule_set_version() -> None:
    system = next(cs for cs in code_systems() if cs["url"] == CS_RULE_SET)
    assert system["version"] == default_ruleset().version
    assert [c["code"] for c in system["concept"]] == [default_ruleset().id]
    # The other resources keep the guide's version.
    others = {
        r["version"]
        for r in all_resources().values()
        if r["resourceType"] != "NamingSystem" and r["url"] != CS_RULE_SET
    }
    assert others == {IG_VERSION}


def test_outputs_cite_the_published_rule_set_version() -> None:
    published = jsonio.loads(FILES["CodeSystem-her2-rule-set.json"])["version"]
    cited = {
        (coding["code"], coding.get("version"))
        for path in GOLDEN
        for coding in _find(json.loads(path.read_text()), ("system", "code"))
        if coding["system"] == CS_RULE_SET
    }
    assert cited == {(default_ruleset().id, published)}


def _find(node: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every object in a JSON tree that has all of ``keys``."""
    found = []
    if isinstance(node, dict):
        if all(key in node for key in keys):
            found.append(node)
        for value in node.values():
            found += _find(value, keys)
    elif isinstance(node, list):
        for value in node:
            found += _find(value, keys)
    return found


def test_every_project_code_in_the_outputs_is_defined() -> None:
    defined = {(cs["url"], c["code"]) for cs in code_systems() for c in cs["concept"]}
    used = set()
    for path in GOLDEN:
        for coding in _find(json.loads(path.read_text()), ("system", "code")):
            if coding["system"].startswith(f"{CANONICAL}/CodeSystem/"):
                used.add((coding["system"], coding["code"]))
    assert used
    assert used <= defined


def test_profiles_reference_only_defined_value_sets() -> None:
    resources = all_resources()
    value_sets = {r["url"] for r in resources.values() if r["resourceType"] == "ValueSet"}
    bound = {b["valueSet"] for r in resources.values() for b in _find(r, ("valueSet", "strength"))}
    assert bound <= value_sets


def test_operation_definitions_say_which_invocation_changes_state() -> None:
    system, patient = system_operation_definition(), patient_operation_definition()
    params = {(p["name"], p["use"]) for p in system["parameter"]}
    assert params == {
        ("observation", "in"),
        ("bundle", "in"),
        ("tumorSite", "in"),
        ("return", "out"),
    }
    assert (system["affectsState"], system["system"], system["instance"]) == (False, True, False)
    assert ("persist", "in") in {(p["name"], p["use"]) for p in patient["parameter"]}
    assert (patient["affectsState"], patient["instance"]) == (True, True)
    assert {system["code"], patient["code"]} == {"her2-status"}
    published = {k for k in FILES if k.startswith("OperationDefinition-")}
    assert published == {
        "OperationDefinition-her2-status.json",
        "OperationDefinition-her2-status-patient.json",
        "OperationDefinition-her2-trial-candidates-patient.json",
        "OperationDefinition-her2-tumor-marker.json",
        "OperationDefinition-her2-tumor-marker-patient.json",
    }
    # The mCODE tumour-marker export never writes, at either level.
    marker, marker_patient = (
        marker_system_operation_definition(),
        marker_patient_operation_definition(),
    )
    assert (marker["affectsState"], marker["system"], marker["instance"]) == (False, True, False)
    assert (marker_patient["affectsState"], marker_patient["instance"]) == (False, True)
    assert "persist" not in {p["name"] for p in marker_patient["parameter"]}


def test_one_example_per_profile() -> None:
    profiles = {
        r["url"]
        for r in all_resources().values()
        if r["resourceType"] == "StructureDefinition" and r["type"] != "Extension"
    }
    examples = [jsonio.loads(v) for k, v in FILES.items() if k.startswith("examples/")]
    tagged = [e for e in examples if e["resourceType"] != "Device"]  # the outputs' Device
    assert {e["meta"]["profile"][0] for e in tagged} == profiles


@pytest.mark.parametrize("name", RESOURCES)
def test_every_resource_has_a_generated_narrative(name: str) -> None:
    text = jsonio.loads(FILES[name])["text"]
    assert text["status"] == "generated"
    assert text["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
    ElementTree.fromstring(text["div"])  # well-formed: every value was escaped


def test_narrative_escapes_free_text() -> None:
    div = with_narrative({"resourceType": "Device", "id": "x", "deviceName": [{"name": "a<b&c"}]})
    assert "a&lt;b&amp;c" in div["text"]["div"]
    ElementTree.fromstring(div["text"]["div"])


@pytest.mark.parametrize("name", [n for n in RESOURCES if n.startswith("StructureDefinition-")])
def test_structure_definitions_carry_a_current_snapshot(name: str) -> None:
    # A missing snapshot means the differential changed: run scripts/build-profiles --snapshots.
    sd = jsonio.loads(FILES[name])
    assert sd["snapshot"]["element"][0]["path"] == sd["type"], "scripts/build-profiles --snapshots"


def test_naming_systems_cover_the_identifier_systems() -> None:
    unique = {
        u["value"]
        for n in RESOURCES
        if n.startswith("NamingSystem-")
        for u in jsonio.loads(FILES[n])["uniqueId"]
    }
    assert unique == {SID_STATUS, SID_THERAPY_LIST}


def test_implementation_guide_lists_every_resource() -> None:
    guide = jsonio.loads(FILES["ImplementationGuide-her2-status.json"])
    listed = {r["reference"]["reference"] for r in guide["definition"]["resource"]}
    others = [jsonio.loads(FILES[n]) for n in RESOURCES if not n.startswith("ImplementationGuide")]
    assert listed == {f"{r['resourceType']}/{r['id']}" for r in others}
    assert guide["packageId"] == PACKAGE_ID
    assert guide["version"] == IG_VERSION


def test_package_json_names_the_guide() -> None:
    manifest = json.loads(FILES["package.json"])
    assert manifest["name"] == PACKAGE_ID
    assert manifest["version"] == IG_VERSION
    assert manifest["fhirVersions"] == ["4.0.1"]
    assert manifest["canonical"] == CANONICAL
    assert manifest["type"] == "IG"
    assert manifest["dependencies"]["hl7.fhir.r4.core"] == "4.0.1"


def test_the_trial_operation_reads_only_and_filters_on_fhir_codes() -> None:
    definition = trial_operation_definition()
    assert (definition["affectsState"], definition["instance"], definition["system"]) == (
        False,
        True,
        False,
    )
    assert definition["resource"] == ["Patient"]
    params = {(p["name"], p["use"], p["type"]) for p in definition["parameter"]}
    assert params == {
        ("recruitmentStatus", "in", "code"),
        ("phase", "in", "code"),
        ("return", "out", "Bundle"),
    }
    statement = capability_statement()
    (patient,) = [r for r in statement["rest"][0]["resource"] if r["type"] == "Patient"]
    assert {o["name"] for o in patient["operation"]} == {
        "her2-status",
        "her2-tumor-marker",
        "her2-trial-candidates",
    }

"""Outbound resources: deterministic ids, the Device, empty therapy lists."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any

from fhir.resources.R4B.device import Device

from service.app.derivation import derive
from service.fhir import jsonio
from service.fhir.outbound import Derived, device, full_url, therapy_list
from service.her2 import TherapyListing, default_ruleset, load_catalog, load_ruleset, therapies_for
from tests.builders import FIXTURES, NOW

LATER = dt.datetime(2026, 11, 26, 8, 30, tzinfo=dt.UTC)


def _payload() -> dict[str, Any]:
    loaded: dict[str, Any] = jsonio.loads(
        (FIXTURES / "inputs" / "breast-ihc2-dual-separate.json").read_text()
    )
    return loaded


def _provenance_ids(payload: dict[str, Any], now: dt.datetime = NOW) -> list[str]:
    bundle = derive(payload, now).bundle
    return [
        e["resource"]["id"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Provenance"
    ]


def test_provenance_id_is_stable_across_retries_and_time() -> None:
    assert _provenance_ids(_payload()) == _provenance_ids(_payload(), LATER)


def test_provenance_id_changes_with_an_input_version() -> None:
    amended = copy.deepcopy(_payload())
    amended["entry"][3]["resource"]["meta"]["versionId"] = "3"
    assert _provenance_ids(amended) != _provenance_ids(_payload())


def test_identifiers_and_full_urls_do_not_depend_on_time() -> None:
    first, second = derive(_payload(), NOW).bundle, derive(_payload(), LATER).bundle
    assert [e["fullUrl"] for e in first["entry"][:3]] == [e["fullUrl"] for e in second["entry"][:3]]


def test_full_url_is_a_uuid_per_kind_and_key() -> None:
    assert full_url("Observation", "k") != full_url("List", "k")
    assert full_url("Observation", "k") == full_url("Observation", "k")


def test_device_carries_the_rule_set_version() -> None:
    moved = load_ruleset(FIXTURES / "rulesets" / "her2-status-rules-0.9.0-test.json")
    for ruleset, version in ((default_ruleset(), "1.0.0"), (moved, "0.9.0-test")):
        resource = device(ruleset)
        Device.model_validate(resource)
        assert resource["id"] == "her2-status-service"
        assert resource["version"] == [{"value": version}]


def test_no_list_when_no_agent_applies() -> None:
    payload = jsonio.loads((FIXTURES / "inputs" / "unknown-site.json").read_text())
    types = [e["resource"]["resourceType"] for e in derive(payload, NOW).bundle["entry"]]
    assert types == ["Observation", "Provenance", "Device"]


def test_outputs_cite_only_what_a_reader_can_resolve() -> None:
    # The request's urn:uuid entries are not resources anyone can read later: they are
    # cited by business identifier or not at all, and the Device travels in the Bundle.
    payload = jsonio.loads((FIXTURES / "inputs" / "breast-panel-diagnosticreport.json").read_text())
    bundle = derive(payload, NOW).bundle
    text = jsonio.dumps([e["resource"] for e in bundle["entry"]])
    assert '"reference": "urn:uuid:8d1c' not in text
    devices = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Device"]
    assert [d["id"] for d in devices] == ["her2-status-service"]
    (device_url,) = [e["fullUrl"] for e in bundle["entry"] if e["resource"] in devices]
    observation = bundle["entry"][0]["resource"]
    # In the Bundle the Device is cited by its entry; stored, by Device/her2-status-service.
    assert observation["device"] == {"reference": device_url}
    assert derive(payload, NOW).outputs[0].observation["device"] == {
        "reference": "Device/her2-status-service"
    }


def test_list_names_the_agents_of_a_custom_catalog() -> None:
    output = derive(_payload(), NOW).outputs[0]
    packaged = load_catalog()
    agent = dataclasses.replace(
        packaged.agents["trastuzumab"], id="review-agent", name="Review agent", rxnorm="999"
    )
    category = therapies_for(output.derived.result).category
    custom = dataclasses.replace(
        packaged,
        agents={**packaged.agents, agent.id: agent},
        categories={
            **packaged.categories,
            category: ((TherapyListing(agent, "review setting"),), None),
        },
    )
    derived = Derived(
        output.derived.group,
        output.derived.result,
        therapies_for(output.derived.result, None, custom),
    )
    listing = therapy_list(derived, full_url("Observation", derived.key), NOW)
    assert listing is not None
    assert [e["item"]["display"] for e in listing["entry"]] == ["Review agent"]
    (medication,) = listing["contained"]
    assert medication["id"] == "med-review-agent"
    assert medication["code"]["coding"][0]["code"] == "999"

"""Outbound resources (fhir-contract.md sections 5-7), built as FHIR JSON.

Everything written is deterministic for the same inputs, rule-set version and
derivation time: identifiers, ``urn:uuid`` full URLs and the Provenance id are
derived from the group key, so a retry rewrites the same resources.

The builders produce a finite set of shapes, so they are not validated with the R4B
models on every request (that was a third of a request's CPU, ``bench/RESULTS.md``).
The tests validate them instead, exhaustively: every rule-set row through every
builder (``tests/unit/fhir/test_outputs_exhaustive.py``), hypothesis-drawn inputs
through ``derive`` with every output checked against its R4B model, and the profile
validation of the golden outputs on HAPI (``tests/integration``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import uuid
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from typing import Any, Final

from service.fhir.codes import (
    CANONICAL,
    CS_COMPONENT,
    CS_LIST_PURPOSE,
    CS_NEXT_STEP,
    CS_RULE_SET,
    CS_STATUS,
    CS_THERAPY_CLASS,
    DEVICE_ID,
    EXT_LABELLED_SETTING,
    INTERPRETATION_CODE,
    INTERPRETATION_DISPLAY,
    LOINC,
    OBSERVATION_CATEGORY,
    PROVENANCE_PARTICIPANT,
    SID_STATUS,
    SID_THERAPY_LIST,
    STATUS_CODINGS,
    STATUS_INTERPRETATION,
    V3_DATA_OPERATION,
    V3_INTERPRETATION,
)
from service.fhir.envelope import Node
from service.fhir.inbound import SpecimenGroup
from service.her2 import Agent, Her2Result, RuleSet, TherapyListing, TherapySelection
from service.her2.catalog import load_catalog

_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, CANONICAL)
DEVICE_REFERENCE: Final = {"reference": f"Device/{DEVICE_ID}"}
SOFTWARE_NOTE: Final = (
    "Derived by software (her2-status) from the HER2 pathology results it was given (cited "
    "in derivedFrom where they can be referenced); it restates the guideline's reading of "
    "those results and does not replace the pathologist's report."
)


@dataclass(frozen=True)
class Derived:
    """One group's rule result with the inputs it rests on."""

    group: SpecimenGroup
    result: Her2Result
    therapies: TherapySelection

    @cached_property
    def key(self) -> str:
        """The deterministic key ``{patient}:{specimen or group key}:{site}``."""
        return status_key(self.group, self.result)


def status_key(group: SpecimenGroup, result: Her2Result) -> str:
    """The deterministic identifier value of a group's status Observation and List."""
    patient = (group.subject or "no-subject").rsplit("/", 1)[-1]
    where = group.key.split(":", 1)[1] if ":" in group.key else group.key
    site = result.site.value if result.site else "unknown"
    return f"{patient}:{where}:{site}"


# Each output's URL is asked for by several builders (the resource, the List, the
# Provenance's targets, the Bundle entry); a uuid5 is a SHA-1, so the few of one
# derivation are remembered (a pure function; bounded).
@lru_cache(maxsize=1024)
def full_url(kind: str, key: str) -> str:
    """A stable ``urn:uuid`` for one output resource of one key."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}|{key}')}"


def _input_reference(node: Node) -> str | None:
    return node.reference(versioned=True) if node.type == "Observation" else None


def _stored_reference(node: Node, reference: str | None) -> dict[str, Any] | None:
    """A Reference that a reader of the stored output can resolve, or None.

    A ``urn:uuid`` names an entry of the request, not a resource anyone can read later:
    such an input is cited by its business identifier when it has one, else not at all
    (its version still enters the Provenance id).
    """
    if reference is not None and not reference.startswith("urn:uuid:"):
        return {"reference": reference}
    identifiers = node.resource.get("identifier")
    for identifier in identifiers if isinstance(identifiers, list) else ():
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            cited = {k: identifier[k] for k in ("system", "value") if k in identifier}
            return {"type": node.type, "identifier": cited}
    return None


def _root_of(node: Node) -> Node:
    while node.container is not None:
        node = node.container
    return node


def _entity_reference(node: Node) -> str | None:
    """What Provenance cites: the input, or its container when it is contained."""
    return _root_of(node).reference(versioned=True)


def _instant(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _component(code: str, display: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"code": {"coding": [_coding(CS_COMPONENT, code, display)]}, **value}


def _subject_reference(group: SpecimenGroup) -> dict[str, str] | None:
    if group.subject and not group.subject.startswith("identifier:"):
        return {"reference": group.subject}
    return None


def provenance_id(derived: Derived) -> str:
    """``her2prov-`` + a short hash of key, input versions and rule-set version (section 7)."""
    inputs = sorted(filter(None, (_input_reference(n) for n in derived.group.used)))
    withdrawn = sorted(filter(None, (_input_reference(n) for n in derived.group.withdrawn)))
    ruleset = derived.result.ruleset
    material = "\n".join([derived.key, ruleset.version, *inputs, "-", *withdrawn])
    return "her2prov-" + hashlib.sha256(material.encode()).hexdigest()[:24]


def status_observation(derived: Derived, now: dt.datetime) -> dict[str, Any]:
    """The interpretive HER2 status Observation (contract section 5)."""
    result, group = derived.result, derived.group
    ruleset = result.ruleset
    status = result.status.value
    value_codings = [_coding(*c) for c in STATUS_CODINGS[status]]
    value_codings.append(_coding(CS_STATUS, status, status.capitalize()))
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": SID_STATUS, "value": derived.key}],
        "status": result.interpretation.value,
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, "laboratory", "Laboratory")]}],
        "code": {"coding": [_coding(LOINC, INTERPRETATION_CODE, INTERPRETATION_DISPLAY)]},
        "issued": _instant(now),
        "valueCodeableConcept": {"coding": value_codings, "text": f"HER2 {status}"},
        "device": DEVICE_REFERENCE,
        "method": {
            "coding": [
                {
                    "system": CS_RULE_SET,
                    "version": ruleset.version,
                    "code": ruleset.id,
                    "display": "her2-status HER2 rule set",
                }
            ],
            "text": f"{ruleset.label}: " + "; ".join(ruleset.guidelines),
        },
    }
    subject = _subject_reference(group)
    if subject:
        resource["subject"] = subject
    if group.effective_text:
        resource["effectiveDateTime"] = group.effective_text
    if group.specimen and "/" in group.specimen and not group.specimen.startswith("identifier:"):
        resource["specimen"] = {"reference": group.specimen}
    if status in STATUS_INTERPRETATION:
        code, display = STATUS_INTERPRETATION[status]
        resource["interpretation"] = [{"coding": [_coding(V3_INTERPRETATION, code, display)]}]
    derived_from = [
        ref
        for n in group.used
        if n.type == "Observation"
        for ref in [_stored_reference(n, _input_reference(n))]
        if ref
    ]
    if derived_from:
        resource["derivedFrom"] = derived_from
    components = []
    if result.her2_low is not None:
        components.append(_component("her2-low", "HER2-low", {"valueBoolean": result.her2_low}))
    if result.ultralow is not None:
        components.append(
            _component("her2-ultralow", "HER2-ultralow", {"valueBoolean": result.ultralow})
        )
    if result.ish_group is not None:
        components.append(_component("ish-group", "ISH group", {"valueInteger": result.ish_group}))
    if result.next_step is not None:
        step = result.next_step.value
        components.append(
            _component(
                "next-step",
                "Next step",
                {"valueCodeableConcept": {"coding": [_coding(CS_NEXT_STEP, step)]}},
            )
        )
    if components:
        resource["component"] = components
    resource["note"] = [{"text": _note(derived)}]
    return resource


def _note(derived: Derived) -> str:
    result, group = derived.result, derived.group
    lines = [f"HER2 {result.status.value} ({result.interpretation.value})."]
    lines.append(
        f"Tumour site: {result.site.value if result.site else 'unknown'} (from {group.site_basis})."
    )
    lines += [f"[{entry.rule_id}] {entry.text}" for entry in result.rationale]
    if result.additional_steps:
        lines.append("Also pending: " + ", ".join(s.value for s in result.additional_steps) + ".")
    lines += group.notes
    lines.append(SOFTWARE_NOTE)
    return "\n".join(lines)


def therapy_list(derived: Derived, observation_url: str, now: dt.datetime) -> dict[str, Any] | None:
    """The therapy-class reference List, or None when no agent applies (section 6)."""
    selection = derived.therapies
    if not selection.listings:
        return None
    # The selection's own listings: it may come from another catalog than the packaged one.
    contained = [_medication(item.agent, item.setting) for item in selection.listings]
    entries = list(_list_entries(selection.listings))
    note = (
        f"Belongs to the HER2 status Observation {SID_STATUS}|{derived.key} "
        f"({observation_url}). {selection.disclaimer} Catalog {selection.catalog_id} "
        f"{selection.catalog_version}, codes verified {selection.verified_on}."
    )
    resource: dict[str, Any] = {
        "resourceType": "List",
        "contained": contained,
        "identifier": [{"system": SID_THERAPY_LIST, "value": derived.key}],
        "status": "current",
        "mode": "snapshot",
        "title": "HER2-directed therapies whose FDA label covers this HER2 result "
        "(reference information, not a treatment recommendation)",
        "code": {
            "coding": [
                _coding(
                    CS_LIST_PURPOSE, "her2-therapy-reference", "HER2-directed therapy reference"
                )
            ]
        },
        "date": _instant(now),
        "source": DEVICE_REFERENCE,
        "entry": entries,
        "note": [{"text": note}] + ([{"text": selection.note}] if selection.note else []),
    }
    subject = _subject_reference(derived.group)
    if subject:
        resource["subject"] = subject
    return resource


def provenance(
    derived: Derived, targets: list[str], now: dt.datetime, activity: str = "CREATE"
) -> dict[str, Any]:
    """The Provenance of one derivation (contract section 7)."""
    entities: list[dict[str, Any]] = []
    for role, nodes in (("derivation", derived.group.used), ("removal", derived.group.withdrawn)):
        cited: dict[str, dict[str, Any]] = {}
        for node in nodes:
            ref = _stored_reference(_root_of(node), _entity_reference(node))
            if ref is not None:
                cited.setdefault(repr(sorted(ref.items())), ref)
        entities += [{"role": role, "what": ref} for ref in cited.values()]
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id(derived),
        "target": [{"reference": t} for t in targets],
        "recorded": _instant(now),
        "activity": {"coding": [_coding(V3_DATA_OPERATION, activity)]},
        "agent": [
            {
                "type": {"coding": [_coding(PROVENANCE_PARTICIPANT, "assembler", "Assembler")]},
                "who": DEVICE_REFERENCE,
            }
        ],
    }
    if entities:
        resource["entity"] = entities
    return resource


def device(ruleset: RuleSet) -> dict[str, Any]:
    """The service's Device; its version is the rule-set version (contract section 0).

    Args:
        ruleset: the rule set of the results written with it.
    """
    # A fixed narrative (no request content, nothing to escape beyond the rule-set label).
    label = html.escape(ruleset.label)
    return {
        "resourceType": "Device",
        "id": DEVICE_ID,
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>her2-status, the software '
            f"that derives HER2 status (rule set {label}).</p></div>",
        },
        "status": "active",
        "manufacturer": "her2-status open-source project",
        "deviceName": [{"name": "her2-status", "type": "user-friendly-name"}],
        "version": [{"value": ruleset.version}],
        "note": [{"text": f"Rule set {ruleset.label}."}],
    }


def collection(entries: list[tuple[str, dict[str, Any]]], now: dt.datetime) -> dict[str, Any]:
    """A Bundle of type collection from (fullUrl, resource) pairs."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(now),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


@cache
def _list_entries(listings: tuple[TherapyListing, ...]) -> tuple[dict[str, Any], ...]:
    """The List entries of some listings (class flag + contained Medication), built once."""
    entries = []
    for listing in listings:
        agent = listing.agent
        therapy_class = agent.therapy_class
        entries.append(
            {
                "flag": {
                    "coding": [_coding(CS_THERAPY_CLASS, therapy_class.code, therapy_class.display)]
                },
                "item": {"reference": f"#med-{agent.id}", "display": agent.name},
            }
        )
    return tuple(entries)


@cache
def _medication(agent: Agent, setting: str) -> dict[str, Any]:
    """A contained Medication, built once per process (catalog data is static)."""
    # A selection does not carry its catalog's code-system URIs: the packaged ones.
    systems = load_catalog().code_systems
    codings = [{"system": systems["rxnorm"], "code": agent.rxnorm}]
    if agent.atc:
        codings.append({"system": systems["atc"], "code": agent.atc})
    if agent.ncit:
        codings.append({"system": systems["ncit"], "code": agent.ncit})
    return {
        "resourceType": "Medication",
        "id": f"med-{agent.id}",
        "extension": [{"url": EXT_LABELLED_SETTING, "valueString": setting}],
        "code": {"coding": codings, "text": agent.name},
    }

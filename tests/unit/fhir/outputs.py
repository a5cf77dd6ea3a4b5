"""Shared by the output tests: check any resource the service writes against its R4B model.

The builders in ``service/fhir/outbound.py`` are not validated at request time (see its
docstring); these tests are where every output shape meets the R4B models.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.list import List as FhirList
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.provenance import Provenance

MODELS: dict[str, Any] = {
    "Bundle": Bundle,
    "Device": Device,
    "List": FhirList,
    "Medication": Medication,
    "Observation": Observation,
    "OperationOutcome": OperationOutcome,
    "Provenance": Provenance,
}


# Codes of required bindings to FHIR's own value sets. The R4B models check only that a
# code is a well-formed ``code``, not that it is in its value set; these are the ones
# our outputs use (paths as (resource type, element, sub-element or None)).
REQUIRED_CODES: dict[tuple[str, str, str | None], frozenset[str]] = {
    ("Observation", "status", None): frozenset(
        [
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        ]
    ),
    ("List", "status", None): frozenset({"current", "retired", "entered-in-error"}),
    ("List", "mode", None): frozenset({"working", "snapshot", "changes"}),
    ("Provenance", "entity", "role"): frozenset(
        {"derivation", "revision", "quotation", "source", "removal"}
    ),
    ("Device", "status", None): frozenset({"active", "inactive", "entered-in-error", "unknown"}),
    ("Device", "deviceName", "type"): frozenset(
        [
            "udi-label-name",
            "user-friendly-name",
            "patient-reported-name",
            "manufacturer-name",
            "model-name",
            "other",
        ]
    ),
    ("Bundle", "type", None): frozenset(
        [
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        ]
    ),
    ("OperationOutcome", "issue", "severity"): frozenset(
        {"fatal", "error", "warning", "information"}
    ),
}


def _required_codes(resource: dict[str, Any]) -> None:
    rtype = resource["resourceType"]
    for (where, element, inner), allowed in REQUIRED_CODES.items():
        if where != rtype or element not in resource:
            continue
        values = resource[element]
        codes = [values] if inner is None else [item.get(inner) for item in values]
        bad = [code for code in codes if code is not None and code not in allowed]
        assert not bad, f"{rtype}.{element}{'.' + inner if inner else ''}: {bad} not allowed"


def validate(resource: dict[str, Any]) -> None:
    """Validate one output resource with its R4B model; raise on any defect.

    The container's model validates contained resources with their own models. The
    codes of required bindings are checked too (the models do not).
    """
    MODELS[resource["resourceType"]].model_validate(resource)
    _required_codes(resource)


def validate_bundle(bundle: dict[str, Any]) -> list[str]:
    """Validate a collection Bundle and each of its resources; return their types in order."""
    validate(bundle)
    types = []
    for entry in bundle["entry"]:
        assert entry["fullUrl"].startswith("urn:uuid:")
        validate(entry["resource"])
        types.append(entry["resource"]["resourceType"])
    return types

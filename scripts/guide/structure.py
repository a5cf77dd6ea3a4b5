"""Helpers shared by the guide's StructureDefinitions (profiles and extensions)."""

from __future__ import annotations

from typing import Any

from service.fhir.codes import CANONICAL
from service.fhir.conformance.header import conformance_header


def structure_definition(
    name: str,
    title: str,
    base: str,
    description: str,
    elements: list[dict[str, Any]],
    kind: str = "resource",
    context: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A differential constraint on an R4 base type.

    Args:
        name: The StructureDefinition id (also its canonical URL's last segment).
        title: Human-readable title.
        base: The R4 type constrained, e.g. ``"Observation"`` or ``"Extension"``.
        description: Markdown description.
        elements: The differential's elements, in order.
        kind: ``"resource"`` for profiles, ``"complex-type"`` for extensions.
        context: Where an extension may be used; omitted for profiles.

    Returns:
        The StructureDefinition as FHIR JSON.
    """
    sd: dict[str, Any] = {
        **conformance_header("StructureDefinition", name, title, description),
        "fhirVersion": "4.0.1",
        "kind": kind,
        "abstract": False,
        "type": base,
        "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{base}",
        "derivation": "constraint",
        "differential": {"element": elements},
    }
    if context:
        sd["context"] = context
    return sd


def element(path: str, **rules: Any) -> dict[str, Any]:
    """A differential element whose id is its path (no slice), with ``rules`` added."""
    return {"id": path, "path": path, **rules}


def value_set_binding(value_set: str, strength: str = "required") -> dict[str, Any]:
    """The ``binding`` of an element to one of the guide's ValueSets, by id."""
    return {"binding": {"strength": strength, "valueSet": f"{CANONICAL}/ValueSet/{value_set}"}}

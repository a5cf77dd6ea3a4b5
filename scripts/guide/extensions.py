"""The guide's two extensions: ISH count role and the therapy list's labelled setting."""

from __future__ import annotations

from typing import Any

from scripts.guide.structure import structure_definition, value_set_binding
from service.fhir.codes import EXT_ISH_COUNT_ROLE, EXT_LABELLED_SETTING


def _extension(
    name: str,
    title: str,
    description: str,
    url: str,
    value_type: str,
    context: str,
    binding: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A simple extension: one value of one type, on one kind of resource."""
    return structure_definition(
        name,
        title,
        "Extension",
        description,
        [
            {"id": "Extension", "path": "Extension", "short": title, "max": "1"},
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [{"code": value_type}],
                **(binding or {}),
            },
        ],
        kind="complex-type",
        context=[{"type": "element", "expression": context}],
    )


def extensions() -> list[dict[str, Any]]:
    """The extensions the service reads (count role) and writes (labelled setting)."""
    count_role = _extension(
        "her2-ish-count-role",
        "HER2 ISH count role",
        "Marks an ISH Observation as the initial count or the blinded second-observer recount.",
        EXT_ISH_COUNT_ROLE,
        "code",
        "Observation",
        value_set_binding("her2-ish-count-role"),
    )
    labelled = _extension(
        "her2-labelled-setting",
        "HER2 labelled setting",
        "The FDA-labelled setting of an agent for the listed HER2 category (plain text).",
        EXT_LABELLED_SETTING,
        "string",
        "Medication",
    )
    return [count_role, labelled]

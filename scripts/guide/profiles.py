"""The guide's profiles: the IHC and ISH inputs, the status Observation and therapy List."""

from __future__ import annotations

from typing import Any

from scripts.guide.structure import element, structure_definition, value_set_binding
from service.fhir.codes import (
    CS_COMPONENT,
    CS_LIST_PURPOSE,
    EXT_ISH_COUNT_ROLE,
    LOINC,
    SID_STATUS,
    SID_THERAPY_LIST,
)


def _component_slice(
    name: str, value_type: str, extra: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    base = f"Observation.component:{name}"
    return [
        {"id": base, "path": "Observation.component", "sliceName": name, "min": 0, "max": "1"},
        {
            "id": f"{base}.code",
            "path": "Observation.component.code",
            "patternCodeableConcept": {"coding": [{"system": CS_COMPONENT, "code": name}]},
        },
        {
            "id": f"{base}.value[x]",
            "path": "Observation.component.value[x]",
            "min": 1,
            "type": [{"code": value_type}],
            **(extra[0] if extra else {}),
        },
    ]


def profiles() -> list[dict[str, Any]]:
    """The input profiles (what the service reads) and output profiles (what it writes)."""
    ihc = structure_definition(
        "her2-ihc-input",
        "HER2 IHC result (input)",
        "Observation",
        "A HER2 immunohistochemistry result as the service reads it.",
        [
            element("Observation.code", **value_set_binding("her2-ihc-test-codes", "extensible")),
            element("Observation.subject", min=1),
            element(
                "Observation.value[x]",
                type=[{"code": "CodeableConcept"}, {"code": "string"}, {"code": "integer"}],
            ),
        ],
    )
    ish = structure_definition(
        "her2-ish-input",
        "HER2 ISH result (input)",
        "Observation",
        "A HER2 in situ hybridisation result (qualitative, panel, ratio, averages, cells).",
        [
            element(
                "Observation.extension",
                slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
            ),
            {
                "id": "Observation.extension:countRole",
                "path": "Observation.extension",
                "sliceName": "countRole",
                "min": 0,
                "max": "1",
                "type": [{"code": "Extension", "profile": [EXT_ISH_COUNT_ROLE]}],
            },
            element("Observation.code", **value_set_binding("her2-ish-test-codes", "extensible")),
            element("Observation.subject", min=1),
            element(
                "Observation.value[x]",
                type=[
                    {"code": "Quantity"},
                    {"code": "Ratio"},
                    {"code": "CodeableConcept"},
                    {"code": "string"},
                    {"code": "integer"},
                ],
            ),
            element("Observation.method", **value_set_binding("her2-ish-assay", "extensible")),
        ],
    )
    status = structure_definition(
        "her2-status",
        "HER2 status (output)",
        "Observation",
        "The interpretive HER2 status the service writes, with HER2-low/ultralow, ISH group and "
        "next step as components.",
        [
            element("Observation.identifier", min=1),
            element("Observation.identifier.system", min=1, fixedUri=SID_STATUS),
            element("Observation.identifier.value", min=1),
            element(
                "Observation.code",
                patternCodeableConcept={"coding": [{"system": LOINC, "code": "48676-1"}]},
            ),
            element("Observation.subject", min=1),
            element(
                "Observation.value[x]",
                min=1,
                type=[{"code": "CodeableConcept"}],
                **value_set_binding("her2-status-value", "extensible"),
            ),
            element("Observation.method", min=1),
            element("Observation.device", min=1),
            element(
                "Observation.derivedFrom",
                type=[
                    {
                        "code": "Reference",
                        "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Observation"],
                    }
                ],
            ),
            element(
                "Observation.component",
                slicing={"discriminator": [{"type": "pattern", "path": "code"}], "rules": "closed"},
            ),
            *_component_slice("her2-low", "boolean"),
            *_component_slice("her2-ultralow", "boolean"),
            *_component_slice(
                "ish-group", "integer", [{"minValueInteger": 1, "maxValueInteger": 5}]
            ),
            *_component_slice(
                "next-step", "CodeableConcept", [value_set_binding("her2-next-step")]
            ),
        ],
    )
    therapy = structure_definition(
        "her2-therapy-list",
        "HER2-directed therapy reference list (output)",
        "List",
        "Agents whose FDA label covers the HER2 category and tumour site of a status "
        "Observation: reference information, not a treatment recommendation.",
        [
            element("List.identifier", min=1),
            element("List.identifier.system", min=1, fixedUri=SID_THERAPY_LIST),
            element("List.mode", fixedCode="snapshot"),
            element("List.title", min=1),
            element(
                "List.code",
                min=1,
                patternCodeableConcept={
                    "coding": [{"system": CS_LIST_PURPOSE, "code": "her2-therapy-reference"}]
                },
            ),
            element("List.source", min=1),
            element("List.entry", min=1),
            element("List.entry.flag", min=1, **value_set_binding("her2-therapy-class")),
            element(
                "List.entry.item",
                type=[
                    {
                        "code": "Reference",
                        "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Medication"],
                    }
                ],
            ),
        ],
    )
    return [ihc, ish, status, therapy]

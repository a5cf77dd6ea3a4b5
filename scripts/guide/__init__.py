"""The implementation guide ``fhir_profiles/``, built from the code's own tables.

CodeSystems come from the rules' enums and the therapy catalog, so the guide can never
drift from what the service emits.  ``scripts/build-profiles`` writes the files and
``tests/unit/test_profiles.py`` fails when they are stale.  Only the OperationDefinition
and CapabilityStatement are served at run time; they come from
``service.fhir.conformance`` and everything else here is build-time only.
"""

from __future__ import annotations

from typing import Any

from scripts.guide.code_systems import code_systems
from scripts.guide.extensions import extensions
from scripts.guide.naming_systems import naming_systems
from scripts.guide.profiles import profiles
from scripts.guide.value_sets import value_sets
from service.fhir.conformance import (
    capability_statement,
    marker_patient_operation_definition,
    marker_system_operation_definition,
    patient_operation_definition,
    system_operation_definition,
    trial_operation_definition,
)

__all__ = [
    "all_resources",
    "code_systems",
    "naming_systems",
    "structure_definitions",
    "value_sets",
]


def structure_definitions() -> list[dict[str, Any]]:
    """The two extensions, then the input and output profiles."""
    return [*extensions(), *profiles()]


def all_resources() -> dict[str, dict[str, Any]]:
    """Every conformance resource of the guide, by file name (``Type-id.json``)."""
    resources = [
        *structure_definitions(),
        *code_systems(),
        *value_sets(),
        *naming_systems(),
        system_operation_definition(),
        patient_operation_definition(),
        trial_operation_definition(),
        marker_system_operation_definition(),
        marker_patient_operation_definition(),
        capability_statement(),
    ]
    return {f"{r['resourceType']}-{r['id']}.json": r for r in resources}

"""The conformance resources the running service serves.

``GET [base]/metadata`` returns the CapabilityStatement of the running configuration
and ``GET [base]/OperationDefinition/[id]`` the OperationDefinitions (system level,
stateless; Patient level, writing; Patient-level trial candidates, reading).  The rest of
the implementation guide (profiles, extensions, CodeSystems, ValueSets, examples) is only
written to ``fhir_profiles/`` by ``scripts/build-profiles``, so it lives in
``scripts/guide`` and is not part of the installed package.  ``capability_statement`` is
the guide's generic copy.
"""

from __future__ import annotations

from service.fhir.conformance.capability import (
    capability_statement,
    served_capability_statement,
)
from service.fhir.conformance.operation_definition import (
    marker_patient_operation_definition,
    marker_system_operation_definition,
    patient_operation_definition,
    served_operation_definitions,
    system_operation_definition,
)
from service.fhir.conformance.security import (
    NO_INBOUND_SECURITY,
    InboundSecurity,
    smart_security,
)
from service.fhir.conformance.trial_operation import trial_operation_definition

__all__ = [
    "NO_INBOUND_SECURITY",
    "InboundSecurity",
    "capability_statement",
    "marker_patient_operation_definition",
    "marker_system_operation_definition",
    "patient_operation_definition",
    "served_capability_statement",
    "served_operation_definitions",
    "smart_security",
    "system_operation_definition",
    "trial_operation_definition",
]

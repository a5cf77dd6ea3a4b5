"""The conformance resources the running service serves.

``GET [base]/metadata`` returns the CapabilityStatement and
``GET [base]/OperationDefinition/her2-status`` the OperationDefinition.  The rest of
the implementation guide (profiles, extensions, CodeSystems, ValueSets, examples) is
only written to ``fhir_profiles/`` by ``scripts/build-profiles``, so it lives in
``scripts/guide`` and is not part of the installed package.
"""

from __future__ import annotations

from service.fhir.conformance.capability import capability_statement
from service.fhir.conformance.operation_definition import operation_definition

__all__ = ["capability_statement", "operation_definition"]

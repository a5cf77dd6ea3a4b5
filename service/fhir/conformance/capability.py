"""The service's CapabilityStatement (``GET [base]/metadata``).

``served_capability_statement`` describes the running configuration (what this
process can actually do); ``capability_statement`` is the generic copy published in
the guide (``fhir_profiles/``).
"""

from __future__ import annotations

from typing import Any

from service.fhir.codes import CANONICAL
from service.fhir.conformance.header import IG_VERSION, conformance_header
from service.fhir.conformance.operation_definition import (
    MARKER_PATIENT_ID,
    MARKER_SYSTEM_ID,
    PATIENT_ID,
    SYSTEM_ID,
)
from service.fhir.conformance.security import InboundSecurity
from service.fhir.conformance.trial_operation import TRIALS_ID


def _definition(rid: str) -> str:
    return f"{CANONICAL}/OperationDefinition/{rid}"


def _statement(base_url: str, rest: dict[str, Any]) -> dict[str, Any]:
    return {
        **conformance_header(
            "CapabilityStatement",
            "her2-status-service",
            "her2-status service",
            "The her2-status service: the $her2-status operation and its definition.",
        ),
        "date": "2026-11-25",
        "kind": "instance",
        "software": {"name": "her2-status", "version": IG_VERSION},
        "implementation": {"description": "her2-status HER2 derivation service", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [rest],
    }


def served_capability_statement(
    base_url: str,
    patient_operation: bool,
    security: InboundSecurity,
    trial_operation: bool = False,
) -> dict[str, Any]:
    """What this running service offers.

    Args:
        base_url: The FHIR base the service answers on.
        patient_operation: Whether the Patient-level operation works, i.e. a FHIR
            server (or a store) is configured; otherwise it is not listed.
        security: What protects the endpoints (``rest.security``).
        trial_operation: Whether ``$her2-trial-candidates`` works (a FHIR server and a
            trial source are configured); otherwise it is not listed.

    Returns:
        The CapabilityStatement as FHIR JSON.
    """
    resources: list[dict[str, Any]] = []
    patient_ops = []
    if patient_operation:
        patient_ops.append({"name": "her2-status", "definition": _definition(PATIENT_ID)})
        patient_ops.append(
            {"name": "her2-tumor-marker", "definition": _definition(MARKER_PATIENT_ID)}
        )
    if trial_operation:
        patient_ops.append({"name": "her2-trial-candidates", "definition": _definition(TRIALS_ID)})
    if patient_ops:
        resources.append({"type": "Patient", "operation": patient_ops})
    resources.append({"type": "OperationDefinition", "interaction": [{"code": "read"}]})
    rest = {
        "mode": "server",
        "security": security.to_fhir(),
        "resource": resources,
        "operation": [
            {"name": "her2-status", "definition": _definition(SYSTEM_ID)},
            {"name": "her2-tumor-marker", "definition": _definition(MARKER_SYSTEM_ID)},
        ],
    }
    return _statement(base_url, rest)


def capability_statement(base_url: str = "[base]") -> dict[str, Any]:
    """The generic CapabilityStatement published in the guide, naming the operation.

    Args:
        base_url: The FHIR base the service answers on; the published guide keeps the
            ``[base]`` placeholder.

    Returns:
        The CapabilityStatement as FHIR JSON.
    """
    system = {"name": "her2-status", "definition": _definition(SYSTEM_ID)}
    patient = {"name": "her2-status", "definition": _definition(PATIENT_ID)}
    trials = {"name": "her2-trial-candidates", "definition": _definition(TRIALS_ID)}
    marker = {"name": "her2-tumor-marker", "definition": _definition(MARKER_SYSTEM_ID)}
    marker_patient = {"name": "her2-tumor-marker", "definition": _definition(MARKER_PATIENT_ID)}
    return _statement(
        base_url,
        {
            "mode": "server",
            "resource": [
                {"type": "Patient", "operation": [patient, marker_patient, trials]},
                {"type": "OperationDefinition", "interaction": [{"code": "read"}]},
            ],
            "operation": [system, marker],
        },
    )

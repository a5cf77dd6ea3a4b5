"""The service's CapabilityStatement (``GET [base]/metadata``)."""

from __future__ import annotations

from typing import Any

from service.fhir.codes import CANONICAL
from service.fhir.conformance.header import IG_VERSION, conformance_header


def capability_statement(base_url: str = "[base]") -> dict[str, Any]:
    """The service's CapabilityStatement, naming the operation.

    Args:
        base_url: The FHIR base the service answers on; the published guide keeps the
            ``[base]`` placeholder.

    Returns:
        The CapabilityStatement as FHIR JSON.
    """
    op = {"name": "her2-status", "definition": f"{CANONICAL}/OperationDefinition/her2-status"}
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
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {"type": "Patient", "operation": [op]},
                    {"type": "OperationDefinition", "interaction": [{"code": "read"}]},
                ],
                "operation": [op],
            }
        ],
    }

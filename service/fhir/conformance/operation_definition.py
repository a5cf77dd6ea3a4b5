"""The ``$her2-status`` OperationDefinition (``GET [base]/OperationDefinition/her2-status``)."""

from __future__ import annotations

from typing import Any, Final

from service.fhir.conformance.header import conformance_header

_OPERATION_DESCRIPTION: Final = (
    "Derives the HER2 status of each specimen group from HER2 IHC and ISH "
    "results (ASCO/CAP 2018/2023 breast, CAP/ASCP/ASCO 2016 gastroesophageal). At system "
    "level it is stateless: the results come in the request and nothing is written. At "
    "Patient level it reads the patient's results from the configured FHIR server and, with "
    "persist, writes the status Observation, therapy List and Provenance in one transaction."
)


def operation_definition() -> dict[str, Any]:
    """``$her2-status`` at system and Patient instance level (contract section 8)."""
    return {
        **conformance_header(
            "OperationDefinition",
            "her2-status",
            "Derive HER2 status",
            _OPERATION_DESCRIPTION,
        ),
        "kind": "operation",
        "affectsState": True,
        "code": "her2-status",
        "system": True,
        "type": False,
        "instance": True,
        "resource": ["Patient"],
        "parameter": [
            {
                "name": "observation",
                "use": "in",
                "min": 0,
                "max": "*",
                "type": "Observation",
                "documentation": "A HER2 IHC or ISH result (system level).",
            },
            {
                "name": "bundle",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "Bundle",
                "documentation": "A Bundle of results, reports, specimens and conditions "
                "(system level).",
            },
            {
                "name": "tumorSite",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "code",
                "documentation": "breast | gastroesophageal | other; overrides site resolution.",
            },
            {
                "name": "persist",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "boolean",
                "documentation": "Patient level: write the results back (default true when a "
                "server is configured).",
            },
            {
                "name": "return",
                "use": "out",
                "min": 1,
                "max": "1",
                "type": "Bundle",
                "documentation": "A collection Bundle: per specimen group its status Observation, "
                "its therapy List when one applies, its Provenance, and an OperationOutcome when "
                "inputs were skipped or flagged.",
            },
        ],
    }

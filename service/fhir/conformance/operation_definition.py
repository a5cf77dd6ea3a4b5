"""The ``$her2-status`` OperationDefinitions.

The operation code is ``$her2-status`` at both levels, but the two invocations differ
in what matters to a client: the system-level one is stateless, the Patient-level one
reads from and (with ``persist``) writes to the configured FHIR server.  One
definition cannot say both truthfully (``affectsState`` is a single boolean), so each
invocation has its own definition:

- ``OperationDefinition/her2-status``: system level, ``affectsState`` false;
- ``OperationDefinition/her2-status-patient``: Patient instance level, ``affectsState``
  true, with ``persist``.

The guide (``fhir_profiles/``) publishes both.
"""

from __future__ import annotations

from typing import Any, Final

from service.fhir.conformance.header import conformance_header
from service.fhir.conformance.trial_operation import TRIALS_ID, trial_operation_definition

SYSTEM_ID: Final = "her2-status"
PATIENT_ID: Final = "her2-status-patient"
# $her2-tumor-marker: the status in the mCODE tumour-marker shape, read-only at both levels.
MARKER_SYSTEM_ID: Final = "her2-tumor-marker"
MARKER_PATIENT_ID: Final = "her2-tumor-marker-patient"

_OPERATION_DESCRIPTION: Final = (
    "Derives the HER2 status of each specimen group from HER2 IHC and ISH "
    "results (ASCO/CAP 2018/2023 breast, CAP/ASCP/ASCO 2016 gastroesophageal). At system "
    "level it is stateless: the results come in the request and nothing is written. At "
    "Patient level it reads the patient's results from the configured FHIR server and, with "
    "persist, writes the status Observation, therapy List and Provenance in one transaction."
)
_SYSTEM_DESCRIPTION: Final = (
    "Derives the HER2 status of each specimen group from the HER2 IHC and ISH results in "
    "the request (ASCO/CAP 2018/2023 breast, CAP/ASCP/ASCO 2016 gastroesophageal). "
    "Stateless: nothing is read from or written to any server."
)
_PATIENT_DESCRIPTION: Final = (
    "Reads the patient's HER2 IHC and ISH results (with their Specimens, DiagnosticReports "
    "and Conditions) from the FHIR server the service is configured with, derives the HER2 "
    "status of each specimen group, and with persist writes the status Observation, therapy "
    "List and Provenance back in one transaction. Only available when the service is "
    "configured with a FHIR server."
)

_OBSERVATION: Final = {
    "name": "observation",
    "use": "in",
    "min": 0,
    "max": "*",
    "type": "Observation",
    "documentation": "A HER2 IHC or ISH result (system level).",
}
_BUNDLE_DOC: Final = "A Bundle of results, reports, specimens and conditions"
_BUNDLE: Final = {
    "name": "bundle",
    "use": "in",
    "min": 0,
    "max": "1",
    "type": "Bundle",
    "documentation": f"{_BUNDLE_DOC}.",
}
_TUMOR_SITE: Final = {
    "name": "tumorSite",
    "use": "in",
    "min": 0,
    "max": "1",
    "type": "code",
    "documentation": "breast | gastroesophageal | other; overrides site resolution.",
}
_RETURN: Final = {
    "name": "return",
    "use": "out",
    "min": 1,
    "max": "1",
    "type": "Bundle",
    "documentation": "A collection Bundle: per specimen group its status Observation, "
    "its therapy List when one applies, its Provenance, and an OperationOutcome when "
    "inputs were skipped or flagged.",
}


def system_operation_definition() -> dict[str, Any]:
    """``$her2-status`` at system level: stateless (``affectsState`` false)."""
    return {
        **conformance_header(
            "OperationDefinition", SYSTEM_ID, "Derive HER2 status", _SYSTEM_DESCRIPTION
        ),
        "kind": "operation",
        "affectsState": False,
        "code": "her2-status",
        "system": True,
        "type": False,
        "instance": False,
        "parameter": [
            _OBSERVATION,
            _BUNDLE,
            _TUMOR_SITE,
            _RETURN,
        ],
    }


def patient_operation_definition() -> dict[str, Any]:
    """``$her2-status`` on a Patient instance: reads and writes the FHIR server."""
    return {
        **conformance_header(
            "OperationDefinition",
            PATIENT_ID,
            "Derive and store a patient's HER2 status",
            _PATIENT_DESCRIPTION,
        ),
        "kind": "operation",
        "affectsState": True,
        "code": "her2-status",
        "resource": ["Patient"],
        "system": False,
        "type": False,
        "instance": True,
        "parameter": [
            {
                "name": "persist",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "boolean",
                "documentation": "Write the results back to the FHIR server (default true). "
                "Results identical to the stored ones are not written again.",
            },
            {
                **_RETURN,
                "documentation": f"{_RETURN['documentation']} With persist, also the FHIR "
                "server's transaction-response.",
            },
        ],
    }


_MARKER_RETURN: Final = {
    **_RETURN,
    "documentation": "A collection Bundle: per specimen group with a subject, its HER2 "
    "status as an mCODE tumour-marker Observation (meta.profile mcode-tumor-marker and "
    "mcode-tumor-marker-test; LOINC 48676-1; SNOMED CT value; HER2-low, -ultralow or -null "
    "as an extra coding of CodeSystem her2-category), the service's Device, and an "
    "OperationOutcome when inputs were skipped or flagged.",
}
_MARKER_SYSTEM_DESCRIPTION: Final = (
    "Derives the HER2 status of each specimen group exactly as $her2-status does, from the "
    "results in the request, and answers it in the mCODE tumour-marker shape that "
    "clinical-trial matchers read. Stateless: nothing is read from or written to any server."
)
_MARKER_PATIENT_DESCRIPTION: Final = (
    "Reads the patient's HER2 results from the FHIR server the service is configured with, "
    "derives the HER2 status of each specimen group as $her2-status does, and answers it in "
    "the mCODE tumour-marker shape. Never writes the results back. Only available when the "
    "service is configured with a FHIR server."
)


def marker_system_operation_definition() -> dict[str, Any]:
    """``$her2-tumor-marker`` at system level: stateless (``affectsState`` false)."""
    return {
        **conformance_header(
            "OperationDefinition",
            MARKER_SYSTEM_ID,
            "HER2 status as an mCODE tumour marker",
            _MARKER_SYSTEM_DESCRIPTION,
        ),
        "kind": "operation",
        "affectsState": False,
        "code": "her2-tumor-marker",
        "system": True,
        "type": False,
        "instance": False,
        "parameter": [_OBSERVATION, _BUNDLE, _TUMOR_SITE, _MARKER_RETURN],
    }


def marker_patient_operation_definition() -> dict[str, Any]:
    """``$her2-tumor-marker`` on a Patient instance: reads the FHIR server, never writes."""
    return {
        **conformance_header(
            "OperationDefinition",
            MARKER_PATIENT_ID,
            "A patient's HER2 status as an mCODE tumour marker",
            _MARKER_PATIENT_DESCRIPTION,
        ),
        "kind": "operation",
        "affectsState": False,
        "code": "her2-tumor-marker",
        "resource": ["Patient"],
        "system": False,
        "type": False,
        "instance": True,
        "parameter": [_MARKER_RETURN],
    }


def served_operation_definitions() -> dict[str, dict[str, Any]]:
    """Every definition ``GET [base]/OperationDefinition/[id]`` serves, by id."""
    return {
        SYSTEM_ID: system_operation_definition(),
        PATIENT_ID: patient_operation_definition(),
        TRIALS_ID: trial_operation_definition(),
        MARKER_SYSTEM_ID: marker_system_operation_definition(),
        MARKER_PATIENT_ID: marker_patient_operation_definition(),
    }

"""The ``$her2-trial-candidates`` OperationDefinition (Patient instance level, issue 14).

Reads the patient's HER2 inputs from the configured FHIR server (as the Patient-level
``$her2-status`` does, nothing is written), derives the current HER2 result per site and
matches it against the configured trials.  Served at
``GET [base]/OperationDefinition/her2-trial-candidates-patient`` and published in the guide.
"""

from __future__ import annotations

from typing import Any, Final

from service.fhir.conformance.header import conformance_header

TRIALS_ID: Final = "her2-trial-candidates-patient"

_DESCRIPTION: Final = (
    "Reads the patient's HER2 IHC and ISH results from the FHIR server the service is "
    "configured with, derives the current HER2 result of each tumour site, and classifies "
    "every configured trial by its HER2 criteria: candidate (every HER2 criterion met), "
    "needs review (the result cannot answer a criterion, or a criterion was not understood), "
    "no HER2 criterion, or excluded (with the reason and the criterion's verbatim sentence). "
    "A candidate list for a clinician and a research coordinator, not an eligibility "
    "decision: only HER2 is read. Nothing is written. Only available when the service is "
    "configured with a FHIR server and a trial source."
)


def _filter(name: str, system: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "use": "in",
        "min": 0,
        "max": "*",
        "type": "code",
        "documentation": f"Keep only trials whose {what} is one of these {system} codes "
        "(several values, or one comma-separated value, are alternatives). ClinicalTrials.gov "
        "values are mapped as the mCODE clinical-trial-matching-service maps them.",
    }


def trial_operation_definition() -> dict[str, Any]:
    """``$her2-trial-candidates`` on a Patient instance: reads, never writes."""
    return {
        **conformance_header(
            "OperationDefinition",
            TRIALS_ID,
            "HER2 trial candidates of a patient",
            _DESCRIPTION,
        ),
        "kind": "operation",
        "affectsState": False,
        "code": "her2-trial-candidates",
        "resource": ["Patient"],
        "system": False,
        "type": False,
        "instance": True,
        "parameter": [
            _filter("recruitmentStatus", "research-study-status", "status"),
            _filter("phase", "research-study-phase", "phase"),
            {
                "name": "return",
                "use": "out",
                "min": 1,
                "max": "1",
                "type": "Bundle",
                "documentation": "A searchset Bundle: one ResearchStudy per trial (search.mode "
                "match; search.score 1 candidate, 0.5 needs review, 0.25 no HER2 criterion, "
                "0 excluded; the HER2 outcome, reasons and verbatim criterion sentences in "
                "ResearchStudy.description), then an OperationOutcome (search.mode outcome) "
                "when the patient has no current HER2 result.",
            },
        ],
    }


__all__ = ["TRIALS_ID", "trial_operation_definition"]

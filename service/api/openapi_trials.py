"""The OpenAPI description of the trial-candidate endpoints (issue 14).

``POST /getClinicalTrial`` is the mCODE trial-matching services' API (its body is the
patient's Bundle with a Parameters entry; ``service.fhir.trial_request``);
``Patient/{id}/$her2-trial-candidates`` is the FHIR operation
(``OperationDefinition/her2-trial-candidates-patient``).  Both are always routed; without
a trial source (or, for the operation, a FHIR server) they answer 400 not-supported.
"""

from __future__ import annotations

from typing import Any, Final

_SCHEMA: Final = "#/components/schemas/"
_MEDIA: Final = ("application/fhir+json", "application/json", "application/json+fhir")
_WHY: Final = {
    "400": "Not JSON, not a Bundle with one Patient, a phase or recruitmentStatus that is no "
    "FHIR code, or no trial source (or FHIR server) configured (not-supported).",
    "401": "Authentication is on and the bearer token is missing or invalid.",
    "403": "The bearer token does not allow reading this patient's Observations.",
    "406": "Accept or _format asks for something other than FHIR JSON.",
    "413": "The body or the answer is larger than the configured limit.",
    "415": "The body is not JSON.",
    "500": "A defect of the service (logged by type, no details returned).",
    "502": "The FHIR server failed or rejected a request.",
    "503": "The FHIR server or the token issuer's keys are unreachable.",
    "504": "The FHIR server did not answer in time.",
}
_SEARCHSET: Final = (
    "A searchset Bundle of ResearchStudy, each with search.mode match and search.score "
    "(1 candidate, 0.5 needs review, 0.25 no HER2 criterion, 0 excluded); the HER2 "
    "outcome, reasons and verbatim criterion sentences are in ResearchStudy.description. "
    "A candidate list for a clinician and a research coordinator, not an eligibility decision."
)


def _answer(description: str, schema: str) -> dict[str, Any]:
    content = {_MEDIA[0]: {"schema": {"$ref": f"{_SCHEMA}{schema}"}}}
    return {"description": description, "content": content}


def _refusals(*statuses: str) -> dict[str, Any]:
    return {s: _answer(_WHY[s], "OperationOutcome") for s in statuses}


def _ok(description: str) -> dict[str, Any]:
    return _answer(description, "Bundle")


def _filter(name: str, codes: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"FHIR {codes} codes, repeated or comma-separated (alternatives).",
        "schema": {"type": "string"},
    }


def trial_paths(base_path: str) -> dict[str, Any]:
    """The two trial endpoints, the operation under ``base_path``."""
    operation = {
        "parameters": [
            {
                "name": "patient_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"},
            },
            _filter("recruitmentStatus", "research-study-status"),
            _filter("phase", "research-study-phase"),
            {
                "name": "_format",
                "in": "query",
                "required": False,
                "description": "Overrides Accept: json or a JSON media type; anything else is 406.",
                "schema": {"type": "string"},
            },
        ],
        "responses": {
            "200": _ok(f"{_SEARCHSET} Every trial is listed, excluded ones with score 0."),
            **_refusals("400", "401", "403", "406", "413", "415", "500", "502", "503", "504"),
        },
    }
    parameters = {"$ref": f"{_SCHEMA}Parameters"}
    return {
        "/getClinicalTrial": {
            "post": {
                "operationId": "getClinicalTrial",
                "summary": "HER2 trial candidates for a patient Bundle (mCODE "
                "clinical-trial-matching-service API).",
                "requestBody": {
                    "required": True,
                    "description": "A Bundle with the patient's mCODE resources (one Patient) "
                    "and a Parameters entry (zipCode, travelRadius: accepted, not used; phase, "
                    "recruitmentStatus: FHIR codes).",
                    "content": {m: {"schema": {"$ref": f"{_SCHEMA}Bundle"}} for m in _MEDIA},
                },
                "responses": {
                    "200": _ok(
                        f"{_SEARCHSET} Excluded trials and trials without a HER2 "
                        "criterion are left out."
                    ),
                    **_refusals("400", "401", "413", "415", "500", "503"),
                },
            }
        },
        f"{base_path}/Patient/{{patient_id}}/$her2-trial-candidates": {
            "get": {
                "operationId": "her2TrialCandidates",
                "summary": "HER2 trial candidates of a patient on the configured FHIR server.",
                **operation,
            },
            "post": {
                "operationId": "her2TrialCandidatesPost",
                "summary": "The same, with the filters in an optional Parameters body.",
                "requestBody": {
                    "required": False,
                    "description": "Parameters with recruitmentStatus and phase (valueCode or "
                    "valueString), each 0..*.",
                    "content": {m: {"schema": parameters} for m in _MEDIA},
                },
                **operation,
            },
        },
    }


__all__ = ["trial_paths"]

"""The OpenAPI description of the CDS Hooks endpoints (merged into ``/openapi.json``).

CDS Hooks 2.0 defines the request and response bodies; they are described here only
as far as an HTTP client needs (their top-level members).  Every error body is an
OperationOutcome in ``application/json``.
"""

from __future__ import annotations

from typing import Any, Final

_OUTCOME: Final = {"$ref": "#/components/schemas/OperationOutcome"}
_JSON: Final = "application/json"
_ID: Final = {
    "name": "service_id",
    "in": "path",
    "required": True,
    "description": "her2-status or her2-order-check.",
    "schema": {"type": "string"},
}
_ERRORS: Final = {
    "400": "The request is not a hook request this service answers, or malformed.",
    "401": "No JWT, or a JWT that is not valid for this endpoint (WWW-Authenticate: Bearer).",
    "404": "No such CDS service.",
    "412": "Prefetch data are missing and the EHR's FHIR server cannot be used.",
    "413": "The body, or its prefetch data, are over a configured limit.",
    "415": "The body is not JSON.",
    "503": "The EHR's JWK Set or the seen-jti store cannot be read now.",
}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _errors(*statuses: str) -> dict[str, Any]:
    return {status: _answer(_ERRORS[status], _OUTCOME) for status in statuses}


_SECURITY: Final = (
    "Every call carries a JWT signed by an allow-listed EHR (CDS Hooks 2.0, Trusting CDS "
    "Clients): RS384/ES384, aud = the public URL of this endpoint, jti used once."
)

CDS_PATHS: Final[dict[str, Any]] = {
    "/cds-services": {
        "get": {
            "operationId": "cdsDiscovery",
            "summary": "CDS Hooks discovery: the services and their prefetch templates.",
            "description": _SECURITY,
            "responses": {
                "200": _answer(
                    "The discovery document.",
                    {
                        "type": "object",
                        "required": ["services"],
                        "properties": {"services": {"type": "array", "items": {"type": "object"}}},
                    },
                ),
                **_errors("401", "503"),
            },
        }
    },
    "/cds-services/{service_id}": {
        "post": {
            "operationId": "cdsService",
            "summary": "A hook call: cards from the patient's HER2 results.",
            "description": _SECURITY,
            "parameters": [_ID],
            "requestBody": {
                "required": True,
                "content": {_JSON: {"schema": {"type": "object", "required": ["hook"]}}},
            },
            "responses": {
                "200": _answer(
                    "The cards.",
                    {
                        "type": "object",
                        "required": ["cards"],
                        "properties": {"cards": {"type": "array", "items": {"type": "object"}}},
                    },
                ),
                **_errors("400", "401", "404", "412", "413", "415", "503"),
            },
        }
    },
    "/cds-services/{service_id}/feedback": {
        "post": {
            "operationId": "cdsFeedback",
            "summary": "Feedback on cards (accepted or overridden).",
            "description": _SECURITY,
            "parameters": [_ID],
            "requestBody": {
                "required": True,
                "content": {_JSON: {"schema": {"type": "object", "required": ["feedback"]}}},
            },
            "responses": {
                "200": _answer("Received.", {"type": "object"}),
                **_errors("400", "401", "404", "415", "503"),
            },
        }
    },
}

__all__ = ["CDS_PATHS"]

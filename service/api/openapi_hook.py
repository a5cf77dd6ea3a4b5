"""The OpenAPI description of the rest-hook notification endpoint (``/fhir-hook``).

Merged into ``/openapi.json`` only when the event-driven mode is on (the endpoint
exists only then).  What the FHIR server sends is its own (rest-hook Subscriptions,
R4; topic-based notification Bundles of the R4 Backport IG), so the bodies are
described only as far as the endpoint reads them.  Every answer is an
OperationOutcome in ``application/fhir+json``.
"""

from __future__ import annotations

from typing import Any, Final

from service.fhir.subscription import HOOK_PATH, SECRET_HEADER

_FHIR_JSON: Final = "application/fhir+json"
_OUTCOME: Final = {"$ref": "#/components/schemas/OperationOutcome"}
_ANSWERS: Final = {
    "202": "Recorded in the durable queue (or already recorded); the worker derives later.",
    "400": "Not a valid Type/id, not an Observation, or a body that is not that resource.",
    "401": "Neither the Subscription's secret header nor a valid bearer token.",
    "413": "The body is larger than HER2_MAX_BODY_BYTES.",
    "415": "The body is not JSON.",
    "503": "The queue cannot record now (Retry-After): the FHIR server sends it again.",
}
_SECURITY: Final = (
    f"Authenticated by the Subscription's shared secret ({SECRET_HEADER}, "
    "HER2_HOOK_SECRET, compared in constant time) or, when inbound authentication is on, "
    "by a bearer token as for the operations. Answers at once; never derives on the request."
)
_PATH_PARAMETERS: Final = [
    {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }
    for name, description, pattern in (
        ("resource_type", "Observation (the only type handled).", "^[A-Z][A-Za-z]{0,63}$"),
        ("resource_id", "The changed resource's id.", "^[A-Za-z0-9\\-.]{1,64}$"),
    )
]
_SECRET: Final = {
    "name": SECRET_HEADER,
    "in": "header",
    "required": False,
    "description": "The shared secret of the Subscription's channel.header.",
    "schema": {"type": "string"},
}


def _answers(*statuses: str) -> dict[str, Any]:
    return {
        status: {
            "description": _ANSWERS[status],
            "content": {_FHIR_JSON: {"schema": _OUTCOME}},
            **(
                {"headers": {"Retry-After": {"schema": {"type": "string"}}}}
                if status == "503"
                else {}
            ),
        }
        for status in statuses
    }


def _resource_body(required: bool, description: str) -> dict[str, Any]:
    schema = {"type": "object", "required": ["resourceType"]}
    return {
        "required": required,
        "description": description,
        "content": {_FHIR_JSON: {"schema": schema}},
    }


_CHANGED: Final = {
    "description": _SECURITY,
    "parameters": [*_PATH_PARAMETERS, _SECRET],
    "requestBody": _resource_body(
        False, "The changed resource (payload application/fhir+json); empty: the worker reads it."
    ),
    "responses": _answers("202", "400", "401", "413", "415", "503"),
}

HOOK_PATHS: Final[dict[str, Any]] = {
    HOOK_PATH: {
        "post": {
            "operationId": "hookNotification",
            "summary": "A notification without an id: empty (a catch-up search is scheduled), "
            "a changed resource, or a topic-based notification Bundle (R4 Backport IG).",
            "description": _SECURITY,
            "parameters": [_SECRET],
            "requestBody": _resource_body(False, "Empty, a resource, or a notification Bundle."),
            "responses": _answers("202", "400", "401", "413", "415", "503"),
        }
    },
    f"{HOOK_PATH}/{{resource_type}}/{{resource_id}}": {
        "put": {
            "operationId": "hookChanged",
            "summary": "A created or updated resource (rest-hook with payload).",
            **_CHANGED,
        },
        "post": {
            "operationId": "hookChangedPost",
            "summary": "A created or updated resource, posted.",
            **_CHANGED,
        },
        "delete": {
            "operationId": "hookDeleted",
            "summary": "A deleted resource (the worker finds its patient in the history).",
            "description": _SECURITY,
            "parameters": [*_PATH_PARAMETERS, _SECRET],
            "responses": _answers("202", "400", "401", "503"),
        },
    },
}

__all__ = ["HOOK_PATHS"]

"""The OpenAPI 3.1 description of every HTTP endpoint (``GET /openapi.json``).

Maintained by hand next to the routes: ``tests/api/test_openapi.py`` fails when a
Flask URL rule is missing here or a path here has no rule, and validates the
document with openapi-spec-validator.  FHIR resources are described only as far as
an HTTP client needs (``resourceType`` and the OperationOutcome shape); the
OperationDefinitions and the guide's profiles define the rest.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from service.api.openapi_cds import CDS_PATHS
from service.api.openapi_hook import HOOK_PATHS
from service.api.openapi_trials import trial_paths
from service.api.openapi_view import VIEW_PATHS, with_html_answers
from service.fhir.conformance.header import IG_VERSION
from service.fhir.conformance.operation_definition import (
    MARKER_PATIENT_ID,
    MARKER_SYSTEM_ID,
    PATIENT_ID,
    SYSTEM_ID,
)
from service.fhir.conformance.trial_operation import TRIALS_ID

FHIR_JSON: Final = "application/fhir+json"
_REQUEST_TYPES: Final = (FHIR_JSON, "application/json", "application/json+fhir")
_SCHEMAS: Final = "#/components/schemas/"
_HEADERS: Final = "#/components/headers/"

_ERRORS: Final = {
    "400": "Not JSON, not a FHIR resource, wrong resourceType or an invalid parameter.",
    "401": "Authentication is on and the bearer token is missing or invalid "
    "(WWW-Authenticate: Bearer).",
    "403": "The bearer token lacks the scope, or is for another patient.",
    "404": "No such endpoint or resource.",
    "406": "Accept or _format asks for something other than FHIR JSON (XML is not served).",
    "409": "A conditional write matched several resources, or the stored result changed "
    "between read and write.",
    "413": "The body is larger than HER2_MAX_BODY_BYTES.",
    "415": "The body is not JSON (application/fhir+xml included).",
    "422": "Valid FHIR, but no usable HER2 result or every specimen group invalid.",
    "500": "A defect of the service (logged by type, no details returned).",
    "502": "The FHIR server failed or rejected a request; its issues are included.",
    "503": "The FHIR server or the token issuer's keys are unreachable, the FHIR server "
    "is throttling, or another request is writing the same result.",
    "504": "The FHIR server did not answer in time.",
}


def _resource(resource_type: str, description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["resourceType"],
        "properties": {"resourceType": {"const": resource_type}},
    }


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"{_HEADERS}{name}"} for name in ("X-Request-ID", *names)}


def _fhir(schema: str, description: str, *headers: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _headers(*headers),
        "content": {FHIR_JSON: {"schema": {"$ref": f"{_SCHEMAS}{schema}"}}},
    }


def _errors(*statuses: str) -> dict[str, Any]:
    answers = {}
    for status in statuses:
        headers = ("Retry-After",) if status == "503" else ()
        answers[status] = _fhir("OperationOutcome", _ERRORS[status], *headers)
    return answers


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _headers(),
        "content": {"application/json": {"schema": schema}},
    }


def _body(schema: dict[str, Any], required: bool, description: str) -> dict[str, Any]:
    return {
        "required": required,
        "description": description,
        "content": {media: {"schema": schema} for media in _REQUEST_TYPES},
    }


_FORMAT: Final = {
    "name": "_format",
    "in": "query",
    "required": False,
    "description": "Overrides Accept: json or a JSON media type; anything else is 406.",
    "schema": {"type": "string"},
}
_CONDITIONAL: Final = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier answer: 304 when it is still current.",
    "schema": {"type": "string"},
}
_NOT_MODIFIED: Final = {
    "description": "Not modified since the ETag given in If-None-Match.",
    "headers": _headers("ETag", "Last-Modified"),
}


def _marker_paths(base: str) -> dict[str, Any]:
    """``$her2-tumor-marker`` (service/api/tumor_marker.py): read-only at both levels."""
    answer = "A collection Bundle of mCODE tumour-marker Observations (and the Device)."
    patient_id = {
        "name": "patient_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"},
    }
    return {
        f"{base}/$her2-tumor-marker": {
            "post": {
                "operationId": "her2TumorMarkerSystem",
                "summary": "HER2 status of the results in the request, in the mCODE "
                "tumour-marker shape (stateless).",
                "parameters": [_FORMAT],
                "requestBody": _body(
                    {"$ref": f"{_SCHEMAS}Her2StatusInput"}, True, "As for $her2-status."
                ),
                "responses": {
                    "200": _fhir("Bundle", answer),
                    **_errors("400", "401", "406", "413", "415", "422", "500", "503"),
                },
            }
        },
        f"{base}/Patient/{{patient_id}}/$her2-tumor-marker": {
            "post": {
                "operationId": "her2TumorMarkerPatient",
                "summary": "A patient's HER2 status from the configured FHIR server, in the "
                "mCODE tumour-marker shape (never written back).",
                "parameters": [patient_id, _FORMAT],
                "responses": {
                    "200": _fhir("Bundle", answer),
                    **_errors("400", "401", "403", "406", "413", "422", "500", "502", "503", "504"),
                },
            }
        },
    }


def _fhir_paths(base: str) -> dict[str, Any]:
    return {
        **_marker_paths(base),
        f"{base}/$her2-status": {
            "post": {
                "operationId": "her2StatusSystem",
                "summary": "Derive HER2 status from the results in the request (stateless).",
                "parameters": [_FORMAT],
                "requestBody": _body(
                    {"$ref": f"{_SCHEMAS}Her2StatusInput"},
                    True,
                    "A Parameters (observation 0..*, bundle 0..1, tumorSite 0..1), a Bundle, "
                    "an Observation or a DiagnosticReport.",
                ),
                "responses": {
                    "200": _fhir("Bundle", "A collection Bundle of the derived results."),
                    **_errors("400", "401", "406", "413", "415", "422", "500", "503"),
                },
            }
        },
        f"{base}/Patient/{{patient_id}}/$her2-status": {
            "post": {
                "operationId": "her2StatusPatient",
                "summary": "Derive a patient's HER2 status from the configured FHIR server and "
                "write it back (persist, default true).",
                "parameters": [
                    {
                        "name": "patient_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"},
                    },
                    _FORMAT,
                ],
                "requestBody": _body(
                    {"$ref": f"{_SCHEMAS}Parameters"},
                    False,
                    "Optional Parameters with persist (valueBoolean).",
                ),
                "responses": {
                    "200": _fhir(
                        "Bundle",
                        "A collection Bundle of the derived results, with the "
                        "transaction-response when results were written.",
                    ),
                    **_errors(
                        "400",
                        "401",
                        "403",
                        "406",
                        "409",
                        "413",
                        "415",
                        "422",
                        "500",
                        "502",
                        "503",
                        "504",
                    ),
                },
            }
        },
        f"{base}/metadata": {
            "get": {
                "operationId": "capabilityStatement",
                "summary": "The CapabilityStatement of the running configuration.",
                "parameters": [_FORMAT, _CONDITIONAL],
                "responses": {
                    "200": _fhir(
                        "CapabilityStatement",
                        "The CapabilityStatement.",
                        "ETag",
                        "Last-Modified",
                    ),
                    "304": _NOT_MODIFIED,
                    **_errors("406", "500"),
                },
            }
        },
        f"{base}/OperationDefinition/{{definition_id}}": {
            "get": {
                "operationId": "operationDefinition",
                "summary": "An OperationDefinition of $her2-status.",
                "parameters": [
                    {
                        "name": "definition_id",
                        "in": "path",
                        "required": True,
                        "description": f"{SYSTEM_ID}: system level, stateless; {PATIENT_ID}: "
                        f"Patient level, writes to the FHIR server; {MARKER_SYSTEM_ID} and "
                        f"{MARKER_PATIENT_ID}: the mCODE tumour-marker export, read-only; "
                        f"{TRIALS_ID}: Patient level, trial candidates.",
                        "schema": {
                            "type": "string",
                            "enum": [
                                SYSTEM_ID,
                                PATIENT_ID,
                                MARKER_SYSTEM_ID,
                                MARKER_PATIENT_ID,
                                TRIALS_ID,
                            ],
                        },
                    },
                    _FORMAT,
                    _CONDITIONAL,
                ],
                "responses": {
                    "200": _fhir(
                        "OperationDefinition",
                        "The OperationDefinition.",
                        "ETag",
                        "Last-Modified",
                    ),
                    "304": _NOT_MODIFIED,
                    **_errors("404", "406", "500"),
                },
            }
        },
    }


_OPS_PATHS: Final = {
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness: 200 while the process serves.",
            "responses": {
                "200": _json(
                    "Alive.",
                    {
                        "type": "object",
                        "required": ["status"],
                        "properties": {"status": {"const": "ok"}},
                    },
                )
            },
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "summary": "Readiness: whether the configured FHIR server answers.",
            "responses": {
                "200": _json("Ready.", {"$ref": f"{_SCHEMAS}Readiness"}),
                "503": _json("The FHIR server is unreachable.", {"$ref": f"{_SCHEMAS}Readiness"}),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics of all worker processes.",
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format 0.0.4.",
                    "headers": _headers(),
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document.",
            "responses": {"200": _json("The OpenAPI 3.1 document.", {"type": "object"})},
        }
    },
}

_COMPONENTS: Final = {
    "schemas": {
        "OperationOutcome": {
            "type": "object",
            "description": "Every error answer (FHIR R4 OperationOutcome).",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"const": "OperationOutcome"},
                "issue": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {"enum": ["fatal", "error", "warning", "information"]},
                            "code": {"type": "string", "description": "FHIR issue-type code."},
                            "diagnostics": {"type": "string"},
                            "details": {"type": "object"},
                            "expression": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
        "Bundle": _resource("Bundle", "A FHIR R4 Bundle."),
        "Parameters": _resource("Parameters", "A FHIR R4 Parameters resource."),
        "CapabilityStatement": _resource("CapabilityStatement", "A FHIR R4 CapabilityStatement."),
        "OperationDefinition": _resource("OperationDefinition", "A FHIR R4 OperationDefinition."),
        "Her2StatusInput": {
            "oneOf": [
                {"$ref": f"{_SCHEMAS}Parameters"},
                {"$ref": f"{_SCHEMAS}Bundle"},
                _resource("Observation", "A HER2 IHC or ISH result."),
                _resource("DiagnosticReport", "A report with its results contained."),
            ]
        },
        "Readiness": {
            "type": "object",
            "required": ["status", "fhir_server"],
            "properties": {
                "status": {"enum": ["ready", "not ready"]},
                "fhir_server": {"enum": ["not configured", "reachable", "unreachable"]},
            },
        },
    },
    "headers": {
        "X-Request-ID": {
            "description": "The caller's request id if it is a safe token, else a new one.",
            "schema": {"type": "string"},
        },
        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}},
        "ETag": {"description": "Hash of the exact answer.", "schema": {"type": "string"}},
        "Last-Modified": {"description": "When the service started.", "schema": {"type": "string"}},
    },
}


def document(base_path: str, hook: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 document for FHIR endpoints mounted at ``base_path``.

    Args:
        base_path: where the FHIR endpoints are mounted.
        hook: the event-driven mode is on (its ``/fhir-hook`` endpoint is documented).
    """
    # A copy: the shared tables must not change when a caller edits its document.
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "her2-status",
                "version": IG_VERSION,
                "description": "HER2 status from FHIR R4 pathology results. Every error is an "
                "OperationOutcome; a method an endpoint does not support answers 405 with Allow, "
                "an unknown path 404.",
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
            "paths": {
                **with_html_answers(_fhir_paths(base_path), base_path),
                **_OPS_PATHS,
                **CDS_PATHS,
                **VIEW_PATHS,
                **(HOOK_PATHS if hook else {}),
                **trial_paths(base_path),
            },
            "components": _COMPONENTS,
        }
    )

"""FHIR JSON responses."""

from __future__ import annotations

from typing import Any

from flask import Response

from service.fhir import jsonio

FHIR_JSON = "application/fhir+json; charset=utf-8"
ACCEPTED_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})


def fhir_response(
    resource: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A FHIR JSON response (exact decimals, UTF-8)."""
    response = Response(jsonio.dumps(resource), status=status, mimetype=None)
    response.headers["Content-Type"] = FHIR_JSON
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response

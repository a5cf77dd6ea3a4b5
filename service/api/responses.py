"""FHIR JSON responses."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from flask import Request, Response

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


def conformance_response(
    resource: dict[str, Any], request: Request, last_modified: dt.datetime
) -> Response:
    """A conformance resource with ``ETag`` and ``Last-Modified``; 304 when unchanged.

    The ETag is a hash of the exact bytes, so it changes with the configuration or
    the base URL and is the same in every worker.  ``Last-Modified`` is the start of
    the service: the served resources only change when it restarts.  ``no-cache``
    makes caches revalidate, which ``If-None-Match`` keeps cheap.
    """
    response = fhir_response(resource)
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.last_modified = last_modified
    response.headers["Cache-Control"] = "no-cache"
    response.make_conditional(request)  # turns it into a 304 in place when the ETag matches
    return response

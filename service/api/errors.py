"""One error handler: every failure becomes an OperationOutcome with the right status.

4xx for what a retry cannot fix, 502/503/504 (with Retry-After where it helps)
only for an unreachable, slow or failing FHIR server, 503 with Retry-After also
when another request is writing the same result, 500 only for a defect of this
service.  No stack trace and no request content ever reaches the response.
"""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from service.api.responses import fhir_response
from service.app.limits import cap_issues
from service.app.locks import WriteBusy
from service.clients.errors import (
    FhirAuthFailed,
    FhirAuthMisconfigured,
    FhirClientError,
    FhirConflict,
    FhirPreconditionFailed,
    FhirServerUnavailable,
    FhirTimeout,
    FhirTooManyMatches,
)
from service.fhir.issues import Issue, Severity, outcome_resource

log = logging.getLogger("her2.api")


class ApiError(Exception):
    """A failure with its HTTP status and the issues that explain it."""

    def __init__(self, status: int, issues: list[Issue], headers: dict[str, str] | None = None):
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.status = status
        self.issues = issues
        self.headers = headers or {}

    @classmethod
    def simple(cls, status: int, code: str, diagnostics: str) -> ApiError:
        """An error with one issue."""
        return cls(status, [Issue(Severity.ERROR, code, diagnostics)])


_HTTP_CODES = {
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    415: "not-supported",
}


def _upstream(exc: FhirClientError) -> tuple[int, str, dict[str, str]]:
    if isinstance(exc, FhirTimeout):
        return 504, "timeout", {}
    if isinstance(exc, FhirServerUnavailable):
        # Pass on the server's own delay when it named one.
        return 503, "transient", {"Retry-After": exc.retry_after or "30"}
    if isinstance(exc, FhirAuthMisconfigured):
        # Our own configuration: unavailable until an operator fixes it (no
        # Retry-After: retrying alone will not help).
        return 503, "security", {}
    if isinstance(exc, FhirAuthFailed):
        # The service's own credentials: nothing the caller can change.
        return 502, "security", {}
    if isinstance(exc, FhirTooManyMatches):
        return 409, "multiple-matches", {}
    if isinstance(exc, FhirConflict):
        # A concurrent write won (on HAPI, a create of the same id or identifier):
        # nothing of ours was applied, and a new call re-reads.
        return 409, "conflict", {}
    if isinstance(exc, FhirPreconditionFailed):
        # Another writer changed the result between our read and our write: a new
        # call re-reads and is safe.
        return 409, "conflict", {}
    return 502, "exception", {}


def register(app: Flask) -> None:
    """Install the handlers on an application."""

    def _capped(issues: list[Issue]) -> list[Issue]:
        return cap_issues(issues, app.extensions["her2"].settings.limits.max_issues)

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return fhir_response(outcome_resource(_capped(exc.issues)), exc.status, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        text = {
            404: "No such endpoint.",
            405: "Method not allowed on this endpoint.",
            413: "The request body is larger than the configured limit.",
            415: "Unsupported content type: send application/fhir+json (XML is not supported).",
        }.get(status, exc.name)
        issue = Issue(Severity.ERROR, _HTTP_CODES.get(status, "processing"), text)
        # werkzeug's own headers carry Allow on a 405 (RFC 9110 requires it); its
        # Content-Type is for the HTML page this handler replaces.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return fhir_response(outcome_resource([issue]), status, headers)

    @app.errorhandler(FhirClientError)
    def _client_error(exc: FhirClientError) -> Response:
        status, code, headers = _upstream(exc)
        issues = [Issue(Severity.ERROR, code, exc.public_message)]
        issues += exc.upstream_issues
        return fhir_response(outcome_resource(_capped(issues)), status, headers)

    @app.errorhandler(WriteBusy)
    def _write_busy(exc: WriteBusy) -> Response:
        # Not the FHIR server's fault: this host's lock for the result stayed taken.
        issue = Issue(Severity.ERROR, "lock-error", exc.public_message)
        return fhir_response(outcome_resource([issue]), 503, {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _defect(exc: Exception) -> Response:
        # Logged by type only: exception messages may carry request content.
        log.error("unhandled error", extra={"fields": {"error_type": type(exc).__name__}})
        issue = Issue(Severity.FATAL, "exception", "Internal error; it has been logged.")
        return fhir_response(outcome_resource([issue]), 500)

"""The FHIR client's exceptions, and the one place that maps HTTP statuses to them.

::

    FhirClientError                 anything that went wrong talking to the FHIR server
    ├── FhirServerUnavailable       could not connect, or 429/503 after retries (API: 503)
    │   └── FhirAuthUnavailable     the token endpoint is unreachable or failing (API: 503)
    ├── FhirAuthMisconfigured       the service's own signing key cannot be read (API: 503)
    ├── FhirAuthFailed              outbound SMART authorization failed (API: 502)
    │   ├── FhirAuthRefused         the token endpoint refused our credentials (4xx)
    │   ├── FhirAuthInvalidAnswer   no usable token endpoint or token in an answer
    │   └── FhirTokenRejected       the FHIR server answered 401 to a renewed token
    ├── FhirTimeout                 connect/read timeout after retries, or 504 (API: 504)
    ├── FhirServerError             5xx, or an answer that is not FHIR JSON (API: 502)
    ├── FhirForeignLink             a next link to another origin: not followed (API: 502)
    ├── FhirInvalidReference        a reference outside the FHIR grammar: not read (API: 502)
    └── FhirRequestRejected         4xx: the server refused our request (API: 502)
        ├── FhirNotFound            404 / 410
        ├── FhirConflict            409: a concurrent write won (API: 409)
        └── FhirPreconditionFailed  412: the version read is no longer current
            └── FhirTooManyMatches  412: a conditional write matched several resources (API: 409)

Every exception carries ``public_message`` (safe to return: names no patient
data) and ``upstream_issues`` (the server's OperationOutcome issues, if any).
"""

from __future__ import annotations

import re
from typing import Any

from service.fhir.issues import Issue, Severity

_MULTIPLE = re.compile(r"match(?:ed|es)?\s+(?:\d+|multiple)\s+resources|multiple\s+matches", re.I)


class FhirClientError(Exception):
    """Base of the client's exceptions."""

    public_message = "The FHIR server could not be used."

    def __init__(
        self,
        detail: str = "",
        status: int | None = None,
        upstream_issues: list[Issue] | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(detail or self.public_message)
        self.status = status
        self.upstream_issues = upstream_issues or []
        self.retry_after = retry_after


class FhirServerUnavailable(FhirClientError):
    """The server could not be reached, or asked us to come back later."""

    public_message = "The FHIR server is unavailable; try again later."


class FhirAuthUnavailable(FhirServerUnavailable):
    """The EHR's authorization server could not be reached, or failed (5xx)."""

    public_message = (
        "The EHR's authorization server is unavailable, so the service could not "
        "authenticate to the FHIR server; try again later."
    )


class FhirAuthMisconfigured(FhirClientError):
    """The service's SMART signing key (``HER2_FHIR_PRIVATE_KEY``) cannot be read any more.

    A configuration problem of this service, found after the start's check (the file
    was removed or made unreadable): no request reached the authorization server.
    """

    public_message = (
        "The service's authentication to the FHIR server is misconfigured: its SMART "
        "Backend Services signing key (HER2_FHIR_PRIVATE_KEY) cannot be read. An "
        "operator must restore it; nothing was read or written."
    )


class FhirAuthFailed(FhirClientError):
    """The service could not authenticate to the FHIR server (SMART Backend Services)."""

    public_message = "The service could not authenticate to the FHIR server."


class FhirAuthRefused(FhirAuthFailed):
    """The token endpoint answered 4xx to the service's client assertion."""

    public_message = "The EHR's authorization server refused the service's credentials."


class FhirAuthInvalidAnswer(FhirAuthFailed):
    """Discovery or the token endpoint answered something unusable."""

    public_message = (
        "The EHR's authorization server (or its SMART configuration) gave an unusable "
        "answer; the service could not authenticate to the FHIR server."
    )


class FhirTokenRejected(FhirAuthFailed):
    """The FHIR server answered 401 even to a freshly issued access token."""

    public_message = (
        "The FHIR server refused the service's access token (401), also after a new "
        "token was obtained."
    )


class FhirTimeout(FhirClientError):
    """The server did not answer in time."""

    public_message = "The FHIR server did not answer in time."


class FhirServerError(FhirClientError):
    """The server failed (5xx) or answered something that is not FHIR JSON."""

    public_message = "The FHIR server failed to process the request."


class FhirForeignLink(FhirClientError):
    """A paging link pointed to another origin; it was not followed."""

    public_message = "The FHIR server returned a paging link to another host; not followed."


class FhirInvalidReference(FhirClientError):
    """A reference to read is not ``Type/id``; no request was sent."""

    public_message = "A reference does not follow the FHIR reference grammar; it was not read."


class FhirRequestRejected(FhirClientError):
    """The server rejected the request (4xx)."""

    public_message = "The FHIR server rejected the request."


class FhirNotFound(FhirRequestRejected):
    """The resource does not exist (404/410)."""

    public_message = "A resource was not found on the FHIR server."


class FhirConflict(FhirRequestRejected):
    """Another write won a race on the server (409; HAPI: "HAPI-0825" on a create).

    Nothing of our request was applied; a new call re-reads and is then safe.
    """

    public_message = (
        "Another request wrote the same resource on the FHIR server at the same time; "
        "nothing was written. Try again."
    )


class FhirPreconditionFailed(FhirRequestRejected):
    """A conditional or versioned write no longer matches (412)."""

    public_message = "The resource changed on the FHIR server while it was being updated."


class FhirTooManyMatches(FhirPreconditionFailed):
    """A conditional write matched several resources (412); never retried."""

    public_message = (
        "A conditional write matched several resources on the FHIR server; the duplicates "
        "must be resolved there first."
    )


def upstream_issues(body: Any) -> list[Issue]:
    """The issues of an OperationOutcome body (or nothing)."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return []
    issues = []
    for raw in body.get("issue", []) if isinstance(body.get("issue"), list) else []:
        if not isinstance(raw, dict):
            continue
        severity = raw.get("severity")
        issues.append(
            Issue(
                Severity(severity) if severity in {s.value for s in Severity} else Severity.ERROR,
                str(raw.get("code") or "exception"),
                "FHIR server: " + str(raw.get("diagnostics") or "no diagnostics"),
            )
        )
    return issues


def error_for(status: int, body: Any, retry_after: str | None = None) -> FhirClientError | None:
    """The exception for an HTTP status (None for success)."""
    if status < 400:
        return None
    issues = upstream_issues(body)
    args = (f"HTTP {status}", status, issues, retry_after)
    if status in (404, 410):
        return FhirNotFound(*args)
    if status == 409:
        return FhirConflict(*args)
    if status == 412:
        text = " ".join(i.diagnostics for i in issues)
        return (
            FhirTooManyMatches(*args) if _MULTIPLE.search(text) else FhirPreconditionFailed(*args)
        )
    if status in (429, 503):
        return FhirServerUnavailable(*args)
    if status == 504:
        return FhirTimeout(*args)
    if status >= 500:
        return FhirServerError(*args)
    return FhirRequestRejected(*args)

"""401/403 for the FHIR operations when inbound authentication is on.

``authenticate`` reads ``Authorization: Bearer …`` and checks the token;
``authorize`` checks the grant against what an operation needs.  Both run before
the FHIR server is contacted, so an unknown and a known patient get the same answer.
The token and its claims never reach an answer or a log line: only a fixed reason
word (``auth``) is noted in the request log.
"""

from __future__ import annotations

from flask import request

from service.api.context import Context
from service.api.errors import ApiError
from service.api.logs import note
from service.auth import Access, Grant, InvalidToken, KeysUnavailable
from service.fhir.issues import Issue, Severity

_REALM = 'Bearer realm="her2-status"'


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def authenticate(context: Context) -> Grant | None:
    """The caller's grant (None when authentication is off).

    Raises:
        ApiError: 401 without a valid bearer token; 503 when the issuer's keys
            cannot be read.
    """
    if context.verifier is None:
        return None
    token = _bearer_token()
    if token is None:
        note(auth="missing")
        raise ApiError(
            401,
            [Issue(Severity.ERROR, "login", "A bearer token is required.")],
            {"WWW-Authenticate": _REALM},
        )
    try:
        return context.verifier.verify(token)
    except InvalidToken as exc:
        note(auth=exc.reason)
        raise ApiError(
            401,
            [Issue(Severity.ERROR, "login", "The bearer token is not valid.")],
            {"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
        ) from None
    except KeysUnavailable:
        note(auth="keys-unavailable")
        raise ApiError(
            503,
            [Issue(Severity.ERROR, "transient", "The token issuer's keys cannot be read.")],
            {"Retry-After": "30"},
        ) from None


def authorize(grant: Grant | None, access: Access, patient_id: str) -> None:
    """Nothing when the grant allows ``access`` to the patient's Observations.

    Raises:
        ApiError: 403 (the same for every patient the grant does not cover).
    """
    if grant is None or grant.allows(access, patient_id):
        return
    note(auth="forbidden")
    scope = "system/Observation.rs" if access is Access.READ else "system/Observation.cu"
    raise ApiError(
        403,
        [
            Issue(
                Severity.ERROR,
                "forbidden",
                f"The token does not allow this: it needs {scope}"
                " (or the patient/ scope for this patient).",
            )
        ],
        {"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", scope="{scope}"'},
    )

"""The audit record of the Patient-level operation: one JSON line per call.

Every call of ``POST [base]/Patient/[id]/$her2-status`` leaves one line on the
``her2.audit`` logger, whatever its outcome (allowed, refused, failed): who called
(the token's client and subject, when authentication is on), for which patient, whether
it asked to write, what happened (HTTP status, outcome word, resources written) and
the request id.  Never a value of the patient's data: the patient id is the only
patient reference, and only when it is a valid FHIR id (request text never reaches it).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, g

from service.auth import Grant

_LOG = logging.getLogger("her2.audit")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_OUTCOMES = {401: "unauthenticated", 403: "forbidden"}


def begin(patient_id: str) -> None:
    """Open this request's audit record (before anything can refuse it)."""
    g.audit = {
        "patient_id": patient_id if _FHIR_ID.fullmatch(patient_id) else "invalid",
        "client_id": None,
        "subject": None,
        "persist": None,
    }


def caller(grant: Grant | None) -> None:
    """Record who called (nothing when authentication is off)."""
    if grant is not None and "audit" in g:
        g.audit.update(client_id=grant.client_id, subject=grant.subject)


def record(**fields: Any) -> None:
    """Add what is known so far (``persist``, ``written``)."""
    if "audit" in g:
        g.audit.update(fields)


def _outcome(status: int, written: object) -> str:
    if status in _OUTCOMES:
        return _OUTCOMES[status]
    if status >= 400:
        return "failed"
    return "written" if isinstance(written, int) and written > 0 else "read-only"


def install(app: Flask) -> None:
    """Write the record once the answer is known (error answers included)."""

    @app.after_request
    def _write(response: Response) -> Response:
        fields = g.pop("audit", None)
        if fields is not None:
            fields |= {
                "request_id": g.get("request_id"),
                "status": response.status_code,
                "outcome": _outcome(response.status_code, fields.get("written")),
            }
            _LOG.info("patient-operation", extra={"fields": fields})
        return response

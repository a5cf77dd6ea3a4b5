"""The audit record of the Patient-level operation: one JSON line per call.

Every call of ``POST [base]/Patient/[id]/$her2-status`` (and of the read-only
``$her2-tumor-marker`` and the trial endpoints, ``Patient/[id]/$her2-trial-candidates``
and ``/getClinicalTrial``, whose record names the ``operation``) leaves one line on the
``her2.audit`` logger, whatever its outcome (allowed, refused, failed): who called
(the token's client and subject, when authentication is on), for which patient, whether
it asked to write, what happened (HTTP status, outcome word, resources written) and
the request id.  Never a value of the patient's data: the patient id is the only
patient reference, and only when it is a valid FHIR id (request text never reaches it).

With ``HER2_AUDIT=fhir`` every such call also gets a FHIR AuditEvent (IHE BALP
shape, ``service.fhir.audit_event``) in the EHR, and the line says where it went
(``audit_event``): ``transaction`` (committed with the write-back), ``written``
(created alone, after the answer was decided, for a call that wrote nothing),
``failed`` (that write failed: the caller still gets the answer, and one ERROR
line ``audit-event-failed`` names the error type) or ``not-recorded`` (a 401, an
invalid patient id, or no FHIR server: nothing identifies a caller or a patient,
and unauthenticated callers must not make the service write into the EHR).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, Response, current_app, g, request

from service.auth import Grant
from service.fhir.audit_event import AuditedCall, outcome_for

_LOG = logging.getLogger("her2.audit")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_OUTCOMES = {401: "unauthenticated", 403: "forbidden"}
# What the service was called on, when the Host header is a plain host[:port].
_HOST = re.compile(r"(?:[A-Za-z0-9\-.]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def begin(patient_id: str | None, operation: str = "$her2-status") -> None:
    """Open this request's audit record (before anything can refuse it).

    Args:
        patient_id: the patient of the URL; None when the patient's data came in the
            body (``/getClinicalTrial``): then no AuditEvent is written, since nothing
            was read from the EHR and the body's ids are the caller's text.
        operation: the operation called, as its AuditEvent names it.
    """
    g.audit = {
        "operation": operation,
        "patient_id": None
        if patient_id is None
        else patient_id
        if _FHIR_ID.fullmatch(patient_id)
        else "invalid",
        "client_id": None,
        "subject": None,
        "persist": None,
    }
    if operation != "her2-status":
        g.audit["operation"] = operation


def caller(grant: Grant | None) -> None:
    """Record who called (nothing when authentication is off)."""
    if grant is not None and "audit" in g:
        g.audit.update(client_id=grant.client_id, subject=grant.subject)


def record(**fields: Any) -> None:
    """Add what is known so far (``persist``, ``written``)."""
    if "audit" in g:
        g.audit.update(fields)


def audited_call(fields: dict[str, Any] | None = None) -> AuditedCall | None:
    """The call as its AuditEvent names it (None: ``HER2_AUDIT`` is not ``fhir``).

    Args:
        fields: the record (default: this request's record, while it is open).
    """
    context = current_app.extensions["her2"]
    fields = fields if fields is not None else g.get("audit")
    if context.settings.audit != "fhir" or fields is None:
        return None
    if fields["patient_id"] in (None, "invalid"):
        return None
    base_path = context.settings.base_path
    host = request.host
    return AuditedCall(
        patient_id=fields["patient_id"],
        operation_path=f"{base_path}/Patient/{fields['patient_id']}/"
        + fields.get("operation", "$her2-status"),
        service_url=f"{request.scheme}://{host}{base_path}" if _HOST.fullmatch(host) else None,
        request_id=g.get("request_id"),
        persist=fields.get("persist"),
        client_id=fields.get("client_id"),
        subject=fields.get("subject"),
        issuer=context.settings.auth.issuer,
        client_address=request.remote_addr,
        # Only the methods the routes accept reach here: never a caller's free text.
        method="GET" if request.method == "GET" else "POST",
    )


def _audit_event(fields: dict[str, Any], status: int) -> str:
    """Record the AuditEvent of a call that did not commit one with its write-back."""
    if fields.get("audit_event") == "transaction":
        return "transaction"
    patients = current_app.extensions["her2"].application.patients
    call = audited_call(fields)
    if status == 401 or call is None or patients is None:
        return "not-recorded"
    try:
        patients.audit_alone(call, outcome_for(status), current_app.extensions["her2"].now())
    except Exception as exc:  # the answer must still go out, whatever failed
        # The type only: a message may quote the server's answer.
        _LOG.error(
            "audit-event-failed",
            extra={
                "fields": {
                    "request_id": g.get("request_id"),
                    "patient_id": fields["patient_id"],
                    "error_type": type(exc).__name__,
                }
            },
        )
        return "failed"
    return "written"


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
            if current_app.extensions["her2"].settings.audit == "fhir":
                fields["audit_event"] = _audit_event(fields, response.status_code)
            _LOG.info("patient-operation", extra={"fields": fields})
        return response

"""The endpoints (contract section 8): FHIR ones under the base path, operations ones at the root.

The FHIR endpoints answer FHIR JSON only (``negotiation``); the operations endpoints
(health, metrics, OpenAPI) answer their own formats and are not negotiated.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import UnsupportedMediaType

from service.api import audit, hook, metrics, openapi
from service.api.auth import authenticate, authorize
from service.api.body import read_limited
from service.api.context import Context
from service.api.errors import ApiError
from service.api.html import html_response, nonce, wants_html_answer
from service.api.logs import note
from service.api.negotiation import require_json_answer
from service.api.responses import ACCEPTED_TYPES, conformance_response, fhir_response
from service.app.derivation import Derivation
from service.app.queue import QueueError
from service.app.rederive import RederivePatient
from service.auth import Access, Grant
from service.clients.errors import FhirClientError
from service.fhir import jsonio
from service.fhir.conformance import served_capability_statement, served_operation_definitions
from service.fhir.envelope import EnvelopeError, RequestTooLarge
from service.fhir.issues import Issue, Severity
from service.view import render_derivation

_RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _context() -> Context:
    context: Context = current_app.extensions["her2"]
    return context


current_context = _context  # shared with the other FHIR operation blueprints


def read_body() -> Any:
    """The request body as FHIR JSON (exact decimals); 415/413/400 otherwise."""
    if request.mimetype not in ACCEPTED_TYPES:
        raise UnsupportedMediaType()
    return _parse(read_limited(_context().settings.max_body_bytes))


def _parse(data: bytes) -> Any:
    try:
        return jsonio.loads(data)
    except jsonio.JsonError as exc:
        # Our fixed sentence (never the json module's message, which quotes the body).
        raise ApiError.simple(400, "structure", exc.reason) from None


def _bounded(response: Response, context: Context) -> Response:
    """The response, unless it is larger than the configured answer size (then 413)."""
    if len(response.get_data()) > context.settings.limits.max_answer_bytes:
        # Whatever was written stays written; only the answer is refused.
        raise ApiError.simple(
            413,
            "too-costly",
            "The answer would be larger than the configured limit; send fewer resources.",
        )
    return response


def derive_body() -> tuple[Context, Derivation]:
    """Authenticate, then derive statelessly from the request body (nothing is written).

    Raises:
        ApiError: 401 from authentication; 415/413/400 for a body that cannot be read.
    """
    context = _context()
    authenticate(context)
    return context, derive_payload(context, read_body())


def derive_payload(context: Context, payload: Any) -> Derivation:
    """Derive statelessly from a request's FHIR payload.

    Raises:
        ApiError: 413 over the caps, 400 for an envelope that cannot be read.
    """
    try:
        return context.application.derive(payload, context.now())
    except RequestTooLarge as exc:
        raise ApiError(413, exc.issues) from None
    except EnvelopeError as exc:
        raise ApiError(400, exc.issues) from None


def open_patient_call(
    patient_id: str, operation: str = "$her2-status", instead: str | None = None
) -> tuple[Context, Grant | None, RederivePatient]:
    """Open a Patient-level call: audit record, authentication, id check, read access.

    Args:
        patient_id: the id in the path.
        operation: the operation's name (audit record; the not-supported answer).
        instead: what to use without a FHIR server (default: the system-level
            ``operation``).

    Returns:
        The context, the caller's grant (None when authentication is off) and the
        Patient-level command.

    Raises:
        ApiError: 400 for an invalid id or when no FHIR server is configured; 401/403
            from authentication and authorisation.
    """
    context = _context()
    audit.begin(patient_id, operation)
    grant = authenticate(context)
    audit.caller(grant)
    if not _RESOURCE_ID.fullmatch(patient_id):
        raise ApiError.simple(400, "value", "The patient id is not a valid FHIR id.")
    # Before anything is read: unknown and known patients get the same 403.
    authorize(grant, Access.READ, patient_id)
    patients = context.application.patients
    if patients is None:
        raise ApiError.simple(
            400,
            "not-supported",
            f"No FHIR server is configured; use {instead or 'the system-level ' + operation}.",
        )
    return context, grant, patients


def fhir_blueprint(base_path: str) -> Blueprint:
    """The FHIR endpoints under ``base_path``."""
    bp = Blueprint("fhir", __name__)
    bp.before_request(require_json_answer)

    @bp.post(f"{base_path}/$her2-status")
    def stateless() -> Response:
        context, derivation = derive_body()
        note(groups=len(derivation.derived), issues=len(derivation.issues))
        metrics.count_derivations(d.result for d in derivation.derived)
        if not derivation.usable:
            raise ApiError(422, derivation.issues)
        if wants_html_answer():
            page = render_derivation(derivation, nonce(), "HER2 status")
            return _bounded(html_response(page, headers={"Vary": "Accept"}), context)
        return _bounded(fhir_response(derivation.bundle, headers={"Vary": "Accept"}), context)

    @bp.post(f"{base_path}/Patient/<patient_id>/$her2-status")
    def patient(patient_id: str) -> Response:
        context, grant, patients = open_patient_call(patient_id)
        persist = _persist_parameter(read_body_if_any(), context.settings.persist_default)
        if persist:
            authorize(grant, Access.WRITE, patient_id)
        # The patient id stays out of the request log line (the audit record has it).
        note(persist=persist)
        audit.record(persist=persist)
        outcome = patients(patient_id, persist, context.now(), audit.audited_call())
        note(groups=outcome.groups, written=outcome.written)
        audit.record(written=outcome.written)
        if outcome.audited:
            audit.record(audit_event="transaction")
        metrics.count_derivations(outcome.results)
        if not outcome.usable and not outcome.written:
            raise ApiError(422, outcome.issues)
        if wants_html_answer() and outcome.derivation is not None:
            title = f"HER2 status of Patient/{patient_id}"
            if outcome.written:
                title += f" ({outcome.written} resources written)"
            page = render_derivation(outcome.derivation, nonce(), title)
            response = html_response(page, headers={"Vary": "Accept"})
        else:
            response = fhir_response(outcome.bundle, headers={"Vary": "Accept"})
        # Once written, the caller must learn it: only an answer of a read is refused.
        return response if outcome.written else _bounded(response, context)

    @bp.get(f"{base_path}/metadata")
    def metadata() -> Response:
        context = _context()
        statement = served_capability_statement(
            request.host_url.rstrip("/") + base_path,
            patient_operation=context.application.patients is not None,
            security=context.security,
            trial_operation=context.application.patients is not None
            and bool(context.application.trials),
        )
        return conformance_response(statement, request, context.started)

    @bp.get(f"{base_path}/OperationDefinition/<definition_id>")
    def op_definition(definition_id: str) -> Response:
        definition = served_operation_definitions().get(definition_id)
        if definition is None:
            raise ApiError.simple(404, "not-found", "No such OperationDefinition.")
        return conformance_response(definition, request, _context().started)

    return bp


def ops_blueprint(base_path: str) -> Blueprint:
    """The operations endpoints at the root: health, readiness, metrics, OpenAPI."""
    bp = Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz() -> Response | tuple[Response, int]:
        context = _context()
        client = context.application.client
        # Said on every probe, so that a deployment without authentication is noticed.
        auth = {"auth": "off"} if context.settings.auth.disabled else {}
        try:
            auth.update(hook.queue_status(context))
        except QueueError:
            return jsonify(status="not ready", queue="unavailable", **auth), 503
        if client is None:
            return jsonify(status="ready", fhir_server="not configured", **auth)
        try:
            client.capabilities()
        except FhirClientError as exc:
            note(upstream=type(exc).__name__)
            return jsonify(status="not ready", fhir_server="unreachable", **auth), 503
        return jsonify(status="ready", fhir_server="reachable", **auth)

    @bp.get("/metrics")
    def prometheus() -> Response:
        return metrics.exposition()

    @bp.get("/openapi.json")
    def openapi_document() -> Response:
        # /fhir-hook exists (and is documented) only in the event-driven mode.
        return jsonify(openapi.document(base_path, hook=_context().application.queue is not None))

    return bp


def bounded(response: Response) -> Response:
    """The response, unless it is larger than the configured answer size (then 413)."""
    return _bounded(response, _context())


def read_body_if_any() -> Any:
    """The body of an operation whose parameters are all optional (None when empty)."""
    data = read_limited(_context().settings.max_body_bytes)
    if not data:
        return None
    if request.mimetype not in ACCEPTED_TYPES:
        raise UnsupportedMediaType()
    return _parse(data)


def _persist_parameter(body: Any, default: bool) -> bool:
    if body is None:
        return default
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise ApiError.simple(400, "structure", "The body must be a Parameters resource.")
    for param in body.get("parameter", []) if isinstance(body.get("parameter"), list) else []:
        if isinstance(param, dict) and param.get("name") == "persist":
            value = param.get("valueBoolean")
            if not isinstance(value, bool):
                raise ApiError(
                    400,
                    [Issue(Severity.ERROR, "value", "persist must be a boolean.", "persist")],
                )
            return value
    return default

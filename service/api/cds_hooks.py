"""CDS Hooks 2.0 at the root: discovery, the two services, and their feedback.

- ``GET /cds-services``: the discovery document;
- ``POST /cds-services/{id}``: ``her2-status`` (patient-view) and
  ``her2-order-check`` (order-select, order-sign) — cards from one derivation;
- ``POST /cds-services/{id}/feedback``: accepted / overridden cards, counted and
  logged (card uuid, outcome, override reason code: never a user comment).

Every call, discovery included, must carry a JWT signed by an allow-listed EHR
(``service.auth.ehr_jwt``) whose ``aud`` is the public URL of the endpoint called.
CDS Hooks is not a FHIR API: answers are ``application/json``, and its errors are
handled here (an OperationOutcome body, as everywhere in the service, with the
status the specification names: 401, 412, 400).  Preflight requests of browser
EHRs are answered by flask-cors (no token needed; calls carry no cookies).
"""

from __future__ import annotations

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from flask import Blueprint, Response, current_app, request
from flask_cors import CORS
from prometheus_client import Counter

from service.api.body import read_limited
from service.api.context import Context
from service.api.errors import ApiError
from service.api.logs import note
from service.app.cds import AnswerHook, DataUnavailable, FhirFetcher, HookRequestError, parse_call
from service.auth import InvalidToken, KeysUnavailable
from service.auth.ehr_jwt import EhrCaller, EhrJwtVerifier
from service.auth.replay import DataDirError, ReplayStoreUnavailable, SqliteReplayGuard
from service.cds.cards import CS_OVERRIDE_REASON, OVERRIDE_REASONS
from service.cds.services import BY_ID, discovery
from service.fhir import jsonio
from service.fhir.envelope import EnvelopeError, RequestTooLarge
from service.fhir.issues import Issue, Severity, outcome_resource
from service.settings import SettingsError
from service.settings.cds import CdsSettings

JSON: Final = "application/json"
_JSON_TYPES: Final = frozenset({"application/json", "application/fhir+json"})
_REALM: Final = 'Bearer realm="her2-status cds-hooks"'
_CARD_ID: Final = re.compile(r"[A-Za-z0-9\-]{1,64}")
_KNOWN_REASONS: Final = frozenset(code for code, _ in OVERRIDE_REASONS)
FETCH_WORKERS: Final = 8

log = logging.getLogger("her2.cds")

CARDS = Counter(
    "her2_cds_cards",
    "CDS Hooks cards returned, by service, hook and indicator.",
    ["service", "hook", "indicator"],
)
REFUSED = Counter(
    "her2_cds_refused",
    "CDS Hooks calls refused, by reason (a fixed word: token check, 412 cause).",
    ["reason"],
)
FEEDBACK = Counter(
    "her2_cds_feedback",
    "CDS Hooks feedback received, by service, outcome and override reason code.",
    ["service", "outcome", "reason"],
)


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    response = Response(jsonio.dumps(body), status=status, mimetype=None)
    response.headers["Content-Type"] = f"{JSON}; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _refuse(
    status: int, code: str, text: str, reason: str, headers: dict[str, str] | None = None
) -> ApiError:
    note(cds=reason)
    REFUSED.labels(reason).inc()
    return ApiError(status, [Issue(Severity.ERROR, code, text)], headers)


def _context() -> Context:
    context: Context = current_app.extensions["her2"]
    return context


def _read_json() -> Any:
    if request.mimetype not in _JSON_TYPES:
        raise _refuse(415, "not-supported", "Send application/json.", "media-type")
    data = read_limited(_context().settings.max_body_bytes)
    try:
        return jsonio.loads(data)
    except jsonio.JsonError as exc:
        raise _refuse(400, "structure", exc.reason, "json") from None


class _Guard:
    """The token check of every endpoint (see the module)."""

    def __init__(self, settings: CdsSettings) -> None:
        self.settings = settings
        self.verifier: EhrJwtVerifier | None = None
        if settings.issuers:
            self.verifier = EhrJwtVerifier(
                settings.issuers,
                settings.max_token_lifetime,
                SqliteReplayGuard(settings.data_dir),
            )

    def caller(self, path: str) -> EhrCaller:
        # Which worker process answered: replays are refused across all of them.
        note(worker=os.getpid())
        unauthorized = {"WWW-Authenticate": _REALM}
        audience = self.settings.endpoint_url(path)
        if self.verifier is None or audience is None:
            raise _refuse(
                401,
                "login",
                "No CDS client is allowed (none configured).",
                "no-issuers",
                unauthorized,
            )
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refuse(
                401, "login", "A JWT signed by the CDS client is required.", "missing", unauthorized
            )
        try:
            caller = self.verifier.verify(token.strip(), audience)
        except InvalidToken as exc:
            raise _refuse(
                401,
                "login",
                "The JWT is not valid for this endpoint.",
                exc.reason,
                {"WWW-Authenticate": f'{_REALM}, error="invalid_token"'},
            ) from None
        except (KeysUnavailable, ReplayStoreUnavailable):
            raise _refuse(
                503,
                "transient",
                "The JWT cannot be checked now.",
                "check-unavailable",
                {"Retry-After": "30"},
            ) from None
        note(cds="accepted")
        return caller


def _feedback_items(body: object) -> list[dict[str, Any]]:
    items = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise _refuse(400, "structure", "feedback must be a non-empty array.", "feedback-shape")
    for item in items:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("card"), str)
            and _CARD_ID.fullmatch(item["card"]) is not None
            and item.get("outcome") in ("accepted", "overridden")
            and isinstance(item.get("outcomeTimestamp"), str)
        )
        if ok and item["outcome"] == "accepted":
            accepted = item.get("acceptedSuggestions")
            ok = isinstance(accepted, list) and all(
                isinstance(a, dict) and isinstance(a.get("id"), str) for a in accepted
            )
        if ok and item.get("overrideReason") is not None:
            ok = isinstance(item["overrideReason"], dict)
        if not ok:
            raise _refuse(400, "structure", "A feedback entry is malformed.", "feedback-shape")
    return items


def _reason_code(item: dict[str, Any]) -> str:
    """The override reason's code when it is one of ours; ``other`` or ``none`` otherwise."""
    reason = (item.get("overrideReason") or {}).get("reason")
    if not isinstance(reason, dict):
        return "none"
    if reason.get("system") == CS_OVERRIDE_REASON and reason.get("code") in _KNOWN_REASONS:
        return str(reason["code"])
    return "other"


def blueprint(settings: CdsSettings) -> Blueprint:
    """The CDS Hooks endpoints (see the module).

    Raises:
        SettingsError: when issuers are configured and the data directory (the
            seen-``jti`` store) cannot be used safely.
    """
    bp = Blueprint("cds_hooks", __name__)
    try:
        guard = _Guard(settings)
    except DataDirError as exc:
        raise SettingsError([str(exc)]) from None
    executor = ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="her2-cds-fetch")
    fetcher = FhirFetcher(executor, settings.fhir_timeout)
    CORS(
        bp,
        origins=list(settings.cors_origins),
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        supports_credentials=False,
        # Any origin: "*" itself (never an echo of the request's Origin).
        send_wildcard=settings.cors_origins == ("*",),
        max_age=600,
    )

    @bp.errorhandler(ApiError)
    def _error(exc: ApiError) -> Response:
        return _json(outcome_resource(exc.issues), exc.status, exc.headers)

    @bp.get("/cds-services")
    def discovery_endpoint() -> Response:
        guard.caller("/cds-services")
        codes = _context().application.derivation.code_map.kinds.keys()
        return _json(discovery(codes))

    @bp.post("/cds-services/<service_id>")
    def service_call(service_id: str) -> Response:
        caller = guard.caller(request.path)
        service = BY_ID.get(service_id)
        if service is None:
            raise ApiError.simple(404, "not-found", "No such CDS service.")
        context = _context()
        try:
            call = parse_call(_read_json(), service)
            answer = AnswerHook(context.application, fetcher, settings.public_url)(
                call, caller.config.allows_fhir_server, context.now()
            )
        except HookRequestError as exc:
            raise _refuse(400, "invalid", str(exc), "request-shape") from None
        except DataUnavailable as exc:
            raise _refuse(
                412,
                "not-found",
                "The patient's data could not be obtained (prefetch missing "
                "and the FHIR server not usable).",
                exc.reason,
            ) from None
        except RequestTooLarge as exc:
            raise ApiError(413, exc.issues) from None
        except EnvelopeError as exc:
            raise ApiError(400, exc.issues) from None
        note(
            cds_service=service.id,
            hook=call.hook,
            cards=len(answer.body["cards"]),
            fetched=answer.fetched,
        )
        for card in answer.body["cards"]:
            CARDS.labels(service.id, call.hook, card["indicator"]).inc()
        return _json(answer.body)

    @bp.post("/cds-services/<service_id>/feedback")
    def feedback(service_id: str) -> Response:
        guard.caller(request.path)
        if service_id not in BY_ID:
            raise ApiError.simple(404, "not-found", "No such CDS service.")
        items = _feedback_items(_read_json())
        for item in items:
            reason = _reason_code(item)
            FEEDBACK.labels(service_id, item["outcome"], reason).inc()
            log.info(
                "cds-feedback",
                extra={
                    "fields": {
                        "service": service_id,
                        "card": item["card"],
                        "outcome": item["outcome"],
                        "override_reason": reason,
                        "accepted_suggestions": len(item.get("acceptedSuggestions") or []),
                    }
                },
            )
        note(feedback=len(items))
        return _json({})

    return bp


__all__ = ["blueprint"]

"""The rest-hook notification endpoint: ``PUT|POST|DELETE /fhir-hook[/{type}/{id}]``.

It authenticates the caller (the shared secret of the Subscription's header,
compared in constant time, or a bearer token when inbound authentication is on),
checks the notification's shape, records ``(type, id, versionId)`` in the durable
queue and answers 202 at once: it never derives on the request thread (the worker
does).  An empty ``POST /fhir-hook`` (a Subscription without payload) asks the
worker for a catch-up search.  A topic-based (R4 Backport IG) notification Bundle
posted there is read too (``service.fhir.backport``): its focus resources are queued,
and a heartbeat or handshake asks for a catch-up.  Bad input gets a 4xx OperationOutcome in our own
words; a queue that cannot record gets a 503 with Retry-After, so that the FHIR
server sends the notification again.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Blueprint, Response, current_app, request

from service.api.auth import authenticate
from service.api.body import read_limited
from service.api.context import Context
from service.api.errors import ApiError
from service.api.logs import note
from service.api.responses import ACCEPTED_TYPES, fhir_response
from service.app.queue import DELETED, Notice, Queue, QueueError
from service.fhir import jsonio
from service.fhir.backport import is_backport, read_backport
from service.fhir.issues import Issue, Severity, outcome_resource
from service.fhir.subscription import (
    HOOK_PATH,
    SECRET_HEADER,
    NotificationError,
    read_changed,
    valid_id,
    valid_type,
)

HANDLED_TYPES = frozenset({"Observation"})


def _context() -> Context:
    context: Context = current_app.extensions["her2"]
    return context


def _queue(context: Context) -> Queue:
    queue = context.application.queue
    assert queue is not None  # the blueprint is registered only with a queue
    return queue


def _authenticate(context: Context) -> None:
    """The secret header, else a bearer token; 401 otherwise (before the body is read)."""
    events = context.settings.events
    secret = events.hook_secret if events is not None else None
    given = request.headers.get(SECRET_HEADER)
    if secret is not None and given is not None:
        if hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8")):
            return
        note(auth="bad-secret")
    elif context.verifier is not None and "Authorization" in request.headers:
        authenticate(context)  # raises the usual 401/503
        return
    else:
        note(auth="missing")
    raise ApiError(
        401,
        [Issue(Severity.ERROR, "login", "The notification's secret or bearer token is not valid.")],
    )


def _accepted(message: str) -> Response:
    issue = Issue(Severity.INFORMATION, "informational", message)
    return fhir_response(outcome_resource([issue]), 202)


def _enqueue(queue: Queue, notice: Notice) -> Response:
    try:
        queued = queue.enqueue(notice, time.time())
    except QueueError as exc:
        note(hook="queue-unavailable", error=str(exc))
        raise ApiError(
            503,
            [Issue(Severity.ERROR, "transient", "The notification could not be recorded.")],
            {"Retry-After": "5"},
        ) from None
    note(hook="queued" if queued else "duplicate")
    return _accepted("Queued." if queued else "Already queued or processed.")


def _body() -> Any:
    data = read_limited(_context().settings.max_body_bytes)
    if not data:
        return None
    if request.mimetype not in ACCEPTED_TYPES:
        raise ApiError.simple(415, "not-supported", "Send the resource as application/fhir+json.")
    try:
        return jsonio.loads(data)
    except jsonio.JsonError as exc:
        raise ApiError.simple(400, "structure", exc.reason) from None


def _checked_target(resource_type: str, resource_id: str) -> None:
    if not valid_type(resource_type) or not valid_id(resource_id):
        raise ApiError.simple(400, "value", "The URL does not end in a valid Type/id.")
    if resource_type not in HANDLED_TYPES:
        raise ApiError.simple(
            400, "not-supported", "Only Observation notifications are handled here."
        )


def hook_blueprint() -> Blueprint:
    """The notification endpoint at the root (beside ``/healthz``)."""
    bp = Blueprint("hook", __name__)

    @bp.post(HOOK_PATH)
    def search() -> Response:
        context = _context()
        _authenticate(context)
        body = _body()
        if body is None:
            # No payload: the receiver must search; the worker's catch-up does.
            try:
                _queue(context).request_catchup()
            except QueueError:
                raise ApiError.simple(
                    503, "transient", "The request could not be recorded."
                ) from None
            note(hook="catch-up")
            return _accepted("A catch-up search is scheduled.")
        if is_backport(body):
            return _backport(context, body)
        resource_type = body.get("resourceType") if isinstance(body, dict) else None
        resource_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(resource_type, str) or not isinstance(resource_id, str):
            raise ApiError.simple(
                400, "structure", "The notification body must be a resource with an id."
            )
        return _resource(context, resource_type, resource_id, body)

    @bp.route(f"{HOOK_PATH}/<resource_type>/<resource_id>", methods=["PUT", "POST"])
    def changed(resource_type: str, resource_id: str) -> Response:
        context = _context()
        _authenticate(context)
        _checked_target(resource_type, resource_id)
        return _resource(context, resource_type, resource_id, _body())

    @bp.delete(f"{HOOK_PATH}/<resource_type>/<resource_id>")
    def deleted(resource_type: str, resource_id: str) -> Response:
        context = _context()
        _authenticate(context)
        _checked_target(resource_type, resource_id)
        return _enqueue(_queue(context), Notice(resource_type, resource_id, DELETED))

    return bp


def _backport(context: Context, body: dict[str, Any]) -> Response:
    """A topic-based notification: enqueue its focus; a heartbeat or handshake catches up.

    Event numbers are not tracked: instead every heartbeat (and the handshake) asks
    for a catch-up search, which finds whatever a gap in the events left out.
    """
    try:
        notification = read_backport(body)
    except NotificationError as exc:
        raise ApiError.simple(400, "invalid", str(exc)) from None
    queue = _queue(context)
    if notification.kind != "event-notification":
        try:
            queue.request_catchup()
        except QueueError:
            raise ApiError.simple(
                503, "transient", "The notification could not be recorded."
            ) from None
        note(hook=notification.kind)
        return _accepted("Acknowledged; a catch-up search is scheduled.")
    for focus in notification.focus:
        _checked_target(focus.resource_type, focus.resource_id)
    response = _accepted("Nothing to queue.")
    for focus in notification.focus:
        notice = Notice(focus.resource_type, focus.resource_id, focus.version, focus.patient_id)
        response = _enqueue(queue, notice)
    return response


def _resource(context: Context, resource_type: str, resource_id: str, body: Any) -> Response:
    _checked_target(resource_type, resource_id)
    if body is None:
        # An id without the resource: the worker reads it.
        return _enqueue(_queue(context), Notice(resource_type, resource_id))
    try:
        changed = read_changed(body, resource_type, resource_id)
    except NotificationError as exc:
        raise ApiError.simple(400, "invalid", str(exc)) from None
    return _enqueue(
        _queue(context), Notice(resource_type, resource_id, changed.version, changed.patient_id)
    )


def queue_status(context: Context) -> dict[str, Any]:
    """The ``/readyz`` fields of the event-driven mode (empty when it is off).

    Raises:
        QueueError: when the queue cannot be read.
    """
    queue = context.application.queue
    if queue is None:
        return {}
    stats = queue.stats(time.time())
    return {
        "queue": {
            "depth": stats.depth,
            "oldest_pending_seconds": stats.oldest_pending_seconds,
            "parked": stats.parked,
            "watermark": stats.watermark,
            "worker_seen_seconds": stats.worker_seen_seconds,
        }
    }


__all__ = ["HANDLED_TYPES", "hook_blueprint", "queue_status"]

"""The decision view's pages at the root: ``/view`` (paste or upload a request).

``GET /view`` is the form; ``POST /view`` derives the request exactly as the
stateless ``$her2-status`` does (the same reader, caps and rules, no FHIR server)
and shows the result.  A refused request gives the form again with the same status
and issues the API would give, and never the request itself.

Cross-site posts are refused (403) when the browser names another origin: the
derivation is stateless, but a page elsewhere must not drive it.  With inbound
authentication on, the form needs the view's login, as the stateless operation needs
a token (``service.api.view_smart``, which also serves ``/view/Patient/…``).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from service.api.context import Context
from service.api.html import html_response, nonce, start_html
from service.api.logs import note
from service.api.origin import same_origin
from service.api.view_smart import login_required
from service.fhir import jsonio
from service.fhir.envelope import EnvelopeError, RequestTooLarge
from service.fhir.issues import Issue, Severity
from service.view import render_derivation, render_form


def _context() -> Context:
    context: Context = current_app.extensions["her2"]
    return context


def _request_bytes(limit: int) -> bytes:
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        return upload.stream.read(limit + 1)
    return request.form.get("request", "").encode("utf-8")


def _refused(status: int, issues: list[Issue]) -> Response:
    return html_response(render_form(nonce(), issues, status), status)


def view_blueprint() -> Blueprint:
    """``/view``: the form and its result."""
    bp = Blueprint("view", __name__)
    bp.before_request(start_html)

    @bp.get("/view")
    def form() -> Response:
        return login_required("/view") or html_response(render_form(nonce()))

    @bp.post("/view")
    def submit() -> Response:
        same_origin()
        refused = login_required("/view")
        if refused is not None:
            return refused
        context = _context()
        limit = context.settings.max_body_bytes
        data = _request_bytes(limit)
        if len(data) > limit:
            return _refused(
                413,
                [Issue(Severity.ERROR, "too-costly", "The request is larger than the limit.")],
            )
        if not data.strip():
            return _refused(
                400,
                [Issue(Severity.ERROR, "required", "Paste a FHIR JSON request or choose a file.")],
            )
        try:
            payload = jsonio.loads(data)
        except jsonio.JsonError as exc:
            # The reader's fixed sentence, never the JSON parser's message (it quotes).
            return _refused(400, [Issue(Severity.ERROR, "structure", exc.reason)])
        try:
            derivation = context.application.derive(payload, context.now())
        except RequestTooLarge as exc:
            return _refused(413, exc.issues)
        except EnvelopeError as exc:
            return _refused(400, exc.issues)
        note(groups=len(derivation.derived), issues=len(derivation.issues))
        if not derivation.usable:
            return _refused(422, derivation.issues)
        links = [("/view", "New request")]
        return html_response(render_derivation(derivation, nonce(), "HER2 status", links))

    return bp


__all__ = ["view_blueprint"]

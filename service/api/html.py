"""HTML answers: when one is wanted, and the security headers every page carries.

The two ``$her2-status`` operations answer HTML (the decision view of the same
Bundle) when ``Accept`` prefers ``text/html`` to FHIR JSON (a browser's default
``Accept`` does) or ``_format=html``; JSON stays the default (``*/*``, no
``Accept``, or a tie).  The view's own pages (``/view``) are always HTML, and so are
their errors.

Every page is a single document without script: its stylesheet is inline and
allowed by a nonce, so the Content-Security-Policy can refuse everything else
(``default-src 'none'``), including being framed (``frame-ancestors 'none'``).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Final

from flask import Response, g, request

from service.api.responses import ACCEPTED_TYPES
from service.fhir.issues import Issue
from service.view import render_error

HTML_ENDPOINTS: Final = frozenset({"fhir.stateless", "fhir.patient"})
_HTML: Final = frozenset({"text/html", "application/xhtml+xml"})
_JSON: Final = frozenset({*ACCEPTED_TYPES, "*/*", "application/*"})


def prefers_html() -> bool:
    """Whether the request asks for HTML rather than FHIR JSON (ties go to JSON)."""
    requested = request.args.get("_format")
    if requested is not None:
        return requested.strip().lower() in ("html", "text/html")
    html_q = json_q = 0.0
    for value, quality in request.accept_mimetypes:
        mime = value.split(";", 1)[0].strip().lower()
        if mime in _HTML or mime == "text/*":
            html_q = max(html_q, quality)
        if mime in _JSON:
            json_q = max(json_q, quality)
    return html_q > json_q


def start_html() -> None:
    """Mark the request as answered in HTML (its errors too) and make its CSP nonce."""
    g.her2_html = True
    g.her2_nonce = secrets.token_urlsafe(18)


def wants_html_answer() -> bool:
    """Whether this request's answers, errors included, are HTML pages."""
    return bool(g.get("her2_html", False))


def nonce() -> str:
    """The CSP nonce of this response."""
    if "her2_nonce" not in g:
        start_html()
    value: str = g.her2_nonce
    return value


def html_response(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An HTML page with the security headers (CSP with this request's nonce)."""
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce()}'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on
    # the form's own post, which the cross-site check must refuse.
    response.headers["Referrer-Policy"] = "same-origin"
    # Patient results: never kept by a shared cache or the browser's history cache.
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_page(status: int, issues: Sequence[Issue], headers: dict[str, str]) -> Response:
    """The API's error (same status, same issues, same headers) as an HTML page."""
    kept = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return html_response(render_error(nonce(), status, issues), status, kept)


__all__ = [
    "HTML_ENDPOINTS",
    "error_page",
    "html_response",
    "nonce",
    "prefers_html",
    "start_html",
    "wants_html_answer",
]

"""``/view/Patient/{id}``: the decision view of a patient on the configured FHIR server.

A SMART on FHIR app (standalone launch): ``/view/login`` sends the browser to the
issuer (``HER2_AUTH_ISSUER``) with an authorization code request and a PKCE S256
challenge; ``/view/callback`` checks ``state``, exchanges the code, and checks the
access token with the service's own verifier (signature, issuer, audience, times)
before anything is kept.  The session (a signed, HttpOnly, SameSite=Lax cookie,
Secure with an https redirect URL) keeps only the grant (scopes, the token's
``patient``, subject, expiry), never a token.  A patient page is allowed exactly
as the Patient-level operation is: the token's ``patient`` claim with a
``patient/`` read scope, or a ``system``/``user`` read scope for any patient.
``POST /view/logout`` ends the session.

With authentication off (``HER2_AUTH=off``) the page needs no login, as the
operation needs no token.  Each page view leaves the Patient-level audit record.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import replace
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request, session

from service.api import audit
from service.api.auth import authorize
from service.api.context import Context
from service.api.errors import ApiError
from service.api.html import html_response, nonce, start_html
from service.api.logs import note
from service.api.origin import same_origin
from service.auth import Access, Grant, InvalidToken, KeysUnavailable
from service.clients.smart_app import LoginError, SmartApp, pkce_pair
from service.fhir.issues import Issue, Severity
from service.settings import Settings
from service.view import render_derivation, render_logged_out

_RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NEXT = re.compile(r"/view(/Patient/[A-Za-z0-9\-.]{1,64})?")
_EXTENSION = "her2_view_login"


def _context() -> Context:
    context: Context = current_app.extensions["her2"]
    return context


def _app() -> SmartApp | None:
    app: SmartApp | None = current_app.extensions.get(_EXTENSION)
    return app


def configure(app: Flask, settings: Settings) -> None:
    """The session cookie and the SMART client (when ``HER2_VIEW_CLIENT_ID`` is set)."""
    view = settings.view
    app.config.update(
        SESSION_COOKIE_NAME="her2_view",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # Strict would drop it on the issuer's redirect back
        SESSION_COOKIE_SECURE=view.secure_cookie,
        SESSION_COOKIE_PATH="/view",
        PERMANENT_SESSION_LIFETIME=view.session_minutes * 60,
    )
    if view.login and settings.auth.issuer and view.redirect_url and view.client_id:
        app.secret_key = view.session_secret
        app.extensions[_EXTENSION] = SmartApp(
            settings.auth.issuer,
            view.client_id,
            view.redirect_url,
            view.scopes,
            view.client_secret,
        )


def _redirect(location: str, status: int = 303) -> Response:
    response = Response(status=status, headers={"Location": location})
    response.headers["Cache-Control"] = "no-store"
    return response


def _grant_to_session(grant: Grant, expires: float) -> None:
    session.clear()
    session.permanent = True
    session["grant"] = {
        "system": "".join(sorted(grant.system)),
        "patient": "".join(sorted(grant.patient)),
        "patient_id": grant.patient_id,
        "client_id": grant.client_id,
        "subject": grant.subject,
        "exp": int(expires),
    }


def session_grant() -> Grant | None:
    """The logged-in grant, or None (no session, or its token has expired)."""
    if _app() is None:
        return None
    data: Any = session.get("grant")
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
        return None
    if data["exp"] <= time.time():
        session.clear()
        return None
    return Grant(
        frozenset(data.get("system") or ""),
        frozenset(data.get("patient") or ""),
        data.get("patient_id"),
        data.get("client_id"),
        data.get("subject"),
    )


def _login_needed(next_path: str) -> Response:
    if _app() is None:
        raise ApiError(
            401,
            [
                Issue(
                    Severity.ERROR,
                    "login",
                    "Authentication is on but the view's login is not configured "
                    "(HER2_VIEW_CLIENT_ID); use the operation with a bearer token.",
                )
            ],
        )
    session.clear()
    session["next"] = next_path
    return _redirect("/view/login", 303)


def login_required(next_path: str) -> Response | None:
    """None when the page may be shown; else the way to the login (or a 401 page).

    With inbound authentication on, every view page needs the login, as every
    operation needs a token; with it off, none does.
    """
    if _context().verifier is None or session_grant() is not None:
        return None
    return _login_needed(next_path)


def _page(patient_id: str, grant: Grant | None) -> Response:
    context = _context()
    patients = context.application.patients
    if patients is None:
        raise ApiError.simple(
            400,
            "not-supported",
            "No FHIR server is configured; paste a request at /view instead.",
        )
    _, derivation = patients.derive(patient_id, context.now())
    note(groups=len(derivation.derived), issues=len(derivation.issues))
    audit.record(persist=False, written=0)
    if not derivation.usable:
        raise ApiError(422, derivation.issues)
    links = [("/view", "Paste a request")]
    user = None
    if grant is not None:
        user = grant.subject or "(unnamed)"
    page = render_derivation(
        derivation, nonce(), f"HER2 status of Patient/{patient_id}", links, user
    )
    return html_response(page)


def view_smart_blueprint() -> Blueprint:
    """The SMART app's pages: patient view, login, callback, logout."""
    bp = Blueprint("view_smart", __name__)
    bp.before_request(start_html)

    @bp.get("/view/Patient/<patient_id>")
    def patient_page(patient_id: str) -> Response:
        if not _RESOURCE_ID.fullmatch(patient_id):
            raise ApiError.simple(400, "value", "The patient id is not a valid FHIR id.")
        grant = None
        if _context().verifier is not None:
            grant = session_grant()
            if grant is None:
                # Not an access yet: the browser is sent to log in (no audit record).
                return _login_needed(f"/view/Patient/{patient_id}")
        audit.begin(patient_id)
        audit.caller(grant)
        if grant is not None:
            authorize(grant, Access.READ, patient_id)
        return _page(patient_id, grant)

    @bp.get("/view/patient")
    def launch_patient() -> Response:
        """The patient of the login's launch context (the token's ``patient``)."""
        grant = session_grant()
        if grant is None:
            return _login_needed("/view/patient")
        if grant.patient_id is None or not _RESOURCE_ID.fullmatch(grant.patient_id):
            raise ApiError.simple(
                400, "not-found", "The login carries no patient; open /view/Patient/{id}."
            )
        return _redirect(f"/view/Patient/{grant.patient_id}", 303)

    @bp.get("/view/login")
    def login() -> Response:
        app = _app()
        if app is None:
            raise ApiError.simple(404, "not-found", "The view's login is not configured.")
        next_path = session.get("next")
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(32)
        session.clear()  # a new login never inherits an earlier session (fixation)
        session["login"] = {"state": state, "verifier": verifier, "next": next_path}
        settings = _context().settings
        try:
            target = app.authorization_url(state, challenge, settings.fhir_base_url)
        except LoginError as exc:
            status = 503 if exc.transient else 502
            raise ApiError.simple(status, "security", exc.public_message) from None
        return _redirect(target, 302)

    @bp.get("/view/callback")
    def callback() -> Response:
        app = _app()
        pending: Any = session.pop("login", None)
        if app is None or not isinstance(pending, dict):
            raise ApiError.simple(400, "login", "No login is under way; start again.")
        state = request.args.get("state", "")
        if not hmac.compare_digest(state.encode(), str(pending.get("state", "")).encode()):
            note(view="state-mismatch")
            raise ApiError.simple(400, "login", "The login answer does not match; start again.")
        if "error" in request.args or "code" not in request.args:
            note(view="login-refused")
            raise ApiError.simple(403, "login", "The login was refused or cancelled.")
        try:
            tokens = app.exchange(request.args["code"], str(pending.get("verifier", "")))
        except LoginError as exc:
            status = 503 if exc.transient else 403
            raise ApiError.simple(status, "login", exc.public_message) from None
        verifier = _context().verifier
        if verifier is None:
            raise ApiError.simple(400, "login", "Authentication is off: no login is needed.")
        try:
            grant, expires = verifier.check(tokens.access_token)
        except InvalidToken as exc:
            note(auth=exc.reason)
            raise ApiError.simple(
                403, "login", "The login server's token is not valid here."
            ) from None
        except KeysUnavailable:
            raise ApiError.simple(
                503, "transient", "The token issuer's keys cannot be read."
            ) from None
        if grant.patient_id is None and tokens.patient and _RESOURCE_ID.fullmatch(tokens.patient):
            # SMART puts the launch patient beside the token; the issuer said it directly.
            grant = replace(grant, patient_id=tokens.patient)
        limit = time.time() + _context().settings.view.session_minutes * 60
        _grant_to_session(grant, min(expires, limit))
        next_path = pending.get("next")
        if not isinstance(next_path, str) or not _NEXT.fullmatch(next_path):
            next_path = "/view/patient"
        return _redirect(next_path, 303)

    @bp.post("/view/logout")
    def logout() -> Response:
        same_origin()
        if _app() is not None:  # without a secret there is no session to end
            session.clear()
        # A page of its own: /view itself needs the login again when authentication is on.
        return html_response(render_logged_out(nonce()))

    return bp


__all__ = ["configure", "login_required", "session_grant", "view_smart_blueprint"]

"""Settings of the decision view's SMART on FHIR login (``HER2_VIEW_*``).

The view at ``/view/Patient/{id}`` is a SMART app: a standalone launch with the
authorization code flow and PKCE against the service's token issuer
(``HER2_AUTH_ISSUER``).  Login is on when ``HER2_VIEW_CLIENT_ID`` is set; then the
session cookie's signing secret and the registered redirect URL are required, and
the service refuses to start without them (secure by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_SCOPES = "openid launch/patient patient/Observation.rs"
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class ViewSettings:
    """The view's login (SMART standalone launch).

    Attributes:
        client_id: the view's client id at the issuer (None: no login).
        client_secret: its secret when the client is confidential (None: public, PKCE).
        session_secret: signs the session cookie (at least 32 characters).
        redirect_url: the registered redirect URI, ``https://…/view/callback``.
        scopes: what the view asks for.
        session_minutes: the longest a session lives (never past the token's expiry).
    """

    client_id: str | None = None
    client_secret: str | None = None
    session_secret: str | None = None
    redirect_url: str | None = None
    scopes: str = DEFAULT_SCOPES
    session_minutes: int = 60

    @property
    def login(self) -> bool:
        """Whether the SMART login is configured."""
        return self.client_id is not None

    @property
    def secure_cookie(self) -> bool:
        """Whether the session cookie is sent over HTTPS only (an https redirect URL)."""
        return (self.redirect_url or "").startswith("https://")

    def problems(self, issuer: str | None) -> list[str]:
        """Why this configuration must not start (empty when it may)."""
        if not self.login:
            return []
        found = []
        if issuer is None:
            found.append("HER2_VIEW_CLIENT_ID needs HER2_AUTH_ISSUER (the view logs in there)")
        if self.session_secret is None or len(self.session_secret) < MIN_SECRET_LENGTH:
            found.append(
                f"HER2_VIEW_SESSION_SECRET of at least {MIN_SECRET_LENGTH} characters is "
                "required with HER2_VIEW_CLIENT_ID"
            )
        parts = urlsplit(self.redirect_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            found.append(
                "HER2_VIEW_REDIRECT_URL (an http(s) URL) is required with HER2_VIEW_CLIENT_ID"
            )
        elif parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            found.append("HER2_VIEW_REDIRECT_URL must be https (http only on loopback)")
        return found


def view_settings_from(text: Callable[[str], str | None]) -> ViewSettings:
    """The ``HER2_VIEW_*`` variables (checked by ``ViewSettings.problems``)."""
    minutes = text("HER2_VIEW_SESSION_MINUTES")
    return ViewSettings(
        client_id=text("HER2_VIEW_CLIENT_ID"),
        client_secret=text("HER2_VIEW_CLIENT_SECRET"),
        session_secret=text("HER2_VIEW_SESSION_SECRET"),
        redirect_url=text("HER2_VIEW_REDIRECT_URL"),
        scopes=text("HER2_VIEW_SCOPES") or DEFAULT_SCOPES,
        session_minutes=int(minutes) if minutes and minutes.isdigit() and int(minutes) > 0 else 60,
    )


__all__ = ["DEFAULT_SCOPES", "ViewSettings", "view_settings_from"]

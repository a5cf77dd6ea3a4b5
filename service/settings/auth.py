"""Inbound bearer tokens: ``HER2_AUTH`` and the ``HER2_AUTH_*`` variables."""

from __future__ import annotations

from dataclasses import dataclass

from service.settings.env import Env, http_url


@dataclass(frozen=True)
class AuthSettings:
    """Inbound bearer tokens (the service as an OAuth 2.0 / SMART resource server).

    Attributes:
        issuer: the expected ``iss`` of access tokens (None: not configured).
        jwks_url: where the issuer publishes its signing keys (JWKS).
        audience: the expected ``aud`` (this service's identifier at the issuer).
        token_url: the issuer's token endpoint, only stated in ``/metadata``.
        disabled: ``HER2_AUTH=off``: no token is checked even when configured.
    """

    issuer: str | None = None
    jwks_url: str | None = None
    audience: str | None = None
    token_url: str | None = None
    disabled: bool = False

    @classmethod
    def off(cls) -> AuthSettings:
        """Authentication switched off explicitly (``HER2_AUTH=off``)."""
        return cls(disabled=True)

    @property
    def enabled(self) -> bool:
        """Whether every protected endpoint needs a valid token."""
        return not self.disabled and self.issuer is not None


def auth_settings(env: Env) -> AuthSettings:
    """``HER2_AUTH`` (on/off) and the ``HER2_AUTH_*`` variables."""
    switch = (env.text("HER2_AUTH") or "").lower()
    if switch not in ("", "on", "off"):
        env.problems.append("HER2_AUTH must be on or off")
    issuer = http_url(env, "HER2_AUTH_ISSUER")
    jwks_url = http_url(env, "HER2_AUTH_JWKS_URL")
    token_url = http_url(env, "HER2_AUTH_TOKEN_URL")
    audience = env.text("HER2_AUTH_AUDIENCE")
    if switch == "off":
        return AuthSettings.off()
    if switch == "on" and issuer is None:
        env.problems.append("HER2_AUTH=on needs HER2_AUTH_ISSUER")
    if issuer is not None:
        if jwks_url is None:
            env.problems.append("HER2_AUTH_JWKS_URL is required with HER2_AUTH_ISSUER")
        if audience is None:
            env.problems.append("HER2_AUTH_AUDIENCE is required with HER2_AUTH_ISSUER")
    elif jwks_url is not None or audience is not None or token_url is not None:
        env.problems.append("HER2_AUTH_* variables are set but HER2_AUTH_ISSUER is not")
    return AuthSettings(issuer, jwks_url, audience, token_url)

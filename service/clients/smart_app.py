"""The decision view as a SMART on FHIR app: standalone launch, authorization code + PKCE.

``SmartApp`` discovers the issuer's endpoints (``/.well-known/smart-configuration``,
else ``/.well-known/openid-configuration``, as Keycloak serves), builds the
authorization request with a PKCE S256 challenge (RFC 7636) and a ``state``, and
exchanges the returned code for tokens.  What the tokens allow is decided by the
caller with the service's own token verifier, never here.  Tokens, codes and
verifiers never reach a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests


class LoginError(Exception):
    """The login cannot go on; ``public_message`` is safe to show."""

    def __init__(self, public_message: str, transient: bool = False) -> None:
        super().__init__(public_message)
        self.public_message = public_message
        self.transient = transient


@dataclass(frozen=True)
class Endpoints:
    """The issuer's endpoints the app uses."""

    authorization: str
    token: str


@dataclass(frozen=True)
class Tokens:
    """The token endpoint's answer (only what the view needs)."""

    access_token: str
    patient: str | None
    expires_in: int | None


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier (64 random bytes, base64url) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SmartApp:
    """One client at one issuer; endpoints are discovered once and kept."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        redirect_url: str,
        scopes: str,
        client_secret: str | None = None,
        timeout: tuple[float, float] = (3.05, 10.0),
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.redirect_url = redirect_url
        self.scopes = scopes
        self.client_secret = client_secret
        self.timeout = timeout
        self._endpoints: Endpoints | None = None
        self._lock = threading.Lock()

    def _get_json(self, url: str) -> dict[str, Any] | None:
        try:
            response = requests.get(
                url, timeout=self.timeout, headers={"Accept": "application/json"}
            )
        except requests.RequestException:
            raise LoginError("The login server cannot be reached.", transient=True) from None
        if response.status_code == 404:
            return None
        try:
            body = response.json() if response.ok else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise LoginError("The login server's configuration cannot be read.", transient=True)
        return body

    def endpoints(self) -> Endpoints:
        """The authorization and token endpoints (discovered on first use).

        Raises:
            LoginError: when the issuer's configuration cannot be read.
        """
        with self._lock:
            if self._endpoints is not None:
                return self._endpoints
        config = self._get_json(f"{self.issuer}/.well-known/smart-configuration")
        if config is None:
            config = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        authorization = (config or {}).get("authorization_endpoint")
        token = (config or {}).get("token_endpoint")
        if not (isinstance(authorization, str) and isinstance(token, str)):
            raise LoginError("The login server names no authorization or token endpoint.")
        found = Endpoints(authorization, token)
        with self._lock:
            self._endpoints = found
        return found

    def authorization_url(self, state: str, challenge: str, audience: str | None) -> str:
        """Where to send the browser to log in (SMART App Launch, standalone)."""
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_url,
            "scope": self.scopes,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if audience:
            params["aud"] = audience
        endpoint = self.endpoints().authorization
        separator = "&" if "?" in endpoint else "?"
        return endpoint + separator + urlencode(params)

    def exchange(self, code: str, verifier: str) -> Tokens:
        """The tokens for an authorization code.

        Raises:
            LoginError: when the token endpoint refuses or cannot be reached.
        """
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_url,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        try:
            response = requests.post(
                self.endpoints().token, data=form, auth=auth, timeout=self.timeout
            )
        except requests.RequestException:
            raise LoginError("The login server cannot be reached.", transient=True) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.ok or not isinstance(body, dict):
            raise LoginError("The login server refused the login.")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise LoginError("The login server gave no access token.")
        patient = body.get("patient")
        expires = body.get("expires_in")
        return Tokens(
            token,
            patient if isinstance(patient, str) and patient else None,
            expires if isinstance(expires, int) and not isinstance(expires, bool) else None,
        )


__all__ = ["Endpoints", "LoginError", "SmartApp", "Tokens", "pkce_pair"]

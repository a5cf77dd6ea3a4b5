"""Outbound SMART Backend Services (SMART App Launch 2.2): access tokens for the FHIR server.

The service authenticates to the EHR's authorization server with a signed JWT
client assertion (``private_key_jwt``) and the ``client_credentials`` grant:

- the token endpoint is ``HER2_FHIR_TOKEN_URL``, or ``token_endpoint`` of
  ``[base]/.well-known/smart-configuration`` (read once, on first use);
- the assertion: ``iss`` = ``sub`` = client id, ``aud`` = token endpoint, ``exp``
  at most 5 minutes ahead, a fresh ``jti``, header ``kid`` and ``typ: JWT``;
- the token request is a POST with explicit timeouts, never retried by the transport;
- the access token is cached until shortly before ``expires_in`` (the smaller of
  30 s and 10 % of its life), shared by the threads of a worker under a lock;
- ``renew(stale)`` drops the cached token after a 401 (only if it is still the one
  that failed, so concurrent 401s fetch one new token).

The signing key may be given as a loader (``SmartBackendTokens.from_file``): it is
then read when the first assertion is signed, not at start, and kept once read.  A
key file that has become unreadable since the start's check raises
``FhirAuthMisconfigured`` (an answer of 503 naming the configuration problem, one
log line without the file's path in the answer) and is tried again on the next
token request, so that restoring the file is enough.

Neither the token nor the assertion is ever logged or put into an exception.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests

from service.clients.errors import (
    FhirAuthInvalidAnswer,
    FhirAuthMisconfigured,
    FhirAuthRefused,
    FhirAuthUnavailable,
)
from service.clients.keys import KeyFileError, SigningKey, load_signing_key
from service.fhir import jsonio
from service.fhir.issues import Issue, Severity

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 300  # SMART: exp no more than five minutes in the future
DEFAULT_EXPIRES_IN = 300  # when the token answer does not say
MAX_REFRESH_MARGIN = 30.0
_OAUTH_ERROR = re.compile(r"[a-z_]{1,40}")
_LOG = logging.getLogger("her2.auth")

KeyLoader = Callable[[], SigningKey]
"""Reads the signing key (``load_signing_key``); raises ``KeyFileError``."""


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # on the monotonic clock


def _http_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def refresh_margin(expires_in: float) -> float:
    """Seconds before expiry at which a token is renewed: min(30 s, 10 % of its life)."""
    return min(MAX_REFRESH_MARGIN, expires_in * 0.1)


class SmartBackendTokens:
    """Access tokens for one FHIR server, by the client credentials grant."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        key: SigningKey | KeyLoader,
        scopes: str,
        token_url: str | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 30.0,
        assertion_lifetime: int = 240,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._key = key if isinstance(key, SigningKey) else None
        self._load_key = None if isinstance(key, SigningKey) else key
        self.scopes = scopes
        self.token_url = token_url
        self.timeout = (connect_timeout, read_timeout)
        self.assertion_lifetime = min(assertion_lifetime, MAX_ASSERTION_LIFETIME)
        self.clock = clock
        self.wall_clock = wall_clock
        # Its own session: no bearer token, no retries, no redirects.
        self.session = session or requests.Session()
        self.session.max_redirects = 0
        self._lock = threading.Lock()
        self._token: _Token | None = None

    @classmethod
    def from_file(
        cls, base_url: str, client_id: str, key_file: Path, key_id: str, scopes: str, **kwargs: Any
    ) -> SmartBackendTokens:
        """Tokens signed with the key of ``key_file``, read when first needed."""
        return cls(
            base_url, client_id, lambda: load_signing_key(key_file, key_id), scopes, **kwargs
        )

    def __repr__(self) -> str:
        return f"SmartBackendTokens(client_id={self.client_id!r}, key={self._key!r})"

    @property
    def key(self) -> SigningKey:
        """The signing key (read on first use when given as a loader).

        Raises:
            FhirAuthMisconfigured: the key file cannot be read or used any more.
        """
        if self._key is None:
            assert self._load_key is not None
            try:
                self._key = self._load_key()
            except KeyFileError as exc:
                # For the operator: the problem (it may name the file), never key
                # material (KeyFileError never carries any), and no traceback.
                _LOG.error(
                    "SMART Backend Services signing key (HER2_FHIR_PRIVATE_KEY) unusable",
                    extra={"fields": {"problem": str(exc)}},
                )
                raise FhirAuthMisconfigured("signing key unusable") from None
        return self._key

    # -- the public interface of a token source (see FhirClient) --

    def token(self) -> str:
        """The current access token, fetched when there is none or it is about to expire.

        Raises:
            FhirAuthRefused: the token endpoint answered 4xx.
            FhirAuthUnavailable: it could not be reached, timed out or answered 5xx.
            FhirAuthInvalidAnswer: discovery or the token answer was unusable.
            FhirAuthMisconfigured: the signing key file cannot be read any more.
        """
        with self._lock:
            current = self._token
            if current is None or self.clock() >= current.refresh_at:
                current = self._token = self._fetch()
            return current.value

    def renew(self, stale: str | None) -> None:
        """Forget ``stale`` (a token the FHIR server answered 401 to), if still cached."""
        with self._lock:
            if self._token is not None and (stale is None or self._token.value == stale):
                self._token = None

    # -- internals --

    def _get(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException:
            raise FhirAuthUnavailable("authorization server unreachable") from None

    def endpoint(self) -> str:
        """The token endpoint: configured, or discovered once from the SMART configuration."""
        if self.token_url is not None:
            return self.token_url
        response = self._get(
            "GET",
            f"{self.base_url}/.well-known/smart-configuration",
            headers={"Accept": "application/json"},
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise FhirAuthUnavailable(
                f"discovery HTTP {response.status_code}",
                response.status_code,
                None,
                response.headers.get("Retry-After"),
            )
        try:
            body = jsonio.loads(response.content) if response.status_code == 200 else None
        except ValueError:
            body = None
        url = _http_url(body.get("token_endpoint")) if isinstance(body, dict) else None
        if url is None:
            raise FhirAuthInvalidAnswer("no token_endpoint in the SMART configuration")
        self.token_url = url
        return url

    def assertion(self, audience: str) -> str:
        """A signed client assertion for ``audience`` (the token endpoint)."""
        key = self.key
        now = int(self.wall_clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + self.assertion_lifetime,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(
            claims,
            key.key,
            algorithm=key.alg,
            headers={"kid": key.kid, "typ": "JWT"},
        )

    def _fetch(self) -> _Token:
        url = self.endpoint()
        started = self.clock()
        response = self._get(
            "POST",
            url,
            data={
                "grant_type": "client_credentials",
                "scope": self.scopes,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.assertion(url),
            },
            headers={"Accept": "application/json"},
        )
        status = response.status_code
        try:
            body: Any = jsonio.loads(response.content) if response.content else None
        except ValueError:
            body = None
        if status >= 500 or status == 429:
            raise FhirAuthUnavailable(
                f"token endpoint HTTP {status}", status, None, response.headers.get("Retry-After")
            )
        if status >= 400:
            raise FhirAuthRefused(f"token endpoint HTTP {status}", status, _oauth_issues(body))
        if status != 200 or not isinstance(body, dict):
            raise FhirAuthInvalidAnswer(f"token endpoint HTTP {status}", status)
        value = body.get("access_token")
        token_type = body.get("token_type")
        expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN)
        if (
            not isinstance(value, str)
            or not value
            or not isinstance(token_type, str)
            or token_type.lower() != "bearer"
            or isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or expires_in <= 0
        ):
            raise FhirAuthInvalidAnswer("unusable token answer", status)
        return _Token(value, started + expires_in - refresh_margin(expires_in))


def _oauth_issues(body: Any) -> list[Issue]:
    """The OAuth ``error`` code of a refusal (a registered word, never a description)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and _OAUTH_ERROR.fullmatch(error):
        return [Issue(Severity.ERROR, "security", f"authorization server: {error}")]
    return []


__all__ = ["SmartBackendTokens", "refresh_margin"]

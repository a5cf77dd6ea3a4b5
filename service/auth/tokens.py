"""JWT access tokens checked against the issuer's published keys.

Only RS256, RS384, ES256 and ES384 are accepted: ``none`` and HMAC never (an HMAC
token "signed" with a public key is the classic confusion attack), and a key only
verifies the algorithm it is bound to (its JWK ``alg``, else RS256 for RSA and the
curve's for EC).  ``exp`` and ``iat`` are required, ``nbf`` checked when present,
all with ``LEEWAY`` seconds for clock skew.  No message of these errors carries the
token or its claims.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final, Protocol

import jwt

from service.auth.scopes import Grant

ALGORITHMS: Final = ("RS256", "RS384", "ES256", "ES384")
LEEWAY: Final = 30
# An unknown kid refreshes the key set at most once per this many seconds.
REFRESH_COOLDOWN: Final = 60.0


class InvalidToken(Exception):
    """The token is not acceptable; ``reason`` is a fixed word for the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# PyJWT's errors → the fixed words of the logs and the audit record (most specific first).
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidIssuerError, "issuer"),
    (jwt.InvalidAudienceError, "audience"),
    (jwt.InvalidSignatureError, "signature"),
    (jwt.MissingRequiredClaimError, "missing-claim"),
)


def rejection(exc: jwt.PyJWTError) -> InvalidToken:
    """The refusal for a token PyJWT did not accept, named by a fixed word (never its text)."""
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return InvalidToken(reason)
    return InvalidToken("invalid")


class KeysUnavailable(Exception):
    """The issuer's key set could not be read (the token cannot be checked now)."""


class KeySource(Protocol):
    """Where the verification key of a ``kid`` comes from."""

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The signing key with this ``kid`` (None: not published).

        Raises:
            KeysUnavailable: when the key set cannot be read.
        """
        ...


class JwksKeys:
    """The issuer's JWKS, cached by PyJWT's ``PyJWKClient``.

    The set is read on first use and again after ``lifespan`` seconds; an unknown
    ``kid`` forces a new read, but never sooner than ``cooldown`` seconds after the
    last one, so a stream of made-up kids cannot turn into a stream of fetches.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        lifespan: float = 300.0,
        cooldown: float = REFRESH_COOLDOWN,
    ) -> None:
        self._client = jwt.PyJWKClient(
            url,
            cache_jwk_set=True,
            lifespan=lifespan,
            timeout=timeout,
            cooldown_duration=cooldown,
        )
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The signing key with this ``kid`` (see the class)."""
        with self._lock:
            try:
                return self._client.get_signing_key(kid)
            except jwt.PyJWKClientConnectionError:
                raise KeysUnavailable() from None
            except jwt.PyJWKClientError:
                # No such kid (after the allowed refresh), or no signing key at all.
                return None


class TokenVerifier:
    """Checks access tokens of one issuer for one audience.

    A token that passed is remembered (by its SHA-256, never the token itself) until
    its ``exp``: integration engines send the same token with every call for minutes,
    and an ES384 signature check costs about 0.9 ms of CPU (``bench/RESULTS.md``).
    The memory is bounded (``CACHE_SIZE``, oldest first out).
    """

    CACHE_SIZE: Final = 4096

    def __init__(
        self,
        issuer: str,
        audience: str,
        keys: KeySource,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._keys = keys
        self._clock = clock
        self._passed: OrderedDict[bytes, tuple[Grant, float]] = OrderedDict()
        self._passed_lock = threading.Lock()

    def verify(self, token: str) -> Grant:
        """The grant of a valid token (remembered until it expires).

        Raises:
            InvalidToken: see ``check``.
            KeysUnavailable: when the issuer's keys cannot be read.
        """
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        with self._passed_lock:
            known = self._passed.get(digest)
            if known is not None and now < known[1]:
                return known[0]
        grant, expires = self.check(token)
        with self._passed_lock:
            self._passed[digest] = (grant, expires)
            self._passed.move_to_end(digest)
            while len(self._passed) > self.CACHE_SIZE:
                self._passed.popitem(last=False)
        return grant

    def check(self, token: str) -> tuple[Grant, float]:
        """The grant of a valid token and the time it expires (no memory).

        Raises:
            InvalidToken: malformed, unknown key, wrong algorithm or signature,
                expired or not yet valid, wrong issuer or audience.
            KeysUnavailable: when the issuer's keys cannot be read.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise InvalidToken("algorithm")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("unknown-key")
        key = self._keys.key(kid)
        if key is None:
            raise InvalidToken("unknown-key")
        if key.algorithm_name not in ALGORITHMS or key.algorithm_name != alg:
            raise InvalidToken("algorithm")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise rejection(exc) from None
        # exp is required and was checked; no leeway is granted to a remembered token.
        return Grant.from_claims(claims), float(claims["exp"])

"""The JWT an EHR signs for every CDS Hooks call (CDS Hooks 2.0, "Trusting CDS Clients").

What is checked, in this order, each failure with a fixed reason word and never a
value of the token:

- header: ``alg`` RS384 or ES384 only (never ``none``, never HMAC), ``typ`` ``JWT``,
  ``kid`` present;
- ``iss`` on the allow-list; a ``jku`` only when it is one of that issuer's
  allow-listed JWK Set URLs — any other is refused before anything is fetched;
- the key ``kid`` from that JWK Set (cached by ``JwksKeys``), of the algorithm's
  family (RSA for RS384, EC P-384 for ES384);
- signature; ``aud`` equal to the public URL of the endpoint called (string or
  array); ``exp`` and ``iat`` present, ``iat`` not in the future and ``exp - iat``
  at most the configured lifetime, all with ``LEEWAY`` seconds of clock skew;
  ``jti`` present;
- ``jti`` never seen before for this issuer (``ReplayGuard``, shared by workers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.auth.replay import ReplayGuard
from service.auth.tokens import InvalidToken, JwksKeys, KeySource, rejection
from service.settings.cds import CdsIssuer

ALGORITHMS: Final = ("RS384", "ES384")
LEEWAY: Final = 30
MAX_JTI_LENGTH: Final = 256


@dataclass(frozen=True)
class EhrCaller:
    """Who called, from a verified token (for the logs: no patient data).

    Attributes:
        issuer: the token's ``iss`` (an allow-listed EHR).
        tenant: the optional ``tenant`` claim.
        config: the issuer's allow-list entry (its FHIR servers, for prefetch).
    """

    issuer: str
    tenant: str | None
    config: CdsIssuer


def _family_matches(alg: str, key: object) -> bool:
    if alg == "RS384":
        return isinstance(key, rsa.RSAPublicKey)
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1)


class EhrJwtVerifier:
    """Checks the JWTs of the allow-listed CDS Clients (see the module)."""

    def __init__(
        self,
        issuers: Mapping[str, CdsIssuer],
        max_lifetime: int,
        replay: ReplayGuard,
        clock: Callable[[], float] = time.time,
        key_source: Callable[[str], KeySource] | None = None,
    ) -> None:
        self.issuers = dict(issuers)
        self.max_lifetime = max_lifetime
        self._replay = replay
        self._clock = clock
        make = key_source or (lambda url: JwksKeys(url, timeout=3.0))
        # Built once from the allow-list: no other URL can ever be fetched.
        self._sources: dict[str, KeySource] = {}
        self._make = make
        self._lock = threading.Lock()

    def _keys(self, url: str) -> KeySource:
        with self._lock:
            source = self._sources.get(url)
            if source is None:
                source = self._sources[url] = self._make(url)
            return source

    def verify(self, token: str, audience: str) -> EhrCaller:
        """The caller of a valid, first-seen token for the endpoint ``audience``.

        Raises:
            InvalidToken: with a reason word (see the module).
            KeysUnavailable: when the issuer's JWK Set cannot be read.
            ReplayStoreUnavailable: when the seen-``jti`` store cannot be written.
        """
        try:
            header = jwt.get_unverified_header(token)
            unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidToken("malformed") from None
        alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
        if alg not in ALGORITHMS:
            raise InvalidToken("algorithm")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise InvalidToken("typ")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("kid")
        issuer = unverified.get("iss")
        config = self.issuers.get(issuer) if isinstance(issuer, str) else None
        if config is None or not isinstance(issuer, str):
            raise InvalidToken("issuer")
        jku = header.get("jku")
        if jku is not None and jku not in config.key_urls:
            raise InvalidToken("jku")
        key = self._keys(jku if isinstance(jku, str) else config.jwks_url).key(kid)
        if key is None:
            raise InvalidToken("unknown-key")
        if not _family_matches(alg, key.key):
            raise InvalidToken("algorithm")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                leeway=LEEWAY,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "strict_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise rejection(exc) from None
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if iat > self._clock() + LEEWAY:
            raise InvalidToken("not-yet-valid")
        if exp - iat > self.max_lifetime:
            raise InvalidToken("lifetime")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise InvalidToken("jti")
        if not self._replay.first_use(issuer, jti, float(exp) + LEEWAY):
            raise InvalidToken("replay")
        tenant = claims.get("tenant")
        return EhrCaller(issuer, tenant if isinstance(tenant, str) else None, config)


__all__ = ["ALGORITHMS", "LEEWAY", "EhrCaller", "EhrJwtVerifier"]

"""Inbound OAuth 2.0 bearer tokens: the service as a SMART on FHIR resource server.

``tokens`` checks a JWT access token (signature from the issuer's JWKS, issuer,
audience, times) and gives its ``Grant``; ``scopes`` says what a grant allows.
Nothing here knows Flask: ``service.api.auth`` turns failures into 401/403.
"""

from __future__ import annotations

from service.auth.scopes import Access, Grant
from service.auth.tokens import (
    ALGORITHMS,
    InvalidToken,
    JwksKeys,
    KeySource,
    KeysUnavailable,
    TokenVerifier,
)

__all__ = [
    "ALGORITHMS",
    "Access",
    "Grant",
    "InvalidToken",
    "JwksKeys",
    "KeySource",
    "KeysUnavailable",
    "TokenVerifier",
]

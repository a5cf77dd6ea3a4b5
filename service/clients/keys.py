"""The service's own signing key for SMART Backend Services (a PEM or JWK file).

RSA keys sign with RS384 and EC P-384 keys with ES384 (SMART App Launch 2.2,
Backend Services).  Errors name the problem, never the key's content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

MIN_RSA_BITS = 2048
MAX_KEY_FILE_BYTES = 1024 * 1024


class KeyFileError(ValueError):
    """The key file cannot be used; the message is safe to print (no key material)."""


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A private key, its JWS algorithm and its ``kid``.  ``repr`` never shows the key."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    alg: str
    kid: str

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK (``kid``, ``alg``, ``use: sig``), for the EHR's client registration."""
        public = self.key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public))
        else:
            data = json.loads(ECAlgorithm.to_jwk(public))
        return data | {"kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_jwks(self) -> dict[str, Any]:
        """The public JWK Set with this one key."""
        return {"keys": [self.public_jwk()]}


def _parse(data: bytes) -> object:
    text = data.lstrip()
    if text.startswith(b"{"):
        try:
            jwk = json.loads(text)
        except ValueError:
            raise KeyFileError("not a PEM private key or a JWK") from None
        if not isinstance(jwk, dict) or "d" not in jwk:
            raise KeyFileError("the JWK has no private part")
        try:
            if jwk.get("kty") == "RSA":
                return RSAAlgorithm.from_jwk(jwk)
            if jwk.get("kty") == "EC":
                return ECAlgorithm.from_jwk(jwk)
        except Exception:  # PyJWT raises several types; none may echo the key
            raise KeyFileError("the JWK is not a valid private key") from None
        raise KeyFileError("unsupported key type (RSA or EC P-384 needed)")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError("encrypted private keys are not supported") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError("not a PEM private key or a JWK") from None


def load_signing_key(path: Path, kid: str) -> SigningKey:
    """Read a private key file and infer its algorithm (RSA → RS384, EC P-384 → ES384).

    Raises:
        KeyFileError: unreadable, not a private key, or an unsupported type or size.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError("the key file is too large")
    key = _parse(data)
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyFileError(f"RSA keys need at least {MIN_RSA_BITS} bits")
        return SigningKey(key, "RS384", kid)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP384R1):
            raise KeyFileError("unsupported EC curve (P-384 needed for ES384)")
        return SigningKey(key, "ES384", kid)
    raise KeyFileError("unsupported key type (RSA or EC P-384 needed)")


__all__ = ["KeyFileError", "SigningKey", "load_signing_key"]

"""An OAuth issuer for tests: signing keys, a JWKS on loopback, access tokens.

``Issuer`` makes RSA and EC keys with ``cryptography`` and signs tokens with them;
``JwksServer`` serves its current JWKS from a real HTTP server (stdlib, one thread,
a free loopback port) and counts the fetches, so that caching and key rotation are
tested as the service meets them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.test/realms/ehr"
AUDIENCE = "her2-status"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server for loopback test servers."""

    # socketserver's default listen backlog is 5: tests that open more connections at
    # once (eight threads with a 0.5 s connect timeout) had SYNs dropped and timed out.
    request_queue_size = 64
    daemon_threads = True


def new_key(alg: str) -> PrivateKey:
    """A fresh private key for ``alg`` (RS256/RS384: RSA 2048; ES256: P-256; ES384: P-384)."""
    if alg.startswith("RS"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curve = ec.SECP256R1() if alg == "ES256" else ec.SECP384R1()
    return ec.generate_private_key(curve)


def public_jwk(key: PrivateKey, kid: str, alg: str) -> dict[str, Any]:
    """The public JWK of a private key, with its ``kid``, ``alg`` and ``use``."""
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = json.loads(RSAAlgorithm.to_jwk(public))
    else:
        data = json.loads(ECAlgorithm.to_jwk(public))
    data |= {"kid": kid, "alg": alg, "use": "sig"}
    return dict(data)


@dataclass
class Issuer:
    """Keys by ``kid`` (each bound to one algorithm), and tokens signed with them."""

    issuer: str = ISSUER
    audience: str = AUDIENCE
    keys: dict[str, tuple[str, PrivateKey]] = field(default_factory=dict)

    @classmethod
    def with_keys(cls, **algs_by_kid: str) -> Issuer:
        """An issuer publishing one new key per ``kid=alg``."""
        issuer = cls()
        for kid, alg in algs_by_kid.items():
            issuer.add_key(kid, alg)
        return issuer

    def add_key(self, kid: str, alg: str = "RS256") -> None:
        """A new signing key, published from now on."""
        self.keys[kid] = (alg, new_key(alg))

    def jwks(self) -> dict[str, Any]:
        """The published key set."""
        return {"keys": [public_jwk(key, kid, alg) for kid, (alg, key) in self.keys.items()]}

    def claims(self, scope: str = "system/Observation.rs", **extra: Any) -> dict[str, Any]:
        """Valid claims for the service: issuer, audience, an hour of life, ``scope``."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "client-1",
            "iat": now,
            "exp": now + 3600,
            "scope": scope,
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self, scope: str = "system/Observation.rs", kid: str | None = None, **extra: Any
    ) -> str:
        """A token signed with the key ``kid`` (default: the first), with ``claims``."""
        kid = kid or next(iter(self.keys))
        alg, key = self.keys[kid]
        return jwt.encode(self.claims(scope, **extra), key, algorithm=alg, headers={"kid": kid})


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of a token."""
    return {"Authorization": f"Bearer {token}"}


class JwksServer:
    """The issuer's JWKS endpoint on loopback; ``fetches`` counts the requests."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                body = json.dumps(server.issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self._http.timeout = 5
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/certs"

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        """Serve in a thread until the block ends."""
        thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._http.shutdown()
            self._http.server_close()
            thread.join(timeout=5)


@contextmanager
def jwks_server(issuer: Issuer) -> Iterator[JwksServer]:
    """A running ``JwksServer`` for ``issuer``."""
    with JwksServer(issuer).running() as server:
        yield server

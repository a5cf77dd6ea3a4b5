"""An EHR for outbound SMART Backend Services tests: a token endpoint and a FHIR server.

Both are real HTTP servers (stdlib, threads, free loopback ports):

- ``TokenServer`` verifies each client assertion as an authorization server must
  (signature with the registered public key, ``typ``/``kid``, ``iss`` = ``sub`` =
  client id, ``aud`` = its own URL, ``exp`` at most 5 minutes ahead, ``jti`` never
  seen before) and issues opaque access tokens; it can be told to refuse (400) or
  to fail (503).
- ``FhirStandIn`` serves ``.well-known/smart-configuration`` naming that token
  endpoint, and answers FHIR requests only with the token issued last; it can be
  told to answer 401 a number of times, and to add a ``next`` link.

Every request seen is recorded (path and Authorization header).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import jwt

from tests.builders.tokens import LoopbackHTTPServer, PrivateKey, public_jwk

CLIENT_ID = "her2-status-backend"
KEY_ID = "her2-key-1"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Seen:
    """One request as a server received it."""

    method: str
    path: str
    authorization: str | None
    body: bytes


class Loopback:
    """A threaded HTTP server on a free loopback port; ``handle`` answers every request."""

    def __init__(self, handle: Callable[[Seen], Reply], path: str = "") -> None:
        self.seen: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Seen(
                    self.command,
                    self.path,
                    self.headers.get("Authorization"),
                    self.rfile.read(length) if length else b"",
                )
                owner.seen.append(request)
                status, headers, body = handle(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self._answer()

            def log_message(self, *args: Any) -> None:
                pass

        self._http = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._http.server_address[1]}"
        self.url = self.origin + path

    @contextmanager
    def running(self) -> Iterator[None]:
        """Serve in a thread until the block ends."""
        thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._http.shutdown()
            self._http.server_close()
            thread.join(timeout=5)


def _json(status: int, body: object, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


@dataclass
class TokenServer:
    """The EHR's token endpoint, registered with one client and its public key."""

    key: PrivateKey
    alg: str
    client_id: str = CLIENT_ID
    kid: str = KEY_ID
    expires_in: int = 3600
    mode: str = "ok"  # ok | refuse (400 invalid_client) | fail (503)
    issued: list[str] = field(default_factory=list)
    assertions: list[str] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    jtis: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.server = Loopback(self.handle, "/oauth/token")
        self.url = self.server.url
        self.public = jwt.PyJWK(public_jwk(self.key, self.kid, self.alg))

    @property
    def current(self) -> str | None:
        """The token issued last (the only one the FHIR stand-in accepts)."""
        return self.issued[-1] if self.issued else None

    def _refuse(self, reason: str) -> Reply:
        self.rejected.append(reason)
        return _json(400, {"error": "invalid_client", "error_description": reason})

    def handle(self, request: Seen) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if "client_assertion" in form:
            self.assertions.append(form["client_assertion"])
        if self.mode == "fail":
            return _json(503, {"error": "temporarily_unavailable"}, **{"Retry-After": "7"})
        if self.mode == "refuse":
            return self._refuse("client disabled")
        if request.method != "POST" or request.path != "/oauth/token":
            return _json(404, {"error": "not_found"})
        if form.get("grant_type") != "client_credentials" or not form.get("scope"):
            return self._refuse("grant_type or scope")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return self._refuse("client_assertion_type")
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self.public,
                algorithms=[self.alg],
                audience=self.url,
                issuer=self.client_id,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError as exc:
            return self._refuse(type(exc).__name__)
        if header.get("kid") != self.kid or header.get("typ") != "JWT":
            return self._refuse("header")
        if claims["sub"] != self.client_id:
            return self._refuse("sub")
        if claims["exp"] > time.time() + 300:
            return self._refuse("exp more than 5 minutes ahead")
        if claims["jti"] in self.jtis:
            return self._refuse("jti replayed")
        self.jtis.add(claims["jti"])
        self.claims.append(claims)
        token = f"at-{uuid.uuid4().hex}"
        self.issued.append(token)
        return _json(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "scope": form["scope"],
            },
        )


@dataclass
class FhirStandIn:
    """The EHR's FHIR server: accepts only the token server's current token."""

    tokens: TokenServer
    advertise: bool = True  # serve .well-known/smart-configuration
    unauthorized: int = 0  # answer 401 this many more times, whatever the token
    next_url: str | None = None  # a next link on the first search page

    def __post_init__(self) -> None:
        self.server = Loopback(self.handle, "/fhir")
        self.url = self.server.url

    def fhir_requests(self) -> list[Seen]:
        """The requests other than discovery."""
        return [s for s in self.server.seen if "/.well-known/" not in s.path]

    def handle(self, request: Seen) -> Reply:
        if request.path == "/fhir/.well-known/smart-configuration":
            if not self.advertise:
                return _json(404, {})
            config = {
                "token_endpoint": self.tokens.url,
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            }
            return _json(200, config)
        current = self.tokens.current
        if self.unauthorized > 0 or current is None or request.authorization != f"Bearer {current}":
            self.unauthorized = max(0, self.unauthorized - 1)
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "login", "diagnostics": "bad token"}],
            }
            return _json(401, outcome, **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if request.method == "POST":
            return _json(200, {"resourceType": "Bundle", "type": "transaction-response"})
        if request.path.startswith("/fhir/metadata"):
            return _json(200, {"resourceType": "CapabilityStatement", "status": "active"})
        page: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
        if self.next_url is not None and "page=2" not in request.path:
            page["link"] = [{"relation": "next", "url": self.next_url}]
        return _json(200, page)


@contextmanager
def ehr(key: PrivateKey, alg: str, **options: Any) -> Iterator[tuple[TokenServer, FhirStandIn]]:
    """A running token endpoint and FHIR stand-in (``options`` go to the token server)."""
    tokens = TokenServer(key, alg, **options)
    fhir = FhirStandIn(tokens)
    with tokens.server.running(), fhir.server.running():
        yield tokens, fhir


def recorder() -> Loopback:
    """Another origin that answers 200 with an empty Bundle to everything."""
    return Loopback(lambda _: _json(200, {"resourceType": "Bundle", "type": "searchset"}))

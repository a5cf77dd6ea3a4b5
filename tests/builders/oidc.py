"""A fake OpenID Connect / SMART issuer on loopback for the view's login.

It serves discovery (``/.well-known/openid-configuration``; no
``smart-configuration``, as Keycloak), an authorization endpoint that approves at
once and redirects back with a code, a token endpoint that checks the code, the
redirect URI, the client and the PKCE S256 verifier before it signs an access token
with ``tests.builders.tokens.Issuer``, and the JWKS.  Everything it was sent is kept
in ``seen`` so that tests can assert on it (PKCE, ``aud``, ``state``).

It also stands in for the EHR's FHIR server under ``/fhir`` (searches by subject over
``resources``, 404 for reads), so that the view under gunicorn has a patient to show
without HAPI; the HAPI and Keycloak end-to-end run is the integration suite's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.builders.tokens import Issuer

REALM = "/realms/ehr"


@dataclass
class FakeOidc:
    """The issuer's behaviour and what it saw."""

    client_id: str = "her2-view"
    patient: str | None = "case-patient"
    scope: str = "openid launch/patient patient/Observation.rs"
    subject: str = "dr-test"
    patient_in_token: bool = True
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    issuer: Issuer = field(default_factory=lambda: Issuer.with_keys(k1="RS256"))
    base: str = ""
    resources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The issuer URL (``iss`` of its tokens, ``HER2_AUTH_ISSUER``)."""
        return self.base + REALM

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("response_type") != "code" or query.get("client_id") != self.client_id:
            return 400, {}, b"bad request"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}, b"PKCE required"
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        return 302, {"Location": target}, b""

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        asked = self.codes.pop(form.get("code", ""), None)
        refused = (
            asked is None
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != asked["redirect_uri"]
            or form.get("client_id") != self.client_id
        )
        if not refused and asked is not None:
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            refused = challenge != asked["code_challenge"]
        if refused:
            body = json.dumps({"error": "invalid_grant"}).encode()
            return 400, {"Content-Type": "application/json"}, body
        extra: dict[str, Any] = {"sub": self.subject, "azp": self.client_id}
        if self.patient_in_token and self.patient:
            extra["patient"] = self.patient
        answer: dict[str, Any] = {
            "access_token": self.issuer.token(self.scope, **extra),
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": self.scope,
        }
        if self.patient:
            answer["patient"] = self.patient
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _fhir(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        kind = path.removeprefix("/fhir/")
        if "/" in kind:
            missing = {"resourceType": "OperationOutcome", "issue": [{"code": "not-found"}]}
            return 404, {"Content-Type": "application/fhir+json"}, json.dumps(missing).encode()
        found = [
            r
            for r in self.resources
            if r["resourceType"] == kind
            and r.get("subject", {}).get("reference") == query.get("subject")
        ]
        page = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r, "search": {"mode": "match"}} for r in found],
        }
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(page).encode()

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> Any:
        """One request: (status, headers, body)."""
        self.seen.append((f"{method} {path}", query | form))
        json_type = {"Content-Type": "application/json"}
        if path.startswith("/fhir/") and method == "GET":
            return self._fhir(path, query)
        if path == f"{REALM}/.well-known/openid-configuration":
            config = {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/protocol/openid-connect/auth",
                "token_endpoint": f"{self.url}/protocol/openid-connect/token",
                "jwks_uri": f"{self.url}/protocol/openid-connect/certs",
                "code_challenge_methods_supported": ["S256"],
            }
            return 200, json_type, json.dumps(config).encode()
        if path == f"{REALM}/protocol/openid-connect/auth":
            return self._authorize(query)
        if path == f"{REALM}/protocol/openid-connect/token" and method == "POST":
            return self._token(form)
        if path == f"{REALM}/protocol/openid-connect/certs":
            return 200, json_type, json.dumps(self.issuer.jwks()).encode()
        return 404, {}, b"not found"


def _flat(raw: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in raw.items()}


@contextmanager
def fake_oidc(oidc: FakeOidc | None = None) -> Iterator[FakeOidc]:
    """The fake issuer served on a free loopback port until the block ends."""
    served = oidc or FakeOidc()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, headers, content = served.handle(
                method, parts.path, _flat(parse_qs(parts.query)), _flat(parse_qs(body))
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.base = f"http://127.0.0.1:{http.server_address[1]}"
    served.issuer.issuer = served.url
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)

"""Direct access to the integration tests' FHIR server, for seeding and checking.

Every resource written is tagged ``RUN_TAG``, unique to the test run, so that a run
against a shared sandbox (``FHIR_BASE_URL``) can be told apart and cleaned up.  With a
token source (the tests' own Keycloak client), every request carries its bearer token;
a 401 renews the token once and repeats the request.
"""

from __future__ import annotations

import uuid
from typing import Any

import requests

from service.clients.fhir import TokenSource
from service.fhir import jsonio

RUN = uuid.uuid4().hex[:8]
RUN_TAG = {"system": "https://her2-status.org/fhir/sid/test-run", "code": RUN}


class Fhir:
    """Minimal direct access to the test server, for seeding and checking."""

    def __init__(self, base_url: str, tokens: TokenSource | None = None) -> None:
        self.base_url = base_url
        self.tokens = tokens
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/fhir+json"

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request, with the bearer token (renewed once after a 401)."""
        kwargs.setdefault("timeout", 60)
        if self.tokens is None:
            return self.session.request(method, url, **kwargs)
        extra = kwargs.pop("headers", None) or {}
        token = self.tokens.token()
        headers = {**extra, "Authorization": f"Bearer {token}"}
        response = self.session.request(method, url, headers=headers, **kwargs)
        if response.status_code == 401:
            self.tokens.renew(token)
            headers = {**extra, "Authorization": f"Bearer {self.tokens.token()}"}
            response = self.session.request(method, url, headers=headers, **kwargs)
        return response

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        resource = {**resource, "meta": {"tag": [RUN_TAG]}}
        url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
        response = self.request("PUT", url, data=jsonio.dumps(resource))
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = jsonio.loads(response.content)
        return result

    def get(self, path: str, **params: str) -> dict[str, Any]:
        response = self.request("GET", f"{self.base_url}/{path}", params=params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = jsonio.loads(response.content)
        return result

    def search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        bundle = self.get(resource_type, _count="100", **params)
        return [e["resource"] for e in bundle.get("entry", [])]

"""A small FHIR REST client on ``requests`` (search with paging, read, transaction).

- Explicit connect and read timeouts on every call.
- Bounded retries with backoff for idempotent requests (GET, PUT) on connection
  errors and 429/502/503/504, honouring Retry-After (urllib3's ``Retry``).  A
  Retry-After longer than ``MAX_RETRY_AFTER`` is not slept through: the caller
  gets ``FhirServerUnavailable`` with that delay.  POST (the transaction) is
  never retried by the transport.
- ``link[next]`` is followed verbatim, and only to the configured origin.
- A bearer token is attached only to requests for the configured origin: a
  static one, or one from a ``TokenSource`` (SMART Backend Services,
  ``service.clients.smart``).  With a token source, a 401 renews the token once
  and repeats that request once (a 401 means nothing was done); a second 401
  raises ``FhirTokenRejected``.
- ``observe`` (optional) is told the method, outcome and duration of every call
  (after the transport's retries), for metrics; it never sees a URL or a body.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from service.clients.errors import (
    FhirClientError,
    FhirForeignLink,
    FhirInvalidReference,
    FhirServerError,
    FhirServerUnavailable,
    FhirTimeout,
    FhirTokenRejected,
    error_for,
)
from service.fhir import jsonio

MAX_RETRY_AFTER = 10.0
# Type/id by the FHIR grammar; an id of dots only would be a relative path segment.
_READABLE = re.compile(r"[A-Z][A-Za-z]{0,63}/(?!\.+$)[A-Za-z0-9\-.]{1,64}")
FHIR_JSON = "application/fhir+json"

Observer = Callable[[str, str, float], None]
"""Called with (method, outcome, seconds) after each call; outcome is ``ok`` or an error kind."""


def outcome_of(error: FhirClientError | None) -> str:
    """The bounded outcome label of a call: ``ok``, or the error class in snake case.

    ``FhirTimeout`` → ``timeout``, ``FhirTooManyMatches`` → ``too_many_matches``: one
    label per exception class, so metrics never carry request content.
    """
    if error is None:
        return "ok"
    name = type(error).__name__.removeprefix("Fhir")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class _RetryAfterTooLong(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class _BoundedRetry(Retry):
    """urllib3 Retry that refuses to sleep through a long Retry-After."""

    def sleep_for_retry(self, response: Any = None) -> bool:
        retry_after = self.get_retry_after(response) if response is not None else None
        if retry_after is not None and retry_after > MAX_RETRY_AFTER:
            raise _RetryAfterTooLong(retry_after)
        return bool(super().sleep_for_retry(response))


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class TokenSource(Protocol):
    """Where access tokens come from (``SmartBackendTokens``)."""

    def token(self) -> str:
        """The current access token (fetched or renewed as needed)."""
        ...

    def renew(self, stale: str | None) -> None:
        """Forget ``stale``: the server refused it."""
        ...


class _StaticToken:
    """A fixed token (``HER2_FHIR_TOKEN``); a 401 is not retried."""

    def __init__(self, value: str) -> None:
        self.value = value

    def token(self) -> str:
        return self.value

    def renew(self, stale: str | None) -> None:
        pass


class _BearerForOrigin(requests.auth.AuthBase):
    """Bearer auth that never leaves the configured origin.

    The token is asked for only when the request goes to that origin, so a
    request elsewhere neither carries nor fetches one.
    """

    def __init__(self, origin: tuple[str, str], source: TokenSource) -> None:
        self.origin = origin
        self.source = source

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.url and _origin(request.url) == self.origin:
            request.headers["Authorization"] = f"Bearer {self.source.token()}"
        else:
            request.headers.pop("Authorization", None)
        return request

    def __repr__(self) -> str:
        return f"_BearerForOrigin({self.origin!r})"


def _sent_token(response: requests.Response) -> str | None:
    header = response.request.headers.get("Authorization") if response.request else None
    return header.removeprefix("Bearer ") if header else None


class FhirClient:
    """The EHR's FHIR server."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 30.0,
        retries: int = 2,
        page_size: int = 100,
        session: requests.Session | None = None,
        observe: Observer | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.origin = _origin(self.base_url)
        self.timeout = (connect_timeout, read_timeout)
        self.page_size = page_size
        self.session = session or requests.Session()
        retry = _BoundedRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=0.2,
            status_forcelist=(429, 502, 503, 504),
            allowed_methods=frozenset({"GET", "PUT", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": FHIR_JSON})
        source: TokenSource | None = tokens or (_StaticToken(token) if token else None)
        self.session.auth = _BearerForOrigin(self.origin, source) if source else None
        # Only a source that can renew its token makes a retry after a 401 worthwhile.
        self.renewable = tokens is not None
        self.session.max_redirects = 0  # a redirect could leave the configured origin
        self.observe = observe

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        if self.observe is None:
            return self._call(method, url, **kwargs)
        started = time.perf_counter()
        error: FhirClientError | None = None
        try:
            return self._call(method, url, **kwargs)
        except FhirClientError as exc:
            error = exc
            raise
        finally:
            self.observe(method, outcome_of(error), time.perf_counter() - started)

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        if _origin(url) != self.origin:
            raise FhirForeignLink(f"refused: {method} to another origin")
        response = self._send(method, url, **kwargs)
        if response.status_code == 401 and self.renewable:
            # Expired or revoked early: one new token, the same request once more
            # (safe also for the POST: a 401 means the server did nothing).
            auth = self.session.auth
            if isinstance(auth, _BearerForOrigin):
                auth.source.renew(_sent_token(response))
            response = self._send(method, url, **kwargs)
            if response.status_code == 401:
                raise FhirTokenRejected("HTTP 401 after a new token", 401)
        body: Any = None
        if response.content:
            try:
                body = jsonio.loads(response.content)
            except ValueError:
                body = None
        problem = error_for(response.status_code, body, response.headers.get("Retry-After"))
        if problem is not None:
            raise problem
        if not isinstance(body, dict) and method != "DELETE":
            raise FhirServerError("the answer is not FHIR JSON", response.status_code)
        return body

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except _RetryAfterTooLong as exc:
            raise FhirServerUnavailable(
                "long Retry-After", 503, None, str(int(exc.seconds))
            ) from None
        except requests.Timeout:
            raise FhirTimeout("timeout") from None
        except requests.ConnectionError as exc:
            # requests reports a read timeout that exhausted the retries as a
            # ConnectionError wrapping urllib3's MaxRetryError(ReadTimeoutError).
            reason = getattr(exc.args[0] if exc.args else None, "reason", None)
            if isinstance(reason, ReadTimeoutError):
                raise FhirTimeout("timeout") from None
            raise FhirServerUnavailable("connection failed") from None
        except requests.RequestException:
            raise FhirServerError("request failed") from None

    def url(self, path: str) -> str:
        """An absolute URL on the server."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def capabilities(self) -> dict[str, Any]:
        """GET [base]/metadata."""
        result: dict[str, Any] = self._request("GET", self.url("metadata"))
        return result

    def read(self, reference: str) -> dict[str, Any]:
        """GET [base]/Type/id (a relative reference).

        Raises:
            FhirInvalidReference: when ``reference`` is not ``Type/id`` by the FHIR
                grammar (nothing is sent: ``Specimen/../../admin`` is another path).
        """
        if not _READABLE.fullmatch(reference):
            raise FhirInvalidReference("refused: not a Type/id reference")
        result: dict[str, Any] = self._request("GET", self.url(reference))
        return result

    def search_pages(
        self, resource_type: str, params: Mapping[str, str]
    ) -> Iterator[dict[str, Any]]:
        """Every page (searchset Bundle) of a search, following ``link[next]`` verbatim."""
        query = {"_count": str(self.page_size), **params}
        page: dict[str, Any] = self._request("GET", self.url(resource_type), params=query)
        seen: set[str] = set()
        while True:
            yield page
            links: list[Any] = page.get("link") or []
            if not isinstance(links, list):
                links = []
            following = [
                link.get("url")
                for link in links
                if isinstance(link, dict) and link.get("relation") == "next"
            ]
            if not following or not isinstance(following[0], str) or following[0] in seen:
                return
            seen.add(following[0])
            page = self._request("GET", following[0])

    def search(self, resource_type: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every matching resource of a search (entries with search.mode ``match``)."""
        for page in self.search_pages(resource_type, params):
            for entry in page.get("entry", []) if isinstance(page.get("entry"), list) else []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                mode = (entry.get("search") or {}).get("mode", "match")
                if isinstance(resource, dict) and mode == "match":
                    yield resource

    def update(self, resource: dict[str, Any]) -> dict[str, Any]:
        """PUT [base]/Type/id: create or update with a client-assigned id (retried: idempotent).

        Raises:
            FhirInvalidReference: when the resource's type and id are not ``Type/id``.
        """
        reference = f"{resource.get('resourceType')}/{resource.get('id')}"
        if not _READABLE.fullmatch(reference):
            raise FhirInvalidReference("refused: not a Type/id reference")
        result: dict[str, Any] = self._request(
            "PUT",
            self.url(reference),
            data=jsonio.dumps(resource).encode("utf-8"),
            headers={"Content-Type": FHIR_JSON},
        )
        return result

    def delete(self, reference: str) -> None:
        """DELETE [base]/Type/id (a relative reference; never retried by the transport).

        Raises:
            FhirInvalidReference: when ``reference`` is not ``Type/id``.
        """
        if not _READABLE.fullmatch(reference):
            raise FhirInvalidReference("refused: not a Type/id reference")
        self._request("DELETE", self.url(reference))

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle to [base]; all of it is applied, or none."""
        result: dict[str, Any] = self._request(
            "POST",
            self.base_url,
            data=jsonio.dumps(bundle).encode("utf-8"),
            headers={"Content-Type": FHIR_JSON},
        )
        return result


__all__ = ["FhirClient", "FhirClientError", "TokenSource"]

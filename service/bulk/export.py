"""FHIR Bulk Data ``$export`` against the configured server, with its client's auth.

Kick-off ``GET [base]/$export`` (``Prefer: respond-async``) with ``_type`` and
``_typeFilter`` restricting Observations to the HER2 codes; poll the
``Content-Location`` until the manifest arrives, honouring ``Retry-After`` (else
an exponential back-off) up to a deadline; download every output file.  The
requests go through the configured ``FhirClient``'s session: the same timeouts,
retries and bearer token (static or SMART Backend Services), and never to
another origin than the server's (a poll URL or file elsewhere is refused).
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Final

import requests

from service.bulk.outputs import replacing
from service.clients.errors import (
    FhirClientError,
    FhirForeignLink,
    FhirServerError,
    FhirServerUnavailable,
    FhirTimeout,
    error_for,
)
from service.clients.fhir import FhirClient, _origin
from service.fhir import jsonio

EXPORT_TYPES: Final = ("Patient", "Condition", "Specimen", "DiagnosticReport", "Observation")
MAX_BACKOFF: Final = 30.0


def type_filter(codes: Collection[tuple[str, str]]) -> str:
    """The ``_typeFilter`` that keeps only Observations with a recognised HER2 code."""
    return "Observation?code=" + ",".join(sorted(f"{system}|{code}" for system, code in codes))


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class BulkExport:
    """One ``$export`` run through a configured FHIR client."""

    def __init__(
        self,
        client: FhirClient,
        deadline_seconds: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.deadline_seconds = deadline_seconds
        self.sleep = sleep
        self.clock = clock

    def _get(self, url: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
        if _origin(url) != self.client.origin:
            raise FhirForeignLink("refused: a bulk export URL on another origin")
        try:
            return self.client.session.get(
                url, headers=headers, timeout=self.client.timeout, **kwargs
            )
        except requests.Timeout:
            raise FhirTimeout("timeout") from None
        except requests.RequestException:
            raise FhirServerUnavailable("connection failed") from None

    @staticmethod
    def _raise_for(response: requests.Response) -> None:
        body: Any = None
        try:
            body = jsonio.loads(response.content) if response.content else None
        except ValueError:
            body = None
        problem = error_for(response.status_code, body, response.headers.get("Retry-After"))
        if problem is not None:
            raise problem

    def kick_off(self, codes: Collection[tuple[str, str]]) -> str:
        """Start the export; return the status URL to poll.

        Raises:
            FhirClientError: when the server refuses or answers without a status URL.
        """
        params = {"_type": ",".join(EXPORT_TYPES), "_typeFilter": type_filter(codes)}
        headers = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
        response = self._get(self.client.url("$export"), headers, params=params)
        self._raise_for(response)
        location = response.headers.get("Content-Location")
        if response.status_code != 202 or not location:
            raise FhirServerError("the export was not accepted", response.status_code)
        return location

    def poll(self, status_url: str) -> dict[str, Any]:
        """Wait for the manifest, honouring Retry-After, else backing off exponentially.

        Raises:
            FhirTimeout: when the export is not complete by the deadline.
            FhirClientError: when the server reports the export failed.
        """
        started = self.clock()
        backoff = 1.0
        while True:
            response = self._get(status_url, {"Accept": "application/json"})
            if response.status_code == 200:
                manifest = jsonio.loads(response.content)
                if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list):
                    raise FhirServerError("the export manifest is not readable", 200)
                return manifest
            if response.status_code != 202:
                self._raise_for(response)
                raise FhirServerError("unexpected answer while polling", response.status_code)
            wait = retry_after(response.headers.get("Retry-After"), self.clock())
            if wait is None:
                wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF)
            if self.clock() + wait - started > self.deadline_seconds:
                raise FhirTimeout("the export did not complete in time")
            self.sleep(min(wait, MAX_BACKOFF * 4))

    def download(self, manifest: dict[str, Any], directory: Path) -> Path:
        """Download every output file; write a local manifest naming them; return it.

        Raises:
            FhirClientError: when a file cannot be downloaded (or is on another origin).
        """
        directory.mkdir(parents=True, exist_ok=True)
        local = []
        for index, item in enumerate(manifest["output"]):
            url = item.get("url") if isinstance(item, dict) else None
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(url, str) or not isinstance(kind, str) or not kind.isalpha():
                raise FhirServerError("the export manifest names an unreadable file", 200)
            name = f"{kind}.{index:04d}.ndjson"
            response = self._get(url, {"Accept": "application/fhir+ndjson"}, stream=True)
            with response:
                self._raise_for(response)
                temporary = directory / f".{name}.tmp"
                with open(temporary, "wb") as handle:
                    for block in response.iter_content(chunk_size=1 << 16):
                        handle.write(block)
                os.replace(temporary, directory / name)
            local.append({"type": kind, "url": name})
        with replacing(directory / "manifest.json") as handle:
            handle.write(jsonio.dumps({**manifest, "output": local}))
        return directory / "manifest.json"

    def run(self, codes: Collection[tuple[str, str]], directory: Path) -> Path:
        """Kick off, poll, download: the local manifest of the finished export."""
        return self.download(self.poll(self.kick_off(codes)), directory)


__all__ = ["EXPORT_TYPES", "BulkExport", "FhirClientError", "retry_after", "type_filter"]

"""The FHIR client against real sockets on loopback: refused, silent and throttling servers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from service.clients.errors import FhirServerUnavailable, FhirTimeout
from service.clients.fhir import FhirClient
from tests.builders.ports import free_port


def test_connection_refused_is_unavailable() -> None:
    port = free_port()  # nothing listens there any more
    with pytest.raises(FhirServerUnavailable):
        FhirClient(f"http://127.0.0.1:{port}/fhir", connect_timeout=0.5, retries=1).capabilities()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    listener.close()


def test_read_timeout(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FhirTimeout):
        FhirClient(silent_server, connect_timeout=0.5, read_timeout=0.3, retries=1).capabilities()
    assert time.monotonic() - started < 5


class _Throttling(BaseHTTPRequestHandler):
    """503 with Retry-After on the first call of each path, then 200."""

    calls: ClassVar[dict[str, int]] = {}
    retry_after = "1"

    def do_GET(self) -> None:
        count = self.calls.get(self.path, 0) + 1
        self.calls[self.path] = count
        if count == 1:
            self.send_response(503)
            self.send_header("Retry-After", self.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"resourceType": "CapabilityStatement"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def throttling_server() -> Iterator[tuple[str, type[_Throttling]]]:
    handler = type("Handler", (_Throttling,), {"calls": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir", handler
    server.shutdown()
    server.server_close()


def test_retry_after_is_honoured(throttling_server: tuple[str, type[_Throttling]]) -> None:
    url, handler = throttling_server
    started = time.monotonic()
    assert FhirClient(url, retries=2).capabilities()["resourceType"] == "CapabilityStatement"
    assert time.monotonic() - started >= 0.9  # waited the second the server asked for
    assert handler.calls == {"/fhir/metadata": 2}


def test_long_retry_after_is_handed_back(throttling_server: tuple[str, type[_Throttling]]) -> None:
    url, handler = throttling_server
    handler.retry_after = "120"
    started = time.monotonic()
    with pytest.raises(FhirServerUnavailable) as raised:
        FhirClient(url, retries=2).capabilities()
    assert raised.value.retry_after == "120"
    assert time.monotonic() - started < 5

"""The ``$export`` client: kick-off, polling with Retry-After or back-off, downloads.

A real HTTP server on loopback (standard library) plays the FHIR server; the end to
end run against HAPI is in tests/integration/test_bulk_export.py.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from service.bulk.export import BulkExport, retry_after, type_filter
from service.bulk.source import export_files
from service.clients.errors import FhirForeignLink, FhirTimeout
from service.clients.fhir import FhirClient


class _Server(http.server.ThreadingHTTPServer):
    script: list[tuple[int, dict[str, str], bytes]]
    seen: list[tuple[str, dict[str, str]]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers)))
        status, headers, body = self.server.script.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.script, httpd.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _base(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/fhir"


def test_an_export_is_kicked_off_polled_and_downloaded(server: _Server, tmp_path: Path) -> None:
    base = _base(server)
    manifest = {"output": [{"type": "Observation", "url": f"{base}/Binary/b1"}], "error": []}
    server.script = [
        (202, {"Content-Location": f"{base}/$export-poll-status?_jobId=1"}, b""),
        (202, {"Retry-After": "3"}, b""),
        (202, {}, b""),
        (202, {}, b""),
        (200, {"Content-Type": "application/json"}, json.dumps(manifest).encode()),
        (200, {"Content-Type": "application/fhir+ndjson"}, b'{"resourceType":"Patient"}\n'),
    ]
    waits: list[float] = []
    client = FhirClient(base, token="secret-token")
    local = BulkExport(client, sleep=waits.append).run({("http://loinc.org", "18474-7")}, tmp_path)
    assert waits == [3.0, 1.0, 2.0]
    kickoff_path, kickoff_headers = server.seen[0]
    query = parse_qs(urlsplit(kickoff_path).query)
    assert query["_type"] == ["Patient,Condition,Specimen,DiagnosticReport,Observation"]
    assert query["_typeFilter"] == ["Observation?code=http://loinc.org|18474-7"]
    assert kickoff_headers["Prefer"] == "respond-async"
    assert all(headers["Authorization"] == "Bearer secret-token" for _, headers in server.seen)
    assert server.seen[-1][1]["Accept"] == "application/fhir+ndjson"
    (ndjson,) = export_files(local)
    assert ndjson.read_text() == '{"resourceType":"Patient"}\n'


def test_a_poll_url_on_another_origin_is_refused(server: _Server) -> None:
    server.script = [(202, {"Content-Location": "http://127.0.0.2:9/fhir/status"}, b"")]
    export = BulkExport(FhirClient(_base(server), token="t"), sleep=lambda _: None)
    status_url = export.kick_off({("http://loinc.org", "18474-7")})
    with pytest.raises(FhirForeignLink):
        export.poll(status_url)


def test_an_export_that_never_completes_times_out(server: _Server) -> None:
    server.script = [(202, {"Retry-After": "120"}, b"")] * 3
    export = BulkExport(FhirClient(_base(server)), deadline_seconds=60, sleep=lambda _: None)
    with pytest.raises(FhirTimeout):
        export.poll(f"{_base(server)}/status")


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("5", 0.0) == 5.0
    assert retry_after("Thu, 01 Jan 1970 00:00:30 GMT", 10.0) == 20.0
    assert retry_after("soon", 0.0) is None
    assert retry_after(None, 0.0) is None


def test_the_type_filter_names_every_code_once_in_order() -> None:
    codes = {("http://loinc.org", "85319-2"), ("http://loinc.org", "18474-7")}
    assert type_filter(codes) == (
        "Observation?code=http://loinc.org|18474-7,http://loinc.org|85319-2"
    )

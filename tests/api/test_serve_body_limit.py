"""A body over the limit gets a 413 that every client can read, on a real gunicorn.

Python's ``urllib`` sends the whole body before it reads the answer: if the server
answers and closes with the body unread, the kernel resets the connection and
urllib sees a broken pipe instead of the 413.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.builders.serve import ROOT, free_port, gunicorn, serve_command

BODY = b"x" * 6_000_000  # over the default 5 MiB limit, under twice it
ROUNDS = 5


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with gunicorn(serve_command(port), port, log):
        yield f"http://127.0.0.1:{port}"


def _post(request: urllib.request.Request) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _chunks() -> Iterator[bytes]:
    for start in range(0, len(BODY), 65536):
        yield BODY[start : start + 65536]


def test_a_body_over_the_limit_with_content_length_is_a_readable_413(base_url: str) -> None:
    for _ in range(ROUNDS):
        request = urllib.request.Request(
            f"{base_url}/fhir/$her2-status",
            data=BODY,
            headers={"Content-Type": "application/fhir+json"},
            method="POST",
        )
        status, outcome = _post(request)
        assert status == 413
        assert outcome["resourceType"] == "OperationOutcome"


def test_a_chunked_body_over_the_limit_is_a_readable_413(base_url: str) -> None:
    for _ in range(ROUNDS):
        request = urllib.request.Request(
            f"{base_url}/fhir/$her2-status",
            data=_chunks(),
            headers={"Content-Type": "application/fhir+json", "Transfer-Encoding": "chunked"},
            method="POST",
        )
        status, outcome = _post(request)
        assert status == 413
        assert outcome["resourceType"] == "OperationOutcome"


def test_a_chunked_body_under_the_limit_is_read(base_url: str) -> None:
    payload = (ROOT / "bench" / "payload.json").read_bytes()
    request = urllib.request.Request(
        f"{base_url}/fhir/$her2-status",
        data=iter([payload[:100], payload[100:]]),
        headers={"Content-Type": "application/fhir+json", "Transfer-Encoding": "chunked"},
        method="POST",
    )
    status, bundle = _post(request)
    assert status == 200
    assert bundle["resourceType"] == "Bundle"

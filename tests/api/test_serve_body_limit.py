"""A body over the limit gets a 413 that every client can read, on a real gunicorn.

Python's ``urllib`` sends the whole body before it reads the answer: if the server
answers and closes with the body unread, the kernel resets the connection and
urllib sees a broken pipe instead of the 413.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BODY = b"x" * 6_000_000  # over the default 5 MiB limit, under twice it
ROUNDS = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HER2_")}
    # `-m` from the checkout: the installed `her2-status` script may import another copy.
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--workers", "1", "--threads", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


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

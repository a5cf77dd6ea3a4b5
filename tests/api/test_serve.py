"""`her2-status serve` and `scripts/serve`: real gunicorn on loopback, with no FHIR server."""

from __future__ import annotations

import sys
from pathlib import Path

import requests

from tests.builders import FIXTURES
from tests.builders.serve import gunicorn

PAYLOAD = FIXTURES / "inputs" / "breast-ihc2-dual-separate.json"


def _serve_and_check(command: list[str], port: int, log: Path) -> None:
    with gunicorn(command, port, log):
        response = requests.post(
            f"http://127.0.0.1:{port}/fhir/$her2-status",
            data=PAYLOAD.read_bytes(),
            headers={"Content-Type": "application/fhir+json", "X-Request-ID": "serve-test"},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == "serve-test"
        assert response.json()["type"] == "collection"
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json() == {
            "status": "ready",
            "fhir_server": "not configured",
        }


def test_serve_command_runs_gunicorn(tmp_path: Path, free_port: int) -> None:
    port = free_port
    command = [
        str(Path(sys.executable).parent / "her2-status"),
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
        "--threads",
        "2",
    ]
    _serve_and_check(command, port, tmp_path / "serve.log")


def test_readme_start_command(tmp_path: Path, free_port: int) -> None:
    port = free_port
    command = ["scripts/serve", "--port", str(port), "--workers", "1"]
    _serve_and_check(command, port, tmp_path / "serve.log")

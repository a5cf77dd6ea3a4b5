"""The Dockerfile, really built and run with podman: health, one derivation, non-root."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.builders import FIXTURES
from tests.builders.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = FIXTURES / "inputs" / "breast-panel-diagnosticreport.json"
ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "packaging" / "containers.conf")}
# The README's scripts set CONTAINERS_CONF themselves: they run without it here.
PLAIN_ENV = {k: v for k, v in os.environ.items() if k != "CONTAINERS_CONF"}


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], env=ENV, capture_output=True, text=True, check=False, timeout=timeout
    )


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    tag = f"localhost/her2-status:test-{uuid.uuid4().hex[:8]}"
    built = subprocess.run(
        ["scripts/build-image", tag],
        cwd=ROOT,
        env=PLAIN_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    port = free_port()
    name = f"her2-status-test-{uuid.uuid4().hex[:8]}"
    # The README's own command: it waits for /healthz.
    started = subprocess.run(
        ["scripts/run-image", str(port), tag],
        cwd=ROOT,
        env={**PLAIN_ENV, "CONTAINER_NAME": name},
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok
        yield f"{name}|http://127.0.0.1:{port}"
    finally:
        podman("rm", "-f", name)
        podman("rmi", "-f", tag)


def test_container_serves_a_derivation(container: str) -> None:
    _, url = container.split("|")
    response = requests.post(
        f"{url}/fhir/$her2-status",
        data=PAYLOAD.read_bytes(),
        headers={"Content-Type": "application/fhir+json"},
        timeout=30,
    )
    assert response.status_code == 200
    types = [e["resource"]["resourceType"] for e in response.json()["entry"]]
    assert types == ["Observation", "List", "Provenance", "Device"]


def test_container_healthcheck_and_user(container: str) -> None:
    name, _ = container.split("|")
    health = podman("healthcheck", "run", name)
    assert health.returncode == 0, health.stdout + health.stderr
    user = podman("exec", name, "id", "-u")
    assert user.stdout.strip() == "10001"
    # No build tools in the final image: no compiler, and no pip in the service's venv.
    tools = podman("exec", name, "sh", "-c", "command -v gcc cc make; ls /opt/venv/bin/pip*")
    assert tools.stdout.strip() == "", tools.stdout

"""Real parts of the event-driven tests: the service as a gunicorn process, and a TCP relay.

- ``EventService``: ``her2-status serve`` (gunicorn, its worker process beside it) on a
  free loopback port that stays the same across restarts, so that the Subscription's
  endpoint keeps pointing at it; the FHIR server calls it back on loopback.
- ``Relay``: a loopback TCP relay between the service and the FHIR server that can be
  frozen (bytes stop flowing both ways), to hold the worker in the middle of an item.
- ``auth_env``: authenticated end to end: the service gets its tokens for the FHIR
  server from Keycloak (``HER2_FHIR_AUTH=smart-backend``, ``private_key_jwt``) and
  requires Keycloak's tokens of its own callers (``HER2_AUTH_*``); the FHIR server's
  notifications authenticate by the Subscription's shared secret header.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from service.settings import DEFAULT_SMART_SCOPES
from tests.builders.ports import free_port
from tests.integration.keycloak import SUBSCRIPTION_SCOPES, Keycloak

ROOT = Path(__file__).resolve().parents[2]
# ``python -m`` from the checkout: this tree's code, whatever the venv has installed.
HER2_STATUS = [sys.executable, "-m", "service.cli"]
SECRET = "integration-hook-secret-0123456789"
# What the service asks the FHIR server for: write-back's scopes, and its Subscription's.
SERVICE_SCOPES = f"{DEFAULT_SMART_SCOPES} {SUBSCRIPTION_SCOPES}"


# An open FHIR server and no inbound authentication (bench/events.py's own HAPI).
UNAUTHENTICATED = {"HER2_FHIR_AUTH": "none", "HER2_AUTH": "off"}


def auth_env(keycloak: Keycloak, scopes: str = SERVICE_SCOPES) -> dict[str, str]:
    """The service's ``HER2_FHIR_*`` (outbound) and ``HER2_AUTH_*`` (inbound) at Keycloak."""
    return {**keycloak.service_fhir_env(scopes), **keycloak.service_auth_env()}


def wait_for(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll ``condition`` until it is truthy (bounded); return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


class Relay:
    """Forwards loopback TCP connections to ``target``; ``freeze`` holds every byte."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.open = threading.Event()
        self.open.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self.open.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            # Each socket is the source of exactly one pump, which closes it.
            src.close()

    def freeze(self) -> None:
        """Hold every byte from now on (connections stay open)."""
        self.open.clear()

    def thaw(self) -> None:
        """Let bytes flow again."""
        self.open.set()

    def close(self) -> None:
        """Stop accepting."""
        self._closed = True
        self.thaw()
        self.listener.close()


class EventService:
    """``her2-status serve`` with the event-driven mode, started and stopped by the tests."""

    def __init__(
        self, fhir_base_url: str, directory: Path, auth: dict[str, str], **env: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.data_dir = directory / "data"
        self.log = directory / "service.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HER2_")},
            "HER2_FHIR_BASE_URL": fhir_base_url,
            **auth,
            "HER2_DATA_DIR": str(self.data_dir),
            "HER2_HOOK_SECRET": SECRET,
            "HER2_PUBLIC_URL": self.url,
            "HER2_LOCK_DIR": str(directory / "locks"),
            "HER2_CATCHUP_INTERVAL": "300",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> EventService:
        """Start gunicorn (2 HTTP workers) and wait for ``/healthz``."""
        with self.log.open("ab") as stderr:
            self.process = subprocess.Popen(
                [
                    *HER2_STATUS,
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

        def healthy() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, self.log.read_text()[-4000:]
            try:
                return requests.get(f"{self.url}/healthz", timeout=2).ok
            except requests.RequestException:  # not listening yet, or still warming up
                return False

        try:
            wait_for(healthy, timeout, "the service to start", step=0.2)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM the process group (gunicorn and the worker); wait."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``her2-status`` with the service's environment (``env`` overriding it)."""
        return subprocess.run(
            [*HER2_STATUS, *args],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ready(self) -> dict[str, Any]:
        """``/readyz``."""
        body: dict[str, Any] = requests.get(f"{self.url}/readyz", timeout=10).json()
        return body

    def worker_pid(self) -> int | None:
        """The pid the running worker wrote in its lock file (None: not written yet).

        A worker that takes the lock empties the file before writing its pid, so a
        read at that moment finds nothing: that is "no pid yet", not an error.
        """
        text = (self.data_dir / "worker.lock").read_text().strip()
        return int(text) if text.isdigit() else None


__all__ = [
    "SECRET",
    "SERVICE_SCOPES",
    "UNAUTHENTICATED",
    "EventService",
    "Relay",
    "auth_env",
    "free_port",
    "wait_for",
]

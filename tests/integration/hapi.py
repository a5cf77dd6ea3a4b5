"""A real HAPI FHIR JPA server (6.6.1, R4, in-memory H2) on loopback, for the tests.

Built from ``tests/hapi_server`` with Maven: HAPI's own artifacts from Maven Central,
wired by one small Java class (no packaged HAPI server war is published there).  The
build is cached in ``tests/hapi_server/target`` by a hash of the sources, Maven's
downloads in ``~/.m2``.  Each start gets a free port and fresh in-memory storage.

With ``auth`` (``HapiAuth``), the server requires bearer tokens of that issuer
(``BearerTokenAuthorization.java``: signature by the issuer's JWKS, ``iss``, ``aud``,
``exp``, SMART scopes as allow rules) and serves ``.well-known/smart-configuration``.

Also a command for developers: ``python -m tests.integration.hapi`` starts one and
prints its base URL until interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from scripts.maven import java_classpath
from tests.builders.ports import free_port

PROJECT = Path(__file__).resolve().parents[1] / "hapi_server"
START_TIMEOUT = 240.0


class HapiUnavailable(RuntimeError):
    """HAPI could not be built or started (the integration tests fail, never skip)."""


def build() -> str:
    """Compile the server and return its Java classpath (cached by source hash)."""
    return java_classpath(PROJECT, HapiUnavailable, "the HAPI test server")


@dataclass(frozen=True)
class HapiAuth:
    """Bearer tokens the server requires (its ``her2.auth.*`` system properties).

    Attributes:
        issuer: the expected ``iss``.
        jwks_url: the issuer's signing keys.
        audience: the expected ``aud``.
        token_url: announced in ``[base]/.well-known/smart-configuration``.
        jwks_ttl_millis: how long the key set is cached (short in tests, so that a
            key disabled at the issuer stops verifying within seconds).
        jwks_refetch_millis: the shortest interval between two fetches of the key set.
        clock_skew_seconds: the leeway on ``exp`` (short, so expiry tests wait little).
    """

    issuer: str
    jwks_url: str
    audience: str
    token_url: str | None = None
    jwks_ttl_millis: int = 5000
    jwks_refetch_millis: int = 500
    clock_skew_seconds: int = 2

    def properties(self) -> list[str]:
        """The ``-D`` options of the Java command."""
        values = {
            "issuer": self.issuer,
            "jwksUrl": self.jwks_url,
            "audience": self.audience,
            "tokenUrl": self.token_url,
            "jwksTtlMillis": self.jwks_ttl_millis,
            "jwksRefetchMillis": self.jwks_refetch_millis,
            "clockSkewSeconds": self.clock_skew_seconds,
        }
        return [f"-Dher2.auth.{k}={v}" for k, v in values.items() if v is not None]


@contextmanager
def fhir_server(log_dir: Path, auth: HapiAuth | None = None) -> Iterator[str]:
    """The base URL of ``FHIR_BASE_URL`` when set, else of a fresh HAPI server (stopped after).

    Args:
        log_dir: where the server's log goes.
        auth: bearer tokens the fresh server requires (None: an open server).
    """
    external = os.environ.get("FHIR_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    server = HapiServer(log_dir / "hapi.log", auth).start()
    try:
        yield server.base_url
    finally:
        server.stop()


class HapiServer:
    """One running HAPI server."""

    def __init__(self, log_path: Path, auth: HapiAuth | None = None) -> None:
        self.auth = auth
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/fhir"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> HapiServer:
        """Start and wait until ``/fhir/metadata`` answers 200."""
        classpath = build()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "java",
                    "-Xmx1g",
                    "-XX:+UseSerialGC",
                    *(self.auth.properties() if self.auth else []),
                    "-cp",
                    classpath,
                    "org.her2status.hapi.HapiTestServer",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HapiUnavailable("HAPI exited while starting:\n" + self._log_tail())
            try:
                if requests.get(f"{self.base_url}/metadata", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise HapiUnavailable("HAPI did not become ready in time:\n" + self._log_tail())

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


if __name__ == "__main__":
    # SIGTERM (e.g. `kill`) must run the `finally` below, or the Java child is orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = HapiServer(Path("/tmp/her2-hapi.log")).start()
    print(server.base_url, flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    sys.exit(0)

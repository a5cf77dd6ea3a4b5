"""A real ``her2-status serve`` (gunicorn) on loopback, started and stopped by a test.

``gunicorn`` starts a command in its own process group with no ``HER2_*`` setting
inherited from the caller's environment (only those given), waits for ``/healthz``
and stops the whole group after; ``serve_command`` is the checkout's own
``her2-status serve`` (``-m``: an installed script may import another copy).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.builders.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["ROOT", "free_port", "gunicorn", "serve_command"]


def serve_command(port: int, workers: int = 1, threads: int = 2) -> list[str]:
    """``her2-status serve`` of this checkout on ``port``."""
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
    return [*command, "--workers", str(workers), "--threads", str(threads)]


@contextmanager
def gunicorn(
    command: list[str], port: int, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs ``command`` until ``/healthz`` on ``port`` answers; stops it after.

    Args:
        command: The command line, run from the checkout's root.
        port: The loopback port the command listens on.
        log: The file the process's stderr is appended to (shown if it dies).
        env: Variables added to the caller's environment without its ``HER2_*``.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HER2_")}
    environment |= env or {}
    with log.open("ab") as stderr:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

"""`her2-status serve` (real gunicorn) when the SMART key file goes away while it runs.

The master checks the key once at start.  A worker that gunicorn starts later
(after a crash or a timeout) must boot without it, and the service must answer
503 naming the configuration problem; before, the new worker's start raised
``KeyFileError`` with a traceback and gunicorn stopped the whole server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization

from tests.builders.tokens import new_key

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _wait(condition: object, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        if callable(condition) and condition():
            return
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).ok
    except requests.ConnectionError:
        return False


def test_a_worker_started_after_the_key_went_boots_and_answers_503(
    tmp_path: Path, free_port: int
) -> None:
    key_file = tmp_path / "service-key.pem"
    key_file.write_bytes(
        new_key("ES384").private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    base = f"http://127.0.0.1:{free_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HER2_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(tmp_path),
        "HER2_FHIR_BASE_URL": "http://127.0.0.1:1/fhir",
        "HER2_AUTH": "off",
        "HER2_FHIR_AUTH": "smart-backend",
        "HER2_FHIR_CLIENT_ID": "her2-status",
        "HER2_FHIR_PRIVATE_KEY": str(key_file),
        "HER2_FHIR_KEY_ID": "k1",
        "HER2_FHIR_TOKEN_URL": "http://127.0.0.1:1/token",
        "HER2_LOCK_DIR": str(tmp_path / "locks"),
    }
    log = tmp_path / "serve.log"
    command = [
        str(Path(sys.executable).parent / "her2-status"),
        *("serve", "--port", str(free_port), "--workers", "1", "--threads", "1"),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        _wait(lambda: _healthy(base), process, log)
        (worker,) = _children(process.pid)
        key_file.unlink()
        os.kill(worker, signal.SIGKILL)
        # gunicorn starts a new worker; it must boot without the key file.
        _wait(lambda: (_children(process.pid) - {worker}) and _healthy(base), process, log)

        response = requests.post(f"{base}/fhir/Patient/p1/$her2-status", timeout=30)

        assert response.status_code == 503
        (issue,) = response.json()["issue"]
        assert issue["code"] == "security"
        assert "HER2_FHIR_PRIVATE_KEY" in issue["diagnostics"]
        assert str(tmp_path) not in response.text
        assert process.poll() is None
        text = log.read_text()
        assert "Traceback" not in text
        assert "KeyFileError" not in text
        assert text.count("signing key (HER2_FHIR_PRIVATE_KEY) unusable") == 1
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)

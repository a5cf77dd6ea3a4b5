"""Latency of CDS Hooks calls with full prefetch, over real HTTP (goal: p99 < 500 ms).

Starts ``her2-status serve`` (2 workers x 4 threads, the default) on a free loopback
port with one allow-listed EHR whose JWK Set a loopback server in this process
serves (``tests.builders``), then sends ``ROUNDS`` calls of each kind, one at a
time, each with a fresh ES384 JWT (so every call pays the signature check, the
seen-``jti`` insert into SQLite and the derivation) and the patient's data in
``prefetch`` (a breast specimen with IHC 2+ and a dual-probe ISH, a prior specimen,
a Condition).  Wall-clock time per call, measured by the client, connection set-up
included.  Run: ``PYTHONPATH=. .venv/bin/python bench/cds_hooks.py``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import requests

from service.fhir import jsonio
from tests.builders import BREAST, condition, ihc, ihc_score, ish_observations, specimen
from tests.builders.cds import (
    EHR_ISSUER,
    PUBLIC_URL,
    RXNORM,
    draft_orders,
    ehr_issuer,
    ehr_jwt,
    hook_body,
    medication_request,
    prefetch_of,
)
from tests.builders.tokens import jwks_server

ROUNDS = 300
WARM_UP = 20
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _resources() -> list[dict[str, object]]:
    ish = {
        "her2_cep17_ratio": Decimal("1.8"),
        "avg_her2_copies": Decimal("4.5"),
        "avg_cep17_copies": Decimal("2.5"),
        "cells_counted": 40,
    }
    return [
        condition("http://hl7.org/fhir/sid/icd-10", "C50.9", id="c1"),
        specimen("s1", body_site=BREAST),
        specimen("s0", body_site=BREAST),
        ihc("ihc1", specimen="Specimen/s1", effectiveDateTime="2026-02-01"),
        *ish_observations("ish1", ish, specimen="Specimen/s1", effectiveDateTime="2026-02-01"),
        ihc_score("ihc0", "1+", specimen="Specimen/s0", effectiveDateTime="2025-06-01"),
    ]


def _percentiles(times: list[float]) -> str:
    times = sorted(times)
    p50 = statistics.median(times) * 1000
    p99 = times[int(len(times) * 0.99) - 1] * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {times[-1] * 1000:.1f} ms"


def main() -> None:
    """Serve, call, print p50/p99 per hook."""
    ehr = ehr_issuer(**{"ec-1": "ES384"})
    prefetch = prefetch_of(_resources())
    orders = draft_orders(medication_request((RXNORM, "2267574")))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with jwks_server(ehr) as jwks, tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HER2_")}
        env |= {
            "HER2_CDS_ISSUERS": json.dumps({EHR_ISSUER: {"jwks_url": jwks.url}}),
            "HER2_CDS_PUBLIC_URL": PUBLIC_URL,
            "HER2_DATA_DIR": str(Path(data) / "her2"),
            "HER2_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            for name, service, body in (
                ("patient-view", "her2-status", hook_body(prefetch=prefetch)),
                (
                    "order-sign",
                    "her2-order-check",
                    hook_body("order-sign", prefetch=prefetch, orders=orders),
                ),
            ):
                data_bytes = jsonio.dumps(body).encode()
                path = f"/cds-services/{service}"
                times = []
                for round_ in range(WARM_UP + ROUNDS):
                    token = ehr_jwt(ehr, PUBLIC_URL + path)
                    headers = {
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    }
                    start = time.perf_counter()
                    response = requests.post(
                        base + path, data=data_bytes, headers=headers, timeout=30
                    )
                    elapsed = time.perf_counter() - start
                    assert response.status_code == 200, response.text
                    assert response.json()["cards"], response.text
                    if round_ >= WARM_UP:
                        times.append(elapsed)
                print(f"{name}: {ROUNDS} calls, {_percentiles(times)}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


if __name__ == "__main__":
    main()

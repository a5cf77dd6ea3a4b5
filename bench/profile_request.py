"""Where one ``POST $her2-status`` spends its time, in-process (no sockets, no gunicorn).

Usage: ``python bench/profile_request.py [N]`` from the repository root (default N = 2000).

Two views of the same request (``bench/payload.json`` through the Flask test client):

- CPU time (``time.process_time``, less disturbed than wall clock when other work
  shares the cores): the mean of N requests, of ``derive`` alone and of ``GET /healthz``;
- cProfile: the cumulative time of each step as a share of the whole request. cProfile
  inflates Python-heavy code (the ``fhir_core`` validators) more than C code, so the
  shares are indicative; the CPU-time means are the ones to compare.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import logging
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from service.api import create_app
from service.app.derivation import derive
from service.fhir import jsonio
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

# (label, file suffix, function name): cumulative time of these functions.
STEPS = (
    ("input validation (R4B models, entry by entry)", "service/fhir/envelope.py", "_check"),
    ("output validation (R4B models)", "service/fhir/outbound.py", "_validated"),
    ("rules (evaluate_series)", "service/app/derivation.py", "evaluate_groups"),
    ("JSON decode (jsonio.loads)", "service/fhir/jsonio.py", "loads"),
    ("JSON encode (jsonio.dumps)", "service/fhir/jsonio.py", "dumps"),
    ("derive (reading + rules + building)", "service/app/derivation.py", "derive"),
)


def _mean_ms(call: Any, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) / n * 1000


def main(n: int) -> None:
    """Print the CPU-time means and the cProfile breakdown of N requests."""
    body = (ROOT / "bench" / "payload.json").read_bytes()
    payload = jsonio.loads(body)
    app = create_app(Settings.from_env(), clock=lambda: NOW)
    logging.getLogger("her2").setLevel(logging.WARNING)  # as bench/run.sh serves it
    client = app.test_client()

    def post() -> None:
        response = client.post(
            "/fhir/$her2-status", data=body, headers={"Content-Type": "application/fhir+json"}
        )
        assert response.status_code == 200, response.status_code

    def healthz() -> None:
        assert client.get("/healthz").status_code == 200

    for _ in range(50):  # warm-up: lazy model building, caches
        post()
    request_ms = _mean_ms(post, n)
    derive_ms = _mean_ms(lambda: derive(payload, NOW), n)
    healthz_ms = _mean_ms(healthz, n)
    print(f"CPU time, mean of {n}: request {request_ms:.3f} ms, derive {derive_ms:.3f} ms,")
    print(f"  GET /healthz {healthz_ms:.3f} ms (test client, in-process)")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        post()
    profiler.disable()
    stats: Any = pstats.Stats(profiler).stats
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in stats.values())
    print(f"cProfile, {n} requests: {total / n * 1000:.3f} ms per request (profiled)")
    for label, suffix, name in STEPS:
        cumulative = sum(
            ct
            for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items()
            if func == name and path.endswith(suffix)
        )
        print(f"  {label:<46} {cumulative / n * 1000:7.3f} ms  {cumulative / total:6.1%}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)

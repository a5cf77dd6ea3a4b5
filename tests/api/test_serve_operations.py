"""`her2-status serve` under real gunicorn with 2 workers: metrics add up, logs are JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
SECRET_ID = "patient-id-0815"
REQUESTS = 40


def _healthz_count(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "her2_http_requests_total" and s.labels["route"] == "/healthz"
    )


def _get(url: str) -> int:
    # A new connection each time, so that both workers accept some.
    with requests.Session() as session:
        return session.get(url, timeout=10).status_code


def test_metrics_add_up_across_workers_and_every_log_line_is_json(
    tmp_path: Path, free_port: int
) -> None:
    port = free_port
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HER2_")}
    # The worktree's code, whatever the venv's editable install points at; the metrics
    # directory under tmp_path, where the test can see it.
    env |= {"PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    log = tmp_path / "serve.log"
    command = [
        str(Path(sys.executable).parent / "her2-status"),
        *("serve", "--port", str(port), "--workers", "2", "--threads", "2"),
    ]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=stderr, stderr=stderr, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{base}/readyz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        start = _healthz_count(base)
        (metrics_dir,) = tmp_path.glob("her2-status-metrics-*")
        # Which worker accepts a connection is up to the kernel: send rounds of new
        # connections until both workers have served (each keeps its own file), bounded.
        sent = 0
        for _ in range(10):
            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(_get, [f"{base}/healthz"] * REQUESTS))
            assert codes == [200] * REQUESTS
            sent += REQUESTS
            if len(list(metrics_dir.glob("counter_*.db"))) == 2:
                break
        assert len(list(metrics_dir.glob("counter_*.db"))) == 2
        # Each scrape, whichever worker answers it, counts every worker's requests.
        for _ in range(4):
            assert _healthz_count(base) - start == sent
        requests.post(f"{base}/fhir/Patient/{SECRET_ID}/$her2-status", timeout=10)
        requests.get(f"{base}/fhir/Patient/{SECRET_ID}", timeout=10)
        assert SECRET_ID not in requests.get(f"{base}/metrics", timeout=10).text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    lines = log.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    loggers = {r["logger"] for r in records}
    assert {"gunicorn.error", "gunicorn.access", "her2.request"} <= loggers
    access = [r for r in records if r["logger"] == "gunicorn.access"]
    assert {"method", "route", "status", "duration_ms", "request_id"} <= set(access[0])
    assert {"route": "/fhir/Patient/<patient_id>/$her2-status", "status": 400}.items() <= next(
        r for r in access if r["method"] == "POST"
    ).items()
    # Only the audit record names the patient, by id; no other line does.
    audits = [r for r in records if r["logger"] == "her2.audit"]
    assert [a["patient_id"] for a in audits] == [SECRET_ID]
    others = [x for x, r in zip(lines, records, strict=True) if r["logger"] != "her2.audit"]
    assert SECRET_ID not in "\n".join(others)
    assert not list(tmp_path.glob("her2-status-metrics-*")), "metrics directory left behind"

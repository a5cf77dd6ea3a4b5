"""Latency of ``POST /getClinicalTrial`` by number of configured trials (issue 14).

Usage: python bench/trial_endpoints.py [N ...]   (from the checkout; default 5 200 1000)

In process (Flask test client, no network, authentication off): the mCODE-shaped
HER2-low breast body (tests/fixtures/trials/mcode/breast-her2-low.json, without its
filters, so every trial is matched) against N ClinicalTrials.gov records copied from
the test fixtures under distinct NCT ids, each eligibility text made distinct by one
more (non-HER2) line, so that every study is read.  The first request (which reads the
directory and every study's criteria) is reported apart; then 30 requests, median and
p95 (the criteria of a study text are read once per process).
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.api import create_app
from service.settings import Settings, TrialSettings

ROOT = Path(__file__).resolve().parents[1]
TRIALS = ROOT / "tests" / "fixtures" / "trials"


def _records() -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for path in sorted((TRIALS / "ctgov").glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        for record in document.get("studies", [document]):
            if isinstance(record, dict) and "protocolSection" in record:
                found.append(record)
    return found


def _directory(folder: Path, count: int) -> None:
    records = _records()
    for index in range(count):
        record = copy.deepcopy(records[index % len(records)])
        protocol = record["protocolSection"]
        assert isinstance(protocol, dict)
        protocol["identificationModule"]["nctId"] = f"NCT{index:08d}"
        eligibility = protocol.setdefault("eligibilityModule", {})
        text = eligibility.get("eligibilityCriteria", "")
        eligibility["eligibilityCriteria"] = f"{text}\n- Site requirement number {index}"
        (folder / f"NCT{index:08d}.json").write_text(json.dumps(record), encoding="utf-8")


def run(count: int) -> tuple[float, float, float]:
    """First request, median and p95 of 30 requests, in milliseconds."""
    body = json.loads((TRIALS / "mcode" / "breast-her2-low.json").read_text(encoding="utf-8"))
    body["entry"] = [e for e in body["entry"] if e["resource"]["resourceType"] != "Parameters"]
    data = json.dumps(body)
    with tempfile.TemporaryDirectory() as tmp:
        _directory(Path(tmp), count)
        client = create_app(Settings(trials=TrialSettings(Path(tmp)))).test_client()
        times = []
        for _ in range(31):
            start = time.perf_counter()
            response = client.post("/getClinicalTrial", data=data, content_type="application/json")
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    first, rest = times[0], sorted(times[1:])
    return first, statistics.median(rest), rest[int(len(rest) * 0.95) - 1]


def main(argv: list[str]) -> None:
    """Print a Markdown table."""
    print("| trials | first request (ms) | median (ms) | p95 (ms) |")
    print("|---:|---:|---:|---:|")
    for count in [int(a) for a in argv] or [5, 200, 1000]:
        first, median, p95 = run(count)
        print(f"| {count} | {first:.0f} | {median:.0f} | {p95:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])

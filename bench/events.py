"""The event-driven mode on loopback: acknowledgement, posted → written latency, worker rate.

Real parts only: the project's HAPI test server (``FHIR_BASE_URL``, else one is
started) with a rest-hook Subscription made by ``her2-status subscribe``, and the
service as ``her2-status serve`` (gunicorn, 2 HTTP workers, its worker process with 2
threads).  Measured:

1. acknowledgement: ``PUT /fhir-hook/Observation/{id}`` straight to the service
   (secret header, an IHC payload), ``ACKS`` sequential calls, client-side time;
2. posted → written for single results: an IHC 3+ PUT to HAPI, one at a time, until
   the status Observation exists; latency = the status's ``meta.lastUpdated`` minus
   the input's (both HAPI's clock, so no polling error);
3. the same for a burst of ``BURST`` results PUT by 8 threads, and the worker's
   items/s over the burst (items / (last status written - first result posted)).

Run: ``PYTHONPATH=. .venv/bin/python bench/events.py [BURST]`` (default 200).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

from service.fhir.codes import SID_STATUS
from tests.builders import BREAST, concept, observation, specimen
from tests.integration.events_service import SECRET, UNAUTHENTICATED, EventService, wait_for
from tests.integration.fhir_server import Fhir
from tests.integration.hapi import fhir_server

ACKS = 1000
SINGLES = 20
RUN = uuid.uuid4().hex[:6]


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(label: str, values: list[float]) -> str:
    """One line: count, p50, p99, max."""
    return (
        f"{label}: n={len(values)} p50={percentile(values, 0.5):.1f} ms "
        f"p99={percentile(values, 0.99):.1f} ms max={max(values):.1f} ms"
    )


def instant(text: str) -> dt.datetime:
    """A FHIR instant as a datetime."""
    return dt.datetime.fromisoformat(text)


def seed(fhir: Fhir, pids: list[str]) -> None:
    """Patients and their breast specimens, in one transaction."""
    entries = []
    for pid in pids:
        for resource in (
            {"resourceType": "Patient", "id": pid},
            specimen(f"{pid}-s1", subject=f"Patient/{pid}", body_site=BREAST),
        ):
            entries.append(
                {
                    "resource": resource,
                    "request": {
                        "method": "PUT",
                        "url": f"{resource['resourceType']}/{resource['id']}",
                    },
                }
            )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = fhir.session.post(fhir.base_url, data=json.dumps(bundle), timeout=300)
    response.raise_for_status()


def ihc(pid: str) -> dict[str, Any]:
    """An IHC 3+ of the patient's specimen."""
    on = {"subject": f"Patient/{pid}", "specimen": f"Specimen/{pid}-s1", "effective": "2026-05-01"}
    return observation(f"{pid}-ihc", "85319-2", **on, **concept("LA11843-2"))


def status(fhir: Fhir, pid: str) -> dict[str, Any] | None:
    """The patient's status Observation, when written."""
    found = fhir.search("Observation", identifier=f"{SID_STATUS}|{pid}:Specimen/{pid}-s1:breast")
    return found[0] if found else None


def latency_ms(fhir: Fhir, pid: str, posted: dict[str, Any]) -> tuple[float, dt.datetime]:
    """Posted → written in HAPI's clock, and when it was written."""
    written = wait_for(lambda: status(fhir, pid), 600, f"the status of {pid}", step=0.05)
    end = instant(written["meta"]["lastUpdated"])
    return (end - instant(posted["meta"]["lastUpdated"])).total_seconds() * 1000, end


def acknowledgements(service: EventService) -> list[float]:
    """Client-side time of each notification's answer (sequential)."""
    session = requests.Session()
    headers = {"Content-Type": "application/fhir+json", "X-Her2-Hook-Secret": SECRET}
    times = []
    for n in range(ACKS):
        body = json.dumps(ihc(f"ack-{RUN}-{n}") | {"meta": {"versionId": "1"}})
        start = time.perf_counter()
        response = session.put(
            f"{service.url}/fhir-hook/Observation/ack-{RUN}-{n}-ihc",
            data=body,
            headers=headers,
            timeout=10,
        )
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 202, response.text
    return times


def main() -> None:
    """Run the three measurements and print them."""
    burst = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        base_url = stack.enter_context(fhir_server(directory))
        fhir = Fhir(base_url)
        service = EventService(
            base_url, directory, UNAUTHENTICATED, HER2_LOG_LEVEL="WARNING"
        ).start()
        stack.callback(service.stop)
        assert service.cli("subscribe").returncode == 0
        stack.callback(service.cli, "subscribe", "--remove")

        # Wait until HAPI delivers (the Subscription activates asynchronously).
        warm = f"warm-{RUN}"
        seed(fhir, [warm])
        fhir.put(ihc(warm))
        for attempt in range(60):
            if status(fhir, warm):
                break
            probe = ihc(warm) | {"note": [{"text": f"probe {attempt}"}]}
            fhir.put(probe)
            time.sleep(1)

        print(summary("acknowledgement", acknowledgements(service)))
        # The acknowledged items are processed (their patients do not exist: nothing is written).
        wait_for(lambda: service.ready()["queue"]["depth"] == 0, 600, "the queue to drain", 0.5)

        singles = [f"one-{RUN}-{n}" for n in range(SINGLES)]
        seed(fhir, singles)
        single_times = []
        for pid in singles:
            posted = fhir.put(ihc(pid))
            single_times.append(latency_ms(fhir, pid, posted)[0])
        print(summary("posted -> written, single", single_times))

        pids = [f"burst-{RUN}-{n}" for n in range(burst)]
        seed(fhir, pids)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            posted = list(pool.map(lambda pid: fhir.put(ihc(pid)), pids))
        results = [latency_ms(fhir, pid, p) for pid, p in zip(pids, posted, strict=True)]
        first = min(instant(p["meta"]["lastUpdated"]) for p in posted)
        last = max(end for _, end in results)
        print(summary(f"posted -> written, burst of {burst}", [ms for ms, _ in results]))
        seconds = (last - first).total_seconds()
        print(f"worker: {burst} items in {seconds:.1f} s = {burst / seconds:.1f} items/s")
        print(f"readyz queue: {service.ready()['queue']}")
        duplicates = sum(
            len(
                fhir.search(
                    "Observation", identifier=f"{SID_STATUS}|{pid}:Specimen/{pid}-s1:breast"
                )
            )
            != 1
            for pid in pids
        )
        print(f"patients without exactly one status: {duplicates}")
        print(f"mean single latency {statistics.fmean(single_times):.1f} ms")


if __name__ == "__main__":
    main()

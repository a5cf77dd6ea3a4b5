"""CDS Hooks under `her2-status serve` with two gunicorn workers: a jti is accepted once.

The seen-``jti`` store is one SQLite file in ``HER2_DATA_DIR``: a token accepted by
one worker is refused by the other, a burst of one token on many connections is
accepted exactly once, and a replay after a restart is still refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.builders import BREAST, ihc, specimen
from tests.builders.cds import (
    EHR_ISSUER,
    PUBLIC_URL,
    CdsClient,
    ehr_jwt,
    hook_body,
    http_transport,
    prefetch_of,
)
from tests.builders.serve import gunicorn, serve_command
from tests.builders.tokens import Issuer, JwksServer

SERVICE = "/cds-services/her2-status"
PREFETCH = prefetch_of([specimen("s1", body_site=BREAST), ihc("ihc1", specimen="Specimen/s1")])


@contextmanager
def serve(port: int, jwks_url: str, data_dir: Path, log: Path) -> Iterator[int]:
    """``her2-status serve`` with 2 workers; yields the master's pid."""
    env = {
        "HER2_CDS_ISSUERS": json.dumps({EHR_ISSUER: {"jwks_url": jwks_url}}),
        "HER2_CDS_PUBLIC_URL": PUBLIC_URL,
        "HER2_DATA_DIR": str(data_dir),
    }
    with gunicorn(serve_command(port, workers=2, threads=4), port, log, env) as process:
        yield process.pid


def _workers(master: int) -> set[int]:
    deadline = time.monotonic() + 30
    while True:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if len(children) == 2 or time.monotonic() > deadline:
            return {int(pid) for pid in children}
        time.sleep(0.2)


def _hook_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") == "her2.request" and record.get("route", "").startswith(
            "/cds-services/<"
        ):
            lines.append(record)
    return lines


def test_a_jti_is_accepted_once_across_two_workers_and_a_restart(
    ehr: Issuer, jwks: JwksServer, tmp_path: Path, free_port: int
) -> None:
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{free_port}"
    client = CdsClient(ehr, http_transport(base))
    burst_token = ehr_jwt(ehr, PUBLIC_URL + SERVICE)
    with serve(free_port, jwks.url, tmp_path / "data", log) as master:
        assert len(_workers(master)) == 2
        # One token on 24 connections at once: exactly one is accepted.
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(
                pool.map(
                    lambda _: (
                        client.send(
                            "POST", SERVICE, hook_body(prefetch=PREFETCH), burst_token
                        ).status
                    ),
                    range(24),
                )
            )
        assert sorted(statuses) == [200] + [401] * 23
        # Fresh tokens, each sent twice on new connections: the second is always refused.
        for _ in range(8):
            token = ehr_jwt(ehr, PUBLIC_URL + SERVICE)
            first = client.send("POST", SERVICE, hook_body(prefetch=PREFETCH), token)
            again = client.send("POST", SERVICE, hook_body(prefetch=PREFETCH), token)
            assert (first.status, again.status) == (200, 401)
        # Missing prefetch, no FHIR access: 412 from the real server too.
        assert client.call("her2-status", hook_body()).status == 412
    lines = _hook_lines(log)
    answered_by = {line["worker"] for line in lines}
    assert len(answered_by) == 2, "both workers must have answered hook calls"
    accepted = {line["worker"] for line in lines if line["status"] == 200}
    refused = {line["worker"] for line in lines if line.get("cds") == "replay"}
    assert accepted & refused or len(accepted | refused) == 2
    # A restart keeps what was seen.
    with serve(free_port, jwks.url, tmp_path / "data", log):
        replay = client.send("POST", SERVICE, hook_body(prefetch=PREFETCH), burst_token)
        assert replay.status == 401
        assert client.call("her2-status", hook_body(prefetch=PREFETCH)).status == 200
    assert _hook_lines(log)[-2]["cds"] == "replay"

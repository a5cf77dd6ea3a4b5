"""``her2-status worker``, ``queue`` and ``subscribe`` without a FHIR server; ``serve``'s worker."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from service.app.queue import Notice
from service.app.sqlite_queue import SqliteQueue
from service.cli import EXIT_OK, EXIT_USAGE, main
from service.cli_events import LOCK_NAME, WorkerProcess

SECRET = "s3cret-hook-value-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "HER2_FHIR_BASE_URL": "http://127.0.0.1:1/fhir",  # nothing listens there
        "HER2_FHIR_RETRIES": "0",
        "HER2_FHIR_CONNECT_TIMEOUT": "0.5",
        "HER2_AUTH": "off",
        "HER2_DATA_DIR": str(tmp_path / "data"),
        "HER2_HOOK_SECRET": SECRET,
        "HER2_LOCK_DIR": str(tmp_path / "locks"),
    }
    for name in list(os.environ):
        if name.startswith("HER2_"):
            monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def parked_queue(directory: Path) -> SqliteQueue:
    queue = SqliteQueue(directory)
    for rid in ("a", "b"):
        queue.enqueue(Notice("Observation", rid, "1", "p"), time.time())
        item = queue.claim("t", time.time(), 60)
        assert item is not None
        queue.park(item, "too_many_matches")
    return queue


def test_queue_lists_parked_items_with_reasons_and_no_patient(tmp_path: Path) -> None:
    parked_queue(tmp_path / "data")
    code, out = run("queue")
    assert code == EXIT_OK
    document = json.loads(out)
    assert document["depth"] == 0
    assert [(p["resource"], p["reason"], p["attempts"]) for p in document["parked"]] == [
        ("Observation/a", "too_many_matches", 1),
        ("Observation/b", "too_many_matches", 1),
    ]
    assert '"p"' not in out


def test_queue_retry_puts_parked_items_back(tmp_path: Path) -> None:
    queue = parked_queue(tmp_path / "data")
    first = queue.parked()[0].item_id
    assert run("queue", "--retry", str(first)) == (EXIT_OK, '{"retried": 1}\n')
    assert run("queue", "--retry", "999")[0] == 2
    assert [i.notice.resource_id for i in queue.parked()] == ["b"]
    assert run("queue", "--retry-all") == (EXIT_OK, '{"retried": 1}\n')
    assert queue.parked() == []
    assert queue.stats(time.time()).depth == 2


def test_queue_catch_up_since_sets_the_watermark_and_asks_for_a_catch_up(tmp_path: Path) -> None:
    code, out = run("queue", "--catch-up-since", "2026-01-01T01:00:00+01:00")
    assert code == EXIT_OK
    assert json.loads(out) == {"watermark": "2026-01-01T00:00:00.000Z"}
    assert SqliteQueue(tmp_path / "data").take_catchup_request()
    assert run("queue", "--catch-up-since", "2026-01-01")[0] == EXIT_USAGE  # no time zone
    assert run("queue", "--catch-up-since", "yesterday")[0] == EXIT_USAGE


@pytest.mark.parametrize("command", [["worker"], ["queue"], ["subscribe"]])
def test_the_commands_need_the_event_settings(
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("HER2_HOOK_SECRET")
    assert run(*command)[0] == EXIT_USAGE
    assert "event-driven mode is off" in capsys.readouterr().err


def test_subscribe_needs_a_public_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("subscribe")[0] == EXIT_USAGE
    assert "HER2_PUBLIC_URL" in capsys.readouterr().err


def test_subscribe_reports_an_unreachable_server_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HER2_PUBLIC_URL", "http://127.0.0.1:9/")
    assert run("subscribe", "--status")[0] == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unavailable" in err
    assert SECRET not in err


def test_an_unsafe_data_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir(mode=0o777)
    (tmp_path / "data").chmod(0o777)
    assert run("queue")[0] == EXIT_USAGE
    assert "private" in capsys.readouterr().err


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker", "--threads", "1"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _wait(condition: object, timeout: float = 120.0) -> None:
    # A generous bound, not a speed check: the worker is a fresh interpreter whose
    # start took over 30 s once when the bare-clone test ran the unit tests in parallel.
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_worker_retries_while_the_server_is_down_and_stops_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    queue = SqliteQueue(tmp_path / "data")
    queue.enqueue(Notice("Observation", "ihc", "1", "p"), time.time())
    log = tmp_path / "worker.log"
    worker = _worker(env, log)
    standby = None
    try:
        _wait(lambda: queue.stats(time.time()).depth == 1 and _retried(queue))
        lock = (tmp_path / "data" / LOCK_NAME).read_text()
        assert lock.strip() == str(worker.pid)
        standby = _worker(env, log)  # a second worker waits for the lock
        _wait(lambda: "standby" in log.read_text())
        assert standby.poll() is None
    finally:
        for process in (worker, standby):
            if process is not None:
                process.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert standby is not None
    assert standby.wait(30) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    items = [line for line in lines if line.get("event") == "item"]
    assert items[0]["outcome"] == "retry-server_unavailable"
    assert items[0]["resource"] == "Observation/ihc"
    assert all('"p"' not in json.dumps(line) for line in items)


def _retried(queue: SqliteQueue) -> bool:
    # Read, never claim: a probe's claim leases the item, and a lease taken before the
    # worker's first attempt (a slow start under load) would hide the item from it.
    with closing(sqlite3.connect(queue.path)) as db:
        rows = db.execute("SELECT state, reason FROM items").fetchall()
    return rows == [("pending", "server_unavailable")]


def test_serve_s_worker_process_is_restarted_when_it_dies(tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    script = f"open({str(marker)!r}, 'a').write('x'); import time; time.sleep(60)"
    supervisor = WorkerProcess([sys.executable, "-c", script], restart_delay=0.1).start()
    try:
        _wait(lambda: marker.exists() and marker.read_text() == "x")
        assert supervisor.process is not None
        first = supervisor.process.pid
        os.kill(first, signal.SIGKILL)
        _wait(lambda: marker.read_text() == "xx")
        assert supervisor.process.pid != first
    finally:
        supervisor.stop()
    assert supervisor.process.poll() is not None

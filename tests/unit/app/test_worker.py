"""The worker against the in-memory store and queue: derive, retry, park, redeliver, log."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.app.catchup import CatchUp
from service.app.locks import FileLocks, WriteBusy
from service.app.memory_queue import MemoryQueue
from service.app.memory_store import MemoryStore
from service.app.queue import DELETED, Notice
from service.app.rederive import RederivePatient, WriteOutcome
from service.app.worker import Policy, Worker
from service.clients.errors import (
    FhirNotFound,
    FhirRequestRejected,
    FhirServerUnavailable,
    FhirTimeout,
    FhirTooManyMatches,
)
from service.fhir.codes import SID_STATUS
from service.settings import DerivationSettings
from tests.builders import BREAST, CASE_PATIENT, CASE_SPECIMEN, case_ihc, case_ish, specimen

PATIENT_ID = CASE_PATIENT.split("/")[1]
KEY = f"{PATIENT_ID}:{CASE_SPECIMEN}:breast"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Finder:
    """Knows the patient of every resource id it was told about."""

    def __init__(self, patients: dict[str, str | None] | None = None) -> None:
        self.patients = patients or {}
        self.asked: list[Notice] = []

    def patient_of(self, notice: Notice) -> str | None:
        self.asked.append(notice)
        return self.patients.get(notice.resource_id)


class Failing:
    """A Patient-level command that fails with the given errors, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, patient_id: str, persist: bool, now: dt.datetime) -> WriteOutcome:  # noqa: ARG002
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return WriteOutcome({}, [], True, 1, written=3)


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    memory.put(specimen("current", subject=CASE_PATIENT, body_site=BREAST))
    return memory


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_worker(
    queue: MemoryQueue, rederive: Any, clock: Clock, finder: Finder | None = None, **kw: Any
) -> Worker:
    return Worker(queue, rederive, finder or Finder(), clock=clock, owner="test", **kw)


@pytest.fixture
def rederive(store: MemoryStore, tmp_path: Path) -> RederivePatient:
    return RederivePatient(store, FileLocks(tmp_path / "locks"), DerivationSettings())


def status(store: MemoryStore) -> tuple[str, str, str]:
    found = store.find("Observation", SID_STATUS, KEY)
    assert found is not None
    code = next(
        c["code"]
        for c in found["valueCodeableConcept"]["coding"]
        if c["system"].endswith("/her2-status")
    )
    return found["status"], code, found["meta"]["versionId"]


def test_an_ihc_2_plus_notice_writes_an_equivocal_preliminary_status(
    store: MemoryStore, queue: MemoryQueue, rederive: RederivePatient, clock: Clock
) -> None:
    store.put(case_ihc("ihc", "2+"))
    queue.enqueue(Notice("Observation", "ihc", "1", PATIENT_ID), clock())
    worker = make_worker(queue, rederive, clock)
    assert worker.step()
    assert status(store)[:2] == ("preliminary", "equivocal")
    assert queue.stats(clock()).depth == 0
    assert not worker.step()


def test_the_reflex_ish_makes_the_same_status_final(
    store: MemoryStore, queue: MemoryQueue, rederive: RederivePatient, clock: Clock
) -> None:
    worker = make_worker(queue, rederive, clock)
    store.put(case_ihc("ihc", "2+"))
    queue.enqueue(Notice("Observation", "ihc", "1", PATIENT_ID), clock())
    worker.step()
    values = {
        "her2_cep17_ratio": Decimal("2.5"),
        "avg_her2_copies": Decimal("5.0"),
        "avg_cep17_copies": Decimal("2.0"),
    }
    for resource in case_ish("ish", values):
        store.put(resource)
        queue.enqueue(Notice("Observation", resource["id"], "1", PATIENT_ID), clock())
    while worker.step():
        pass
    assert status(store) == ("final", "positive", "2")
    assert len(store.status_observations(PATIENT_ID, SID_STATUS)) == 1


def test_a_redelivered_item_writes_nothing_more(
    store: MemoryStore, queue: MemoryQueue, rederive: RederivePatient, clock: Clock
) -> None:
    store.put(case_ihc("ihc", "3+"))
    worker = make_worker(queue, rederive, clock)
    queue.enqueue(Notice("Observation", "ihc", "", PATIENT_ID), clock())
    worker.step()
    commits = store.commits
    queue.enqueue(Notice("Observation", "ihc", "", PATIENT_ID), clock())  # redelivery
    assert worker.step()
    assert store.commits == commits
    assert status(store)[2] == "1"


def test_a_delete_notice_finds_its_patient_and_rederives_it(
    queue: MemoryQueue, clock: Clock
) -> None:
    command = Failing()
    seen: list[str] = []

    def recording(patient_id: str, persist: bool, now: dt.datetime) -> WriteOutcome:
        seen.append(patient_id)
        return command(patient_id, persist, now)

    finder = Finder({"ihc": PATIENT_ID})
    worker = make_worker(queue, recording, clock, finder)
    queue.enqueue(Notice("Observation", "ihc", DELETED), clock())
    assert worker.step()
    assert finder.asked == [Notice("Observation", "ihc", DELETED)]
    assert seen == [PATIENT_ID]


def test_an_unknown_patient_is_parked(queue: MemoryQueue, clock: Clock) -> None:
    queue.enqueue(Notice("Observation", "orphan"), clock())
    command = Failing()
    make_worker(queue, command, clock).step()
    assert command.calls == 0
    assert [(i.notice.resource_id, i.reason) for i in queue.parked()] == [("orphan", "no-patient")]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (FhirServerUnavailable("x"), "server_unavailable"),
        (FhirTimeout("x"), "timeout"),
        (WriteBusy(), "write-busy"),
        (RuntimeError("Patient/secret"), "error-RuntimeError"),
    ],
)
def test_transient_failures_are_retried_with_back_off(
    queue: MemoryQueue, clock: Clock, error: Exception, reason: str
) -> None:
    queue.enqueue(Notice("Observation", "a", "1", "p"), clock())
    command = Failing(error, error)
    worker = make_worker(queue, command, clock, policy=Policy(backoff_seconds=5))
    worker.step()
    assert queue.entries[1].item.reason == reason
    assert not worker.step()  # waiting for the back-off
    clock.now += 5
    worker.step()  # second failure: the delay doubles
    clock.now += 9
    assert not worker.step()
    clock.now += 1
    assert worker.step()
    assert command.calls == 3
    assert queue.stats(clock()).depth == 0


def test_an_item_that_keeps_failing_is_parked(queue: MemoryQueue, clock: Clock) -> None:
    queue.enqueue(Notice("Observation", "a", "1", "p"), clock())
    command = Failing(*[FhirServerUnavailable("x")] * 5)
    worker = make_worker(queue, command, clock, policy=Policy(max_attempts=3, backoff_seconds=1))
    for _ in range(10):
        worker.step()
        clock.now += 100
    assert command.calls == 3
    (parked,) = queue.parked()
    assert (parked.reason, parked.attempts) == ("gave-up-server_unavailable", 3)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (FhirTooManyMatches("x"), "too_many_matches"),
        (FhirRequestRejected("x", 400), "request_rejected"),
        (FhirNotFound("x", 404), "not_found"),
    ],
)
def test_what_a_retry_cannot_fix_is_parked_at_once(
    queue: MemoryQueue, clock: Clock, error: Exception, reason: str
) -> None:
    queue.enqueue(Notice("Observation", "a", "1", "p"), clock())
    command = Failing(error)
    make_worker(queue, command, clock).step()
    assert [i.reason for i in queue.parked()] == [reason]


def test_one_log_line_per_item_with_ids_and_outcome_only(
    store: MemoryStore,
    queue: MemoryQueue,
    rederive: RederivePatient,
    clock: Clock,
) -> None:
    store.put(case_ihc("ihc", "2+"))
    queue.enqueue(Notice("Observation", "ihc", "1", PATIENT_ID), clock())
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logger = logging.getLogger("her2.worker")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        make_worker(queue, rederive, clock).step()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    (record,) = [r for r in records if r.getMessage() == "item"]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["resource"] == "Observation/ihc"
    # Observation, Provenance and the Device (no therapy List while equivocal).
    assert (fields["outcome"], fields["written"], fields["attempt"]) == ("done", 3, 1)
    assert PATIENT_ID not in repr(fields)


class Feed:
    def __init__(self, *notices: Notice, error: Exception | None = None) -> None:
        self.notices = notices
        self.error = error
        self.since: list[str] = []

    def changed_since(self, codes: Any, since: str) -> Any:  # noqa: ARG002
        self.since.append(since)
        if self.error is not None:
            raise self.error
        yield from self.notices


def test_the_loop_catches_up_at_start_and_on_request(queue: MemoryQueue, clock: Clock) -> None:
    feed = Feed(Notice("Observation", "late", "1", "p"))
    command = Failing()
    catchup = CatchUp(queue, feed, [("http://loinc.org", "85319-2")], clock=clock)
    worker = make_worker(queue, command, clock, catchup=catchup, catchup_interval=300)
    worker.run_catchup_if_due()  # the first: sets the watermark only
    assert feed.since == []
    assert queue.watermark() is not None
    clock.now += 10
    worker.run_catchup_if_due()  # not due yet
    assert feed.since == []
    queue.request_catchup()
    worker.run_catchup_if_due()
    assert len(feed.since) == 1
    assert worker.step()
    assert command.calls == 1


def test_run_processes_until_stopped_and_releases_stale_leases(
    queue: MemoryQueue, clock: Clock
) -> None:
    queue.enqueue(Notice("Observation", "a", "1", "p"), clock())
    queue.claim("dead", clock(), 300)  # a worker died holding it
    stop = threading.Event()
    command = Failing()

    class Stopping:
        def __call__(self, patient_id: str, persist: bool, now: dt.datetime) -> WriteOutcome:
            stop.set()
            return command(patient_id, persist, now)

    make_worker(queue, Stopping(), clock, policy=Policy(idle_seconds=0.01)).run(stop, threads=2)
    assert command.calls == 1
    assert queue.stats(clock()).depth == 0
    assert queue.state["worker_seen"]

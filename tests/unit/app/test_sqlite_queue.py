"""The SQLite queue on a real file: dedupe, versions, leases, back-off, parking, watermark.

The same contract is run against the in-memory fake, so that the worker's tests
(which use the fake) test against the behaviour of the real queue.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from service.app.memory_queue import MemoryQueue
from service.app.queue import DELETED, Notice, Queue, QueueError
from service.app.sqlite_queue import FILE_NAME, DataDirError, SqliteQueue

T0 = 1_800_000_000.0
LEASE = 60.0


def obs(rid: str, version: str = "1", patient: str | None = "") -> Notice:
    """An Observation notice; its own patient unless one is named (None: unknown)."""
    return Notice("Observation", rid, version, f"p-{rid}" if patient == "" else patient)


@pytest.fixture(params=["sqlite", "memory"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Queue:
    if request.param == "sqlite":
        return SqliteQueue(tmp_path / "data")
    return MemoryQueue()


def test_enqueue_then_claim_gives_the_notice_back(queue: Queue) -> None:
    assert queue.enqueue(obs("a", "3"), T0)
    item = queue.claim("w", T0, LEASE)
    assert item is not None
    assert (item.notice, item.attempts) == (obs("a", "3"), 0)
    assert queue.claim("w", T0, LEASE) is None  # leased: not handed out twice


def test_a_waiting_duplicate_is_recorded_once(queue: Queue) -> None:
    assert queue.enqueue(obs("a", "1"), T0)
    assert not queue.enqueue(obs("a", "1"), T0 + 1)
    assert queue.enqueue(obs("a", "2"), T0 + 1)
    assert queue.stats(T0 + 1).depth == 2


def test_a_processed_version_and_older_ones_are_ignored(queue: Queue) -> None:
    queue.enqueue(obs("a", "5"), T0)
    item = queue.claim("w", T0, LEASE)
    assert item is not None
    queue.done(item)
    assert not queue.enqueue(obs("a", "5"), T0 + 1)  # redelivered
    assert not queue.enqueue(obs("a", "4"), T0 + 1)  # out of order, older
    assert queue.enqueue(obs("a", "6"), T0 + 1)
    assert queue.enqueue(obs("b", "1"), T0 + 1)  # another resource


def test_an_older_version_waiting_behind_a_newer_processed_one_is_dropped(queue: Queue) -> None:
    queue.enqueue(obs("a", "3"), T0)
    queue.enqueue(obs("a", "2"), T0)  # arrived out of order
    first = queue.claim("w", T0, LEASE)
    assert first is not None
    assert first.notice.version == "3"
    queue.done(first)
    assert queue.claim("w", T0, LEASE) is None
    assert queue.stats(T0).depth == 0


def test_deletes_and_unknown_versions_are_never_taken_for_processed(queue: Queue) -> None:
    queue.enqueue(obs("a", "2"), T0)
    item = queue.claim("w", T0, LEASE)
    assert item is not None
    queue.done(item)
    assert queue.enqueue(obs("a", DELETED, None), T0)
    assert queue.enqueue(obs("a", "", None), T0)
    assert not queue.enqueue(obs("a", DELETED, None), T0)  # but deduped while waiting


def test_waiting_items_of_the_same_patient_come_as_one_batch(queue: Queue) -> None:
    queue.enqueue(obs("ihc", patient="p1"), T0)
    queue.enqueue(obs("other", patient="p2"), T0)
    queue.enqueue(obs("ratio", patient="p1"), T0)
    queue.enqueue(obs("her2", patient="p1"), T0)
    queue.enqueue(obs("deleted", DELETED, None), T0)
    item = queue.claim("w", T0, LEASE)
    assert item is not None
    assert [i.notice.resource_id for i in (item, *item.batch)] == ["ihc", "ratio", "her2"]
    queue.done(item)
    assert not queue.enqueue(obs("ratio", patient="p1"), T0)  # the batch's versions count
    rest = []
    while (next_item := queue.claim("w", T0, LEASE)) is not None:
        rest.append((next_item.notice.resource_id, len(next_item.batch)))
    assert rest == [("other", 0), ("deleted", 0)]


def test_a_failed_batch_leaves_its_other_items_waiting(queue: Queue) -> None:
    queue.enqueue(obs("ihc", patient="p1"), T0)
    queue.enqueue(obs("ratio", patient="p1"), T0)
    item = queue.claim("w", T0, LEASE)
    assert item is not None
    assert len(item.batch) == 1
    queue.retry(item, "timeout", T0 + 60)
    again = queue.claim("w", T0, LEASE)
    assert again is not None
    assert (again.notice.resource_id, again.attempts) == ("ratio", 0)
    queue.park(again, "request_rejected")
    assert [i.notice.resource_id for i in queue.parked()] == ["ratio"]


def test_items_come_out_in_arrival_order(queue: Queue) -> None:
    for rid in ("c", "a", "b"):
        queue.enqueue(obs(rid), T0)
    claimed = []
    while (item := queue.claim("w", T0, LEASE)) is not None:
        claimed.append(item.notice.resource_id)
    assert claimed == ["c", "a", "b"]


def test_an_expired_lease_hands_the_item_out_again(queue: Queue) -> None:
    queue.enqueue(obs("a"), T0)
    first = queue.claim("w1", T0, LEASE)
    assert first is not None
    assert queue.claim("w2", T0 + LEASE - 1, LEASE) is None
    again = queue.claim("w2", T0 + LEASE, LEASE)
    assert again is not None
    assert again.item_id == first.item_id


def test_released_leases_are_handed_out_at_once(queue: Queue) -> None:
    queue.enqueue(obs("a"), T0)
    assert queue.claim("w1", T0, LEASE) is not None
    assert queue.release_leases() == 1
    assert queue.claim("w2", T0, LEASE) is not None


def test_a_retried_item_waits_for_its_back_off(queue: Queue) -> None:
    queue.enqueue(obs("a"), T0)
    item = queue.claim("w", T0, LEASE)
    assert item is not None
    queue.retry(item, "timeout", T0 + 10)
    assert queue.claim("w", T0 + 9, LEASE) is None
    again = queue.claim("w", T0 + 10, LEASE)
    assert again is not None
    assert (again.attempts, again.reason) == (1, "timeout")


def test_parked_items_are_listed_with_their_reason_and_can_be_retried(queue: Queue) -> None:
    queue.enqueue(obs("a"), T0)
    queue.enqueue(obs("b"), T0)
    for _ in range(2):
        item = queue.claim("w", T0, LEASE)
        assert item is not None
        queue.park(item, "too_many_matches")
    assert queue.claim("w", T0 + 10_000, LEASE) is None  # parked items are never handed out
    parked = queue.parked()
    assert [(p.notice.resource_id, p.reason, p.attempts) for p in parked] == [
        ("a", "too_many_matches", 1),
        ("b", "too_many_matches", 1),
    ]
    stats = queue.stats(T0)
    assert (stats.depth, stats.parked) == (0, 2)
    assert queue.unpark(parked[0].item_id, T0 + 1) == 1
    assert queue.unpark(12345, T0 + 1) == 0
    again = queue.claim("w", T0 + 1, LEASE)
    assert again is not None
    assert (again.notice.resource_id, again.attempts) == ("a", 0)
    assert queue.unpark(None, T0 + 1) == 1


def test_stats_report_depth_and_the_oldest_age(queue: Queue) -> None:
    assert queue.stats(T0).oldest_pending_seconds is None
    queue.enqueue(obs("a"), T0)
    queue.enqueue(obs("b"), T0 + 5)
    stats = queue.stats(T0 + 7)
    assert (stats.depth, stats.oldest_pending_seconds, stats.parked) == (2, 7.0, 0)
    queue.heartbeat(T0 + 6)
    assert queue.stats(T0 + 7).worker_seen_seconds == 1.0


def test_the_watermark_only_moves_forward(queue: Queue) -> None:
    assert queue.watermark() is None
    queue.advance_watermark("2026-11-30T10:00:00.000Z")
    queue.advance_watermark("2026-11-30T09:00:00.000Z")
    assert queue.watermark() == "2026-11-30T10:00:00.000Z"
    queue.advance_watermark("2026-11-30T11:00:00.000Z")
    assert queue.stats(T0).watermark == "2026-11-30T11:00:00.000Z"


def test_a_catch_up_request_is_taken_once(queue: Queue) -> None:
    assert not queue.take_catchup_request()
    queue.request_catchup()
    queue.request_catchup()
    assert queue.take_catchup_request()
    assert not queue.take_catchup_request()


# --- the SQLite file itself -------------------------------------------------------------


def test_the_file_is_created_in_a_private_directory_in_wal_mode(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "data"
    SqliteQueue(directory).enqueue(obs("a"), T0)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / FILE_NAME).stat().st_mode) == 0o600
    with sqlite3.connect(directory / FILE_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_items_and_watermark_survive_a_restart(tmp_path: Path) -> None:
    first = SqliteQueue(tmp_path)
    first.enqueue(obs("a", "2"), T0)
    first.enqueue(obs("b", "1"), T0)
    assert first.claim("dead-worker", T0, LEASE) is not None  # then the process dies
    first.advance_watermark("2026-11-30T10:00:00.000Z")
    first.close()
    second = SqliteQueue(tmp_path)
    assert second.release_leases() == 1
    claimed = {second.claim("w", T0, LEASE).notice.resource_id for _ in range(2)}  # type: ignore[union-attr]
    assert claimed == {"a", "b"}
    assert second.watermark() == "2026-11-30T10:00:00.000Z"


def test_two_connections_never_claim_the_same_item(tmp_path: Path) -> None:
    one, two = SqliteQueue(tmp_path), SqliteQueue(tmp_path)
    for rid in "abcdef":
        one.enqueue(obs(rid), T0)
    claimed = []
    for queue in [one, two] * 4:
        item = queue.claim("w", T0, LEASE)
        if item is not None:
            claimed.append(item.item_id)
    assert len(claimed) == 6
    assert len(set(claimed)) == 6


@pytest.mark.parametrize(
    "make",
    [
        lambda d: d.chmod(0o750),
        lambda d: (d.rmdir(), d.parent.joinpath("real").mkdir(mode=0o700), d.symlink_to("real")),
    ],
    ids=["group-readable", "symlink"],
)
def test_an_unsafe_data_directory_is_refused(
    tmp_path: Path, make: Callable[[Path], object]
) -> None:
    directory = tmp_path / "data"
    directory.mkdir(mode=0o700)
    make(directory)
    with pytest.raises(DataDirError, match="HER2_DATA_DIR"):
        SqliteQueue(directory)


def test_a_broken_file_is_a_queue_error_with_no_content(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path)
    queue.close()
    (tmp_path / FILE_NAME).write_bytes(b"not a database" * 100)
    for suffix in ("-wal", "-shm"):
        path = tmp_path / (FILE_NAME + suffix)
        if path.exists():
            os.remove(path)
    with pytest.raises(QueueError) as caught:
        queue.enqueue(obs("secret-id"), T0)
    assert "secret-id" not in str(caught.value)


def test_a_connection_with_a_stale_snapshot_is_replaced_and_the_write_retried(
    tmp_path: Path,
) -> None:
    queue, other = SqliteQueue(tmp_path), SqliteQueue(tmp_path)
    for rid in "ab":
        queue.enqueue(obs(rid), T0)
    # A read left open on this thread's connection pins an old snapshot…
    pinned = queue._connection().execute("SELECT id FROM items")
    pinned.fetchone()
    other.enqueue(obs("c"), T0)  # …which another writer then makes stale.
    stale = queue._connection()
    with pytest.raises(sqlite3.OperationalError):
        stale.execute("BEGIN IMMEDIATE")  # what the first attempt meets
    assert queue.enqueue(obs("d"), T0)  # discarded, reopened, retried
    assert queue.stats(T0).depth == 4
    del pinned

"""The durable queue in one SQLite file in ``HER2_DATA_DIR`` (WAL, created on first start).

Items wait in ``items`` (pending, leased or parked; done ones are deleted), the
highest processed version of every resource in ``processed``, and the catch-up
watermark, the catch-up request and the worker's heartbeat in ``state``.  Every
change is one ``BEGIN IMMEDIATE`` transaction, committed with ``synchronous=FULL``:
an acknowledged notification survives a crash of the process or of the machine.

The directory is private to the service's user (0700; refused when it is a
symlink, someone else's, or writable by others): the file names resource and
patient ids.  Back it up with SQLite's online backup (``sqlite3 events.sqlite3
".backup copy"``), not by copying the file while the service runs.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import ParamSpec, TypeVar

from service.app.queue import DELETED, Item, Notice, QueueError, QueueStats, newer
from service.private_dir import PrivateDirError, ensure_private_dir

FILE_NAME = "events.sqlite3"
P = ParamSpec("P")
T = TypeVar("T")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rtype TEXT NOT NULL,
    rid TEXT NOT NULL,
    version TEXT NOT NULL,
    patient TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'parked')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due REAL NOT NULL,
    enqueued REAL NOT NULL,
    lease_until REAL,
    owner TEXT,
    reason TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS items_key ON items (rtype, rid, version);
CREATE INDEX IF NOT EXISTS items_state ON items (state, due);
CREATE TABLE IF NOT EXISTS processed (
    rtype TEXT NOT NULL,
    rid TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (rtype, rid)
);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = "id, rtype, rid, version, patient, attempts, reason"


# The data directory's refusal: the one check of every private directory.
DataDirError = PrivateDirError


def _kind(exc: sqlite3.Error) -> str:
    """The error's SQLite name (``SQLITE_BUSY``): a code, never the statement or a value."""
    return str(getattr(exc, "sqlite_errorname", None) or type(exc).__name__)


def _item(row: tuple[object, ...]) -> Item:
    item_id, rtype, rid, version, patient, attempts, reason = row
    notice = Notice(str(rtype), str(rid), str(version), None if patient is None else str(patient))
    return Item(
        int(str(item_id)), notice, int(str(attempts)), None if reason is None else str(reason)
    )


_BUSY_RETRIES = 3


def _retried(method: Callable[P, T]) -> Callable[P, T]:
    """Run a queue operation again (on a fresh connection) when SQLite was busy."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(_BUSY_RETRIES):
            try:
                return method(*args, **kwargs)
            except QueueError as exc:
                if not str(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                    raise
                if attempt == _BUSY_RETRIES - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


class SqliteQueue:
    """The queue port on one SQLite file; safe across threads and processes."""

    def __init__(self, directory: Path) -> None:
        """Create (or open) the file and its tables.

        Raises:
            DataDirError: see ``ensure_private_dir``.
            sqlite3.Error: when the file cannot be opened.
        """
        ensure_private_dir(directory, "HER2_DATA_DIR")
        self.path = directory / FILE_NAME
        if not self.path.exists():
            # Created private before SQLite opens it.  Only here, never beside open
            # connections: closing any descriptor of the file drops every POSIX lock
            # this process holds on it, SQLite's included.
            with suppress(FileExistsError):
                os.close(
                    os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                )
        self._local = threading.local()
        with self._transaction() as db:
            # One statement at a time: executescript would commit our transaction.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and process: a connection must not cross a fork.
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None or getattr(self._local, "pid", None) != os.getpid():
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
            self._local.pid = os.getpid()
        return connection

    def _discard(self) -> None:
        """Drop this thread's connection after an error: the next call opens a fresh one.

        A connection that failed may keep a stale read snapshot, on which every later
        write fails at once with ``SQLITE_BUSY_SNAPSHOT``.
        """
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with suppress(sqlite3.Error):
                connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._discard()
            raise QueueError(_kind(exc)) from None
        try:
            yield db
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._discard()  # closing rolls back what was not committed
            raise QueueError(_kind(exc)) from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._discard()
            raise QueueError(_kind(exc)) from None

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # --- items ---------------------------------------------------------------------------

    @_retried
    def enqueue(self, notice: Notice, now: float) -> bool:
        """Record a notice unless it waits already or is not newer than one processed."""
        with self._transaction() as db:
            if notice.version not in ("", DELETED):
                row = db.execute(
                    "SELECT version FROM processed WHERE rtype = ? AND rid = ?",
                    (notice.resource_type, notice.resource_id),
                ).fetchone()
                if row is not None and not newer(notice.version, row[0]):
                    return False
            cursor = db.execute(
                "INSERT OR IGNORE INTO items (rtype, rid, version, patient, state, due, enqueued)"
                " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                (
                    notice.resource_type,
                    notice.resource_id,
                    notice.version,
                    notice.patient_id,
                    now,
                    now,
                ),
            )
            return cursor.rowcount == 1

    @_retried
    def claim(self, owner: str, now: float, lease_seconds: float) -> Item | None:
        """The oldest due item (pending, or leased with an expired lease), now leased.

        An item whose version is not newer than one processed, or that a newer
        waiting version of the same resource supersedes, is dropped on the way:
        deriving the patient for the newer one covers it.
        """
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM items"
                " WHERE (state = 'pending' AND due <= ?) OR (state = 'leased' AND lease_until <= ?)"
                " ORDER BY id LIMIT 50",
                (now, now),
            ).fetchall()
            for row in rows:
                item = _item(row)
                if self._covered(db, item.notice):
                    db.execute("DELETE FROM items WHERE id = ?", (item.item_id,))
                    continue
                db.execute(
                    "UPDATE items SET state = 'leased', lease_until = ?, owner = ? WHERE id = ?",
                    (now + lease_seconds, owner, item.item_id),
                )
                if item.notice.patient_id is None:
                    return item
                batch = [
                    _item(other)
                    for other in db.execute(
                        f"SELECT {_COLUMNS} FROM items"
                        " WHERE patient = ? AND state = 'pending' AND id != ? ORDER BY id",
                        (item.notice.patient_id, item.item_id),
                    ).fetchall()
                ]
                db.executemany(
                    "UPDATE items SET state = 'leased', lease_until = ?, owner = ? WHERE id = ?",
                    [(now + lease_seconds, owner, other.item_id) for other in batch],
                )
                return replace(item, batch=tuple(batch))
        return None

    @staticmethod
    def _covered(db: sqlite3.Connection, notice: Notice) -> bool:
        if notice.version in ("", DELETED):
            return False
        row = db.execute(
            "SELECT version FROM processed WHERE rtype = ? AND rid = ?",
            (notice.resource_type, notice.resource_id),
        ).fetchone()
        if row is not None and not newer(notice.version, row[0]):
            return True
        waiting = db.execute(
            "SELECT version FROM items WHERE rtype = ? AND rid = ? AND state != 'parked'",
            (notice.resource_type, notice.resource_id),
        ).fetchall()
        return any(
            v.isdigit() and notice.version.isdigit() and int(v) > int(notice.version)
            for (v,) in waiting
        )

    @_retried
    def done(self, item: Item) -> None:
        """Delete the item and its batch; remember versions newer than the ones processed."""
        with self._transaction() as db:
            for settled in (item, *item.batch):
                db.execute("DELETE FROM items WHERE id = ?", (settled.item_id,))
                self._processed(db, settled.notice)

    @staticmethod
    def _processed(db: sqlite3.Connection, notice: Notice) -> None:
        if notice.version in ("", DELETED):
            return
        row = db.execute(
            "SELECT version FROM processed WHERE rtype = ? AND rid = ?",
            (notice.resource_type, notice.resource_id),
        ).fetchone()
        if row is None or (
            notice.version.isdigit() and row[0].isdigit() and int(notice.version) > int(row[0])
        ):
            db.execute(
                "INSERT OR REPLACE INTO processed (rtype, rid, version) VALUES (?, ?, ?)",
                (notice.resource_type, notice.resource_id, notice.version),
            )
        elif not (notice.version.isdigit() and row[0].isdigit()):
            # Opaque versionIds cannot be ordered: the last one processed is kept.
            db.execute(
                "UPDATE processed SET version = ? WHERE rtype = ? AND rid = ?",
                (notice.version, notice.resource_type, notice.resource_id),
            )

    @staticmethod
    def _release_batch(db: sqlite3.Connection, item: Item) -> None:
        db.executemany(
            "UPDATE items SET state = 'pending', lease_until = NULL, owner = NULL WHERE id = ?",
            [(other.item_id,) for other in item.batch],
        )

    @_retried
    def retry(self, item: Item, reason: str, due: float) -> None:
        """Back to pending, due later, one more attempt counted (the batch: pending now)."""
        with self._transaction() as db:
            self._release_batch(db, item)
            db.execute(
                "UPDATE items SET state = 'pending', due = ?, attempts = attempts + 1,"
                " reason = ?, lease_until = NULL, owner = NULL WHERE id = ?",
                (due, reason, item.item_id),
            )

    @_retried
    def park(self, item: Item, reason: str) -> None:
        """Parked with its reason until someone retries it (the batch: pending again)."""
        with self._transaction() as db:
            self._release_batch(db, item)
            db.execute(
                "UPDATE items SET state = 'parked', attempts = attempts + 1, reason = ?,"
                " lease_until = NULL, owner = NULL WHERE id = ?",
                (reason, item.item_id),
            )

    @_retried
    def release_leases(self) -> int:
        """Every leased item becomes pending again (the worker that held it is gone)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE items SET state = 'pending', lease_until = NULL, owner = NULL"
                " WHERE state = 'leased'"
            )
            return cursor.rowcount

    @_retried
    def parked(self) -> list[Item]:
        """The parked items, oldest first."""
        rows = self._query(f"SELECT {_COLUMNS} FROM items WHERE state = 'parked' ORDER BY id")
        return [_item(row) for row in rows]

    @_retried
    def unpark(self, item_id: int | None, now: float) -> int:
        """Parked → pending (due now, attempts reset)."""
        query = "UPDATE items SET state = 'pending', due = ?, attempts = 0 WHERE state = 'parked'"
        with self._transaction() as db:
            if item_id is None:
                return db.execute(query, (now,)).rowcount
            return db.execute(query + " AND id = ?", (now, item_id)).rowcount

    # --- state ---------------------------------------------------------------------------

    def _get(self, name: str) -> str | None:
        rows = self._query("SELECT value FROM state WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def _set(self, db: sqlite3.Connection, name: str, value: str) -> None:
        db.execute("INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)", (name, value))

    @_retried
    def watermark(self) -> str | None:
        """The catch-up watermark."""
        return self._get("watermark")

    @_retried
    def advance_watermark(self, instant: str) -> None:
        """Forward only: FHIR instants in UTC with the same shape compare as text."""
        with self._transaction() as db:
            row = db.execute("SELECT value FROM state WHERE name = 'watermark'").fetchone()
            if row is None or instant > row[0]:
                self._set(db, "watermark", instant)

    @_retried
    def set_watermark(self, instant: str) -> None:
        """Set the watermark, also backwards (``her2-status queue --catch-up-since``)."""
        with self._transaction() as db:
            self._set(db, "watermark", instant)

    @_retried
    def request_catchup(self) -> None:
        """Flag a catch-up for the worker."""
        with self._transaction() as db:
            self._set(db, "catchup_requested", "1")

    @_retried
    def take_catchup_request(self) -> bool:
        """Read and clear the flag."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM state WHERE name = 'catchup_requested'")
            return cursor.rowcount == 1

    @_retried
    def heartbeat(self, now: float) -> None:
        """The worker's last sign of life."""
        with self._transaction() as db:
            self._set(db, "worker_seen", repr(now))

    @_retried
    def stats(self, now: float) -> QueueStats:
        """Counts and ages only."""
        ((depth, oldest, parked),) = self._query(
            "SELECT count(*) FILTER (WHERE state != 'parked'),"
            " min(enqueued) FILTER (WHERE state != 'parked'),"
            " count(*) FILTER (WHERE state = 'parked') FROM items"
        )
        seen = self._get("worker_seen")
        return QueueStats(
            depth=int(str(depth)),
            oldest_pending_seconds=(
                None if oldest is None else round(max(0.0, now - float(str(oldest))), 3)
            ),
            parked=int(str(parked)),
            watermark=self.watermark(),
            worker_seen_seconds=None if seen is None else round(max(0.0, now - float(seen)), 3),
        )


__all__ = ["FILE_NAME", "DataDirError", "SqliteQueue"]

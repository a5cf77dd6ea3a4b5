"""The seen-``jti`` store: a JWT is accepted once, across every worker and restart.

One SQLite file (``cds-jti.sqlite``) in the service's data directory holds a hash of
each accepted token's issuer and ``jti`` with the time after which its token can no
longer pass (``exp`` plus the leeway).  The primary key makes "first use" one atomic
insert, so two workers racing with the same token cannot both win: SQLite's file
locks serialise them.  Rows are dropped once their token has expired.  WAL mode keeps
readers and the writer apart; ``synchronous=NORMAL`` keeps a committed row across a
crash of the process (only a power loss may drop the last rows, and their tokens
expire within minutes anyway).

The directory is created private (0700) and refused when it is a symlink, not owned
by the service's user, or writable by group or others: another local user must not
be able to plant or wipe the store.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

from service.private_dir import PrivateDirError, ensure_private_dir

FILE_NAME: Final = "cds-jti.sqlite"
# Expired rows are purged at most this often (seconds), not on every call.
PURGE_INTERVAL: Final = 60.0
BUSY_TIMEOUT_SECONDS: Final = 5.0


# The data directory's refusal: the one check of every private directory.
DataDirError = PrivateDirError


class ReplayStoreUnavailable(Exception):
    """The seen-``jti`` store cannot be written now (a token cannot be accepted)."""


class ReplayGuard(Protocol):
    """Remembers accepted tokens until they expire."""

    def first_use(self, issuer: str, jti: str, expires: float) -> bool:
        """True the first time ``(issuer, jti)`` is seen; False for a replay.

        Raises:
            ReplayStoreUnavailable: when the store cannot be written.
        """
        ...


class SqliteReplayGuard:
    """The seen-``jti`` store in ``directory/cds-jti.sqlite`` (see the module)."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        ensure_private_dir(directory, "HER2_DATA_DIR")
        self.path = directory / FILE_NAME
        self._clock = clock
        self._purged = 0.0
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS seen_jti"
                " (key BLOB PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID"
            )
            connection.execute("CREATE INDEX IF NOT EXISTS seen_jti_expires ON seen_jti(expires)")
        os.chmod(self.path, 0o600)

    def _connect(self) -> sqlite3.Connection:
        # One connection per call: gunicorn forks workers and serves from threads,
        # and a connection must never cross either.  Opening one costs ~0.1 ms.
        connection = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=True
        )
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def first_use(self, issuer: str, jti: str, expires: float) -> bool:
        """True the first time ``(issuer, jti)`` is seen (see ``ReplayGuard``)."""
        key = hashlib.sha256(f"{issuer}\x00{jti}".encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        try:
            connection = self._connect()
            try:
                connection.execute("BEGIN IMMEDIATE")
                if now - self._purged > PURGE_INTERVAL:
                    connection.execute("DELETE FROM seen_jti WHERE expires < ?", (now,))
                    self._purged = now
                else:
                    # A row of an expired token never blocks (its token cannot pass anyway).
                    connection.execute(
                        "DELETE FROM seen_jti WHERE key = ? AND expires < ?", (key, now)
                    )
                try:
                    connection.execute(
                        "INSERT INTO seen_jti (key, expires) VALUES (?, ?)", (key, expires)
                    )
                except sqlite3.IntegrityError:
                    connection.execute("ROLLBACK")
                    return False
                connection.execute("COMMIT")
                return True
            finally:
                connection.close()
        except sqlite3.Error:
            raise ReplayStoreUnavailable() from None


__all__ = [
    "FILE_NAME",
    "DataDirError",
    "ReplayGuard",
    "ReplayStoreUnavailable",
    "SqliteReplayGuard",
]

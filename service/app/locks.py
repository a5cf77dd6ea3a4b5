"""Per-key write locks: writes for one key are serialised across threads and workers."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

LOCK_TIMEOUT_SECONDS = 30.0


class WriteBusy(Exception):
    """A key's write lock stayed taken by another request; nothing was written."""

    public_message = (
        "The result is being written by another request; nothing was written. Try again later."
    )


class Locks(Protocol):
    """Holds the write locks of several keys at once."""

    def hold(self, keys: Collection[str]) -> AbstractContextManager[None]:
        """A context that holds every key's lock.

        Raises:
            WriteBusy: when a lock cannot be taken in time.
        """
        ...


class FileLocks:
    """One lock file per key in a directory shared by every worker of a host."""

    def __init__(self, directory: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> None:
        self.directory = directory
        self.timeout = timeout

    def path(self, key: str) -> Path:
        """The lock file of a key (a hash: keys carry patient ids)."""
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"

    @contextmanager
    def hold(self, keys: Collection[str]) -> Iterator[None]:
        """Take the keys' locks in one global order, so that requests never deadlock."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            for key in sorted(set(keys)):
                lock = FileLock(str(self.path(key)))
                try:
                    stack.enter_context(lock.acquire(timeout=self.timeout))
                except Timeout:
                    raise WriteBusy from None
            yield


__all__ = ["LOCK_TIMEOUT_SECONDS", "FileLocks", "Locks", "WriteBusy"]

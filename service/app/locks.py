"""Per-key write locks: writes for one key are serialised across threads and workers.

The lock directory is private to the service's user: created with mode 0700, and
refused at start when it is a symlink, not a directory, not owned by that user, or
writable by its group or by others.  In a shared directory another local user could
otherwise plant a symlink where a lock file goes, or hold a key's lock so that every
write of that key waits and fails.  Lock files are opened without following symlinks.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Protocol

from service.private_dir import PrivateDirError, ensure_private_dir

LOCK_TIMEOUT_SECONDS = 30.0
_POLL_SECONDS = 0.05


class WriteBusy(Exception):
    """A key's write lock stayed taken by another request; nothing was written."""

    public_message = (
        "The result is being written by another request; nothing was written. Try again later."
    )


# The lock directory's refusal: the one check of every private directory.
LockDirError = PrivateDirError


class Locks(Protocol):
    """Holds the write locks of several keys at once."""

    def hold(self, keys: Collection[str]) -> AbstractContextManager[None]:
        """A context that holds every key's lock.

        Raises:
            WriteBusy: when a lock cannot be taken in time.
        """
        ...


class FileLocks:
    """One lock file per key in a private directory shared by every worker of a host."""

    def __init__(self, directory: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> None:
        """Check (or create) the directory now, so that a bad one stops the start.

        Raises:
            LockDirError: see ``ensure_private_dir``.
        """
        ensure_private_dir(directory, "HER2_LOCK_DIR")
        self.directory = directory
        self.timeout = timeout

    def path(self, key: str) -> Path:
        """The lock file of a key (a hash: keys carry patient ids)."""
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"

    def _acquire(self, key: str) -> int:
        # O_NOFOLLOW: a symlink in place of the lock file is refused, never followed.
        fd = os.open(self.path(key), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise WriteBusy from None
                time.sleep(_POLL_SECONDS)

    @contextmanager
    def hold(self, keys: Collection[str]) -> Iterator[None]:
        """Take the keys' locks in one global order, so that requests never deadlock.

        Raises:
            WriteBusy: when a lock stays taken past the timeout.
            OSError: when a lock file cannot be opened (e.g. a symlink planted there).
        """
        with ExitStack() as stack:
            for key in sorted(set(keys)):
                fd = self._acquire(key)
                stack.callback(os.close, fd)  # closing the descriptor releases the lock
            yield


__all__ = [
    "LOCK_TIMEOUT_SECONDS",
    "FileLocks",
    "LockDirError",
    "Locks",
    "WriteBusy",
]

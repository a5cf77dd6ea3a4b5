"""The durable queue port: notifications of changed HER2 inputs, waiting for the worker.

``SqliteQueue`` (``service.app.sqlite_queue``) is the embedded default; a broker can
replace it behind this port.  ``MemoryQueue`` (``service.app.memory_queue``) is the
fake for tests.  The contract every implementation keeps:

- ``enqueue`` records ``(type, id, versionId)`` at most once while it waits, and
  ignores a version that is not newer than one already processed;
- ``claim`` hands an item out at least once: under a lease, which expires (or is
  released by ``release_leases`` when the worker restarts) so that an item whose
  worker died is handed out again; the other waiting items of the same patient come
  with it (``Item.batch``), settled by ``done`` with it and released by ``retry`` and
  ``park``;
- a failed item is retried with back-off (``retry``) and, when it keeps failing or
  cannot succeed, parked with its reason (``park``) and listed by ``parked``: never
  dropped silently;
- the catch-up watermark lives beside the items and is only ever moved forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

DELETED = "deleted"
"""The ``version`` of a delete notification (a delete carries no versionId)."""


class QueueError(Exception):
    """The queue cannot be used now (disk full, file locked too long); nothing was recorded."""


@dataclass(frozen=True)
class Notice:
    """What a notification (or a catch-up search) says changed.

    Attributes:
        resource_type: the changed resource's type (``Observation``).
        resource_id: its logical id.
        version: its ``meta.versionId``; ``""`` when unknown, ``DELETED`` for a delete.
        patient_id: the Patient it is about, when the notification said so.
    """

    resource_type: str
    resource_id: str
    version: str = ""
    patient_id: str | None = None

    @property
    def reference(self) -> str:
        """``Type/id``."""
        return f"{self.resource_type}/{self.resource_id}"


@dataclass(frozen=True)
class Item:
    """A claimed notice.

    Attributes:
        item_id: the queue's own id of the item.
        notice: what changed.
        attempts: failed attempts so far (0 on the first delivery).
        reason: why it was last retried or parked (a fixed word, never data).
        batch: other waiting items of the same patient, claimed with this one: one
            re-derivation that reads after the claim covers their changes too.
    """

    item_id: int
    notice: Notice
    attempts: int = 0
    reason: str | None = None
    batch: tuple[Item, ...] = ()


@dataclass(frozen=True)
class QueueStats:
    """What ``/readyz`` reports (no patient data).

    Attributes:
        depth: items waiting or being processed (parked ones excluded).
        oldest_pending_seconds: age of the oldest of them (None: none waits).
        parked: items parked after failing.
        watermark: the catch-up watermark (a FHIR instant), None before the first.
        worker_seen_seconds: seconds since the worker last showed it was alive.
    """

    depth: int
    oldest_pending_seconds: float | None
    parked: int
    watermark: str | None
    worker_seen_seconds: float | None = None


class Queue(Protocol):
    """The durable queue."""

    def enqueue(self, notice: Notice, now: float) -> bool:
        """Record a notice; False when it was a duplicate or older than one processed."""
        ...

    def claim(self, owner: str, now: float, lease_seconds: float) -> Item | None:
        """The next due item, leased to ``owner``; None when nothing is due."""
        ...

    def done(self, item: Item) -> None:
        """The item succeeded: forget it and remember its version as processed."""
        ...

    def retry(self, item: Item, reason: str, due: float) -> None:
        """The item failed: hand it out again not before ``due``."""
        ...

    def park(self, item: Item, reason: str) -> None:
        """The item cannot succeed (or kept failing): keep it aside with its reason."""
        ...

    def release_leases(self) -> int:
        """Hand every leased item out again (its worker is gone); return how many."""
        ...

    def parked(self) -> list[Item]:
        """The parked items, oldest first."""
        ...

    def unpark(self, item_id: int | None, now: float) -> int:
        """Put one parked item (or all, with None) back in the queue; return how many."""
        ...

    def watermark(self) -> str | None:
        """The catch-up watermark (a FHIR instant), None before the first catch-up."""
        ...

    def advance_watermark(self, instant: str) -> None:
        """Move the watermark to ``instant`` unless it is already later."""
        ...

    def request_catchup(self) -> None:
        """Ask the worker for a catch-up soon (a notification without an id)."""
        ...

    def take_catchup_request(self) -> bool:
        """Whether a catch-up was asked for since the last call (and clear the request)."""
        ...

    def heartbeat(self, now: float) -> None:
        """Record that the worker is alive."""
        ...

    def stats(self, now: float) -> QueueStats:
        """Depth, oldest pending age, parked count, watermark, worker heartbeat."""
        ...


def newer(version: str, than: str) -> bool:
    """Whether ``version`` is newer than ``than`` (numeric versionIds; else unequal).

    HAPI numbers versions 1, 2, 3…; an opaque versionId (other servers) cannot be
    ordered, so only an equal one counts as already seen.
    """
    if version.isdigit() and than.isdigit():
        return int(version) > int(than)
    return version != than


__all__ = ["DELETED", "Item", "Notice", "Queue", "QueueError", "QueueStats", "newer"]

"""The queue port in memory: the fake the worker's and catch-up's tests use.

It keeps the port's contract (dedupe, stale versions ignored, leases, parking,
forward-only watermark) without durability; ``SqliteQueue`` is the real one.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace

from service.app.queue import DELETED, Item, Notice, QueueStats, newer


@dataclass
class _Entry:
    item: Item
    state: str
    due: float
    enqueued: float
    lease_until: float = 0.0


class MemoryQueue:
    """Items in a dict, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.entries: dict[int, _Entry] = {}
        self.processed: dict[tuple[str, str], str] = {}
        self.state: dict[str, str] = {}

    def _seen(self, notice: Notice) -> bool:
        if notice.version in ("", DELETED):
            return False
        last = self.processed.get((notice.resource_type, notice.resource_id))
        return last is not None and not newer(notice.version, last)

    def enqueue(self, notice: Notice, now: float) -> bool:
        """Record unless waiting already or not newer than processed."""
        with self._lock:
            if self._seen(notice):
                return False
            key = (notice.resource_type, notice.resource_id, notice.version)
            if any(
                (e.item.notice.resource_type, e.item.notice.resource_id, e.item.notice.version)
                == key
                for e in self.entries.values()
            ):
                return False
            item_id = next(self._ids)
            self.entries[item_id] = _Entry(Item(item_id, notice), "pending", now, now)
            return True

    def claim(self, owner: str, now: float, lease_seconds: float) -> Item | None:  # noqa: ARG002
        """The oldest due item, leased (the owner is not recorded here)."""
        with self._lock:
            for item_id in sorted(self.entries):
                entry = self.entries[item_id]
                due = (entry.state == "pending" and entry.due <= now) or (
                    entry.state == "leased" and entry.lease_until <= now
                )
                if not due:
                    continue
                if self._seen(entry.item.notice):
                    del self.entries[item_id]
                    continue
                entry.state, entry.lease_until = "leased", now + lease_seconds
                patient = entry.item.notice.patient_id
                if patient is None:
                    return entry.item
                batch = []
                for other_id in sorted(self.entries):
                    other = self.entries[other_id]
                    if (
                        other_id != item_id
                        and other.state == "pending"
                        and other.item.notice.patient_id == patient
                    ):
                        other.state, other.lease_until = "leased", now + lease_seconds
                        batch.append(other.item)
                return replace(entry.item, batch=tuple(batch))
        return None

    def done(self, item: Item) -> None:
        """Forget it and its batch; remember the versions."""
        with self._lock:
            for settled in (item, *item.batch):
                self.entries.pop(settled.item_id, None)
                notice = settled.notice
                if notice.version not in ("", DELETED):
                    key = (notice.resource_type, notice.resource_id)
                    last = self.processed.get(key)
                    if last is None or newer(notice.version, last):
                        self.processed[key] = notice.version

    def _release_batch(self, item: Item) -> None:
        for other in item.batch:
            entry = self.entries.get(other.item_id)
            if entry is not None:
                entry.state = "pending"

    def retry(self, item: Item, reason: str, due: float) -> None:
        """Pending again, later (the batch: now)."""
        with self._lock:
            self._release_batch(item)
            entry = self.entries[item.item_id]
            entry.item = replace(entry.item, attempts=entry.item.attempts + 1, reason=reason)
            entry.state, entry.due = "pending", due

    def park(self, item: Item, reason: str) -> None:
        """Aside, with the reason (the batch: pending again)."""
        with self._lock:
            self._release_batch(item)
            entry = self.entries[item.item_id]
            entry.item = replace(entry.item, attempts=entry.item.attempts + 1, reason=reason)
            entry.state = "parked"

    def release_leases(self) -> int:
        """Leased → pending."""
        with self._lock:
            leased = [e for e in self.entries.values() if e.state == "leased"]
            for entry in leased:
                entry.state = "pending"
            return len(leased)

    def parked(self) -> list[Item]:
        """Parked items, oldest first."""
        with self._lock:
            return [e.item for _, e in sorted(self.entries.items()) if e.state == "parked"]

    def unpark(self, item_id: int | None, now: float) -> int:
        """Parked → pending."""
        with self._lock:
            count = 0
            for key, entry in self.entries.items():
                if entry.state == "parked" and item_id in (None, key):
                    entry.state, entry.due = "pending", now
                    entry.item = replace(entry.item, attempts=0)
                    count += 1
            return count

    def watermark(self) -> str | None:
        """The watermark."""
        return self.state.get("watermark")

    def advance_watermark(self, instant: str) -> None:
        """Forward only."""
        with self._lock:
            if instant > self.state.get("watermark", ""):
                self.state["watermark"] = instant

    def request_catchup(self) -> None:
        """Flag a catch-up."""
        self.state["catchup_requested"] = "1"

    def take_catchup_request(self) -> bool:
        """Read and clear the flag."""
        return self.state.pop("catchup_requested", None) is not None

    def heartbeat(self, now: float) -> None:
        """The worker is alive."""
        self.state["worker_seen"] = repr(now)

    def stats(self, now: float) -> QueueStats:
        """Counts and ages."""
        with self._lock:
            waiting = [e for e in self.entries.values() if e.state != "parked"]
            seen = self.state.get("worker_seen")
            return QueueStats(
                depth=len(waiting),
                oldest_pending_seconds=(
                    now - min(e.enqueued for e in waiting) if waiting else None
                ),
                parked=sum(e.state == "parked" for e in self.entries.values()),
                watermark=self.state.get("watermark"),
                worker_seen_seconds=None if seen is None else now - float(seen),
            )


__all__ = ["MemoryQueue"]

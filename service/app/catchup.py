"""Catch-up: search the FHIR server for HER2 inputs changed since the watermark, enqueue them.

What makes a notification the server dropped (HAPI gives up after ~60 s, and loses
what it queued when it restarts), or one sent while the service was down, still
produce its status.  The watermark moves only after every page was read and every
match was durably enqueued; it is set to when the search began minus ``overlap``,
so that a resource committed during the search, or a small clock difference with
the server, is found again next time (the queue ignores versions already processed).

The first catch-up of a new data directory only sets the watermark: back-filling
every HER2 result the EHR ever stored is a deliberate step
(``her2-status queue --catch-up-since``), not a side effect of a first start.

Deletes are not found by a search: a delete notification the server dropped is not
caught up (an entered-in-error correction, an update, is).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Protocol

from service.app.queue import Notice, Queue
from service.fhir.codes import INPUT_KINDS, CodeMap

DEFAULT_OVERLAP = dt.timedelta(minutes=2)


class ChangeFeed(Protocol):
    """Where changed inputs are found (``FhirChangeFeed`` over the FHIR server)."""

    def changed_since(self, codes: Collection[tuple[str, str]], since: str) -> Iterator[Notice]:
        """Every Observation with one of ``codes`` updated after ``since`` (all pages)."""
        ...


def input_codes(code_map: CodeMap) -> list[tuple[str, str]]:
    """Every (system, code) of a HER2 input (IHC, ISH and their values), sorted.

    Interpretations and HER2 tests that are not IHC/ISH are left out: they never
    change a status, and the service's own status Observations carry the
    interpretation code, which would notify the service of its own writes.
    """
    return sorted(key for key, kind in code_map.kinds.items() if kind in INPUT_KINDS)


def instant(moment: dt.datetime) -> str:
    """A FHIR instant in UTC with milliseconds (compares correctly as text)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass(frozen=True)
class CatchUpResult:
    """What one catch-up found and queued, and the watermark it left."""

    found: int
    queued: int
    watermark: str


class CatchUp:
    """One catch-up run: search, enqueue, advance the watermark."""

    def __init__(
        self,
        queue: Queue,
        feed: ChangeFeed,
        codes: Collection[tuple[str, str]],
        overlap: dt.timedelta = DEFAULT_OVERLAP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.feed = feed
        self.codes = list(codes)
        self.overlap = overlap
        self.clock = clock

    def __call__(self) -> CatchUpResult:
        """Run once.

        Raises:
            FhirClientError: when the search fails (the watermark stays).
        """
        started = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        mark = instant(started - self.overlap)
        since = self.queue.watermark()
        found = queued = 0
        if since is not None:
            for notice in self.feed.changed_since(self.codes, since):
                found += 1
                queued += self.queue.enqueue(notice, self.clock())
        self.queue.advance_watermark(mark)
        return CatchUpResult(found, queued, self.queue.watermark() or mark)


__all__ = ["DEFAULT_OVERLAP", "CatchUp", "CatchUpResult", "ChangeFeed", "input_codes", "instant"]

"""The worker: take a queued notice, find its patient, re-derive the patient, settle the item.

The same Patient-level command as the HTTP operation (``RederivePatient`` with
``persist``) does the work, so a status written from a notification is the one
the operation would write; its idempotent writes make a redelivered item harmless.
One log line per item names the item, the resource, the outcome and the count of
writes: never the patient id, never a value.

Failures: what a later attempt can fix (the FHIR server unavailable, slow, failing
or refusing our credentials; a concurrent write; this host's write lock busy) is
retried with exponential back-off and parked after ``max_attempts``; what it cannot
(an identifier that matched several results, a request the server rejects, an
Observation without a Patient) is parked at once.  Parked items are listed and
retried by ``her2-status queue``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from service.app.catchup import CatchUp
from service.app.locks import WriteBusy
from service.app.queue import Item, Notice, Queue
from service.clients.errors import (
    FhirAuthFailed,
    FhirAuthMisconfigured,
    FhirClientError,
    FhirConflict,
    FhirPreconditionFailed,
    FhirServerError,
    FhirServerUnavailable,
    FhirTimeout,
    FhirTooManyMatches,
)
from service.clients.fhir import outcome_of

log = logging.getLogger("her2.worker")

_TRANSIENT = (
    FhirServerUnavailable,
    FhirTimeout,
    FhirServerError,
    FhirAuthFailed,
    FhirAuthMisconfigured,  # a key file an operator can restore
    FhirConflict,
    WriteBusy,
)


class NoPatient(Exception):
    """The changed resource names no Patient (or no longer exists anywhere)."""


class PatientFinder(Protocol):
    """Where the worker learns whose resource changed when the notice did not say."""

    def patient_of(self, notice: Notice) -> str | None:
        """The Patient id of the changed resource (also of a deleted one), or None."""
        ...


class Outcome(Protocol):
    """What the worker reads of the command's result."""

    written: int


class Rederive(Protocol):
    """The Patient-level command (``RederivePatient``)."""

    def __call__(self, patient_id: str, persist: bool, now: dt.datetime) -> Outcome:
        """Derive one patient and write back what changed."""
        ...


@dataclass(frozen=True)
class Policy:
    """Leases and back-off.

    Attributes:
        lease_seconds: how long a claimed item stays with its worker (longer than
            any derivation: the FHIR client's timeouts and retries are shorter).
        backoff_seconds: the first retry's delay; each next one doubles it.
        max_backoff_seconds: the longest delay.
        max_attempts: failed attempts after which an item is parked.
        idle_seconds: how long an idle worker waits before looking again.
    """

    lease_seconds: float = 300.0
    backoff_seconds: float = 5.0
    max_backoff_seconds: float = 600.0
    max_attempts: int = 8
    idle_seconds: float = 0.2

    def delay(self, attempts: int) -> float:
        """The delay before attempt ``attempts + 1`` (``attempts`` failed so far)."""
        return float(min(self.backoff_seconds * 2 ** max(0, attempts), self.max_backoff_seconds))


def default_owner() -> str:
    """This process's name on leases: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Processes queued items; also runs the catch-up when it is due."""

    def __init__(
        self,
        queue: Queue,
        rederive: Rederive,
        finder: PatientFinder,
        catchup: CatchUp | None = None,
        catchup_interval: float = 300.0,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        self.queue = queue
        self.rederive = rederive
        self.finder = finder
        self.catchup = catchup
        self.catchup_interval = catchup_interval
        self.policy = policy or Policy()
        self.clock = clock
        self.owner = owner or default_owner()
        self._next_catchup = 0.0

    # --- one item ------------------------------------------------------------------------

    def process(self, item: Item) -> str:
        """Re-derive the item's patient and settle the item; return the outcome word."""
        notice = item.notice
        started = time.perf_counter()
        written = 0
        try:
            patient_id = notice.patient_id or self.finder.patient_of(notice)
            if patient_id is None:
                raise NoPatient
            now = dt.datetime.fromtimestamp(self.clock(), dt.UTC).replace(microsecond=0)
            written = self.rederive(patient_id, True, now).written
        except NoPatient:
            outcome = self._park(item, "no-patient")
        except FhirTooManyMatches as exc:
            outcome = self._park(item, outcome_of(exc))
        except (*_TRANSIENT, FhirPreconditionFailed) as exc:
            outcome = self._retry(
                item, outcome_of(exc) if isinstance(exc, FhirClientError) else "write-busy"
            )
        except FhirClientError as exc:
            # Rejected requests, invalid references, foreign links: another try fails alike.
            outcome = self._park(item, outcome_of(exc))
        except Exception as exc:  # a defect: retried, then parked; logged by type only
            outcome = self._retry(item, f"error-{type(exc).__name__}")
        else:
            self.queue.done(item)
            outcome = "done"
        log.info(
            "item",
            extra={
                "fields": {
                    "item": item.item_id,
                    "resource": notice.reference,
                    "version": notice.version or None,
                    "attempt": item.attempts + 1,
                    "coalesced": len(item.batch),
                    "outcome": outcome,
                    "written": written,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
            },
        )
        return outcome

    def _retry(self, item: Item, reason: str) -> str:
        if item.attempts + 1 >= self.policy.max_attempts:
            return self._park(item, f"gave-up-{reason}")
        self.queue.retry(item, reason, self.clock() + self.policy.delay(item.attempts))
        return f"retry-{reason}"

    def _park(self, item: Item, reason: str) -> str:
        self.queue.park(item, reason)
        return f"parked-{reason}"

    # --- the loop ------------------------------------------------------------------------

    def run_catchup_if_due(self) -> None:
        """Catch up at start, every interval, and when a notification asked for it."""
        if self.catchup is None:
            return
        now = self.clock()
        if now < self._next_catchup and not self.queue.take_catchup_request():
            return
        try:
            result = self.catchup()
        except FhirClientError as exc:
            # The watermark did not move: the next attempt searches the same window.
            log.warning("catch-up failed", extra={"fields": {"error": outcome_of(exc)}})
            self._next_catchup = now + min(self.catchup_interval, 30.0)
            return
        log.info(
            "catch-up",
            extra={"fields": {"found": result.found, "queued": result.queued}},
        )
        self._next_catchup = now + self.catchup_interval

    def step(self) -> bool:
        """Claim and process one item; False when none was due."""
        item = self.queue.claim(self.owner, self.clock(), self.policy.lease_seconds)
        if item is None:
            return False
        self.process(item)
        return True

    def run(self, stop: threading.Event, threads: int = 1) -> None:
        """Process until ``stop`` is set: ``threads`` loops; the first also catches up."""
        released = self.queue.release_leases()
        self.queue.heartbeat(self.clock())
        log.info("worker started", extra={"fields": {"threads": threads, "released": released}})
        helpers = [
            threading.Thread(target=self._loop, args=(stop, False), daemon=True)
            for _ in range(threads - 1)
        ]
        for helper in helpers:
            helper.start()
        self._loop(stop, True)
        for helper in helpers:
            helper.join()

    def _loop(self, stop: threading.Event, lead: bool) -> None:
        while not stop.is_set():
            try:
                if lead:
                    self.queue.heartbeat(self.clock())
                    self.run_catchup_if_due()
                if not self.step():
                    stop.wait(self.policy.idle_seconds)
            except Exception as exc:  # the queue itself failed (disk full…): wait, go on
                log.error("worker error", extra={"fields": {"error_type": type(exc).__name__}})
                stop.wait(1.0)


__all__ = ["NoPatient", "PatientFinder", "Policy", "Rederive", "Worker", "default_owner"]

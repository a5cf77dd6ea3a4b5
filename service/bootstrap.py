"""The composition root: settings → FHIR client → store → locks → application.

The Flask app factory and the command line both start here; tests pass a fake
store (``MemoryStore``) or locks instead of the real ones.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from service.app.derivation import Derivation, derive
from service.fhir.envelope import ReadLimits
from service.settings import (
    DerivationSettings,
    FhirClientSettings,
    Limits,
    default_lock_dir,
)

if TYPE_CHECKING:
    from service.app.locks import Locks
    from service.app.queue import Queue
    from service.app.rederive import RederivePatient
    from service.app.store import Store
    from service.app.trial_sources import TrialSource
    from service.app.worker import Worker
    from service.clients.fhir import FhirClient
    from service.settings import Settings
    from service.settings.events import EventSettings
    from service.settings.trials import TrialSettings


@dataclass(frozen=True)
class Application:
    """What the entry points call.

    Attributes:
        derivation: the derivation's settings.
        client: the FHIR client, for readiness checks (None: no server configured).
        patients: the Patient-level command (None: no store to read from).
        limits: caps on a request's size and an answer's issues (None: no caps).
        queue: the durable queue of the event-driven mode (None: the mode is off).
        trials: the trial sources the trial-candidate endpoints read (empty: none).
    """

    derivation: DerivationSettings
    client: FhirClient | None
    patients: RederivePatient | None
    limits: Limits | None = None
    queue: Queue | None = None
    trials: tuple[TrialSource, ...] = ()

    def derive(self, payload: object, now: dt.datetime) -> Derivation:
        """The stateless derivation of a request, with the configured codes, window and caps.

        Raises:
            EnvelopeError: when the body is not a request the operation can read;
                ``RequestTooLarge`` when it is over a cap.
        """
        read_limits = max_issues = None
        if self.limits is not None:
            read_limits = ReadLimits(
                self.limits.max_resources,
                self.limits.max_elements,
                self.limits.max_depth,
                self.limits.max_request_elements,
            )
            max_issues = self.limits.max_issues
        return derive(
            payload,
            now,
            self.derivation.code_map,
            self.derivation.grouping_window,
            limits=read_limits,
            max_issues=max_issues,
        )


def fhir_client(settings: FhirClientSettings) -> FhirClient:
    """A FHIR client from its settings (with SMART Backend Services tokens when configured).

    The SMART signing key is read when the first token is needed, not here: a key
    file that became unreadable since the start's check then fails that request
    cleanly (503, ``FhirAuthMisconfigured``) instead of a worker's start.
    """
    # Imported here, as the write-back parts below: `derive` must not pay for requests.
    from service.clients.fhir import FhirClient  # noqa: PLC0415

    tokens = None
    if settings.smart is not None:
        from service.clients.smart import SmartBackendTokens  # noqa: PLC0415

        smart = settings.smart
        tokens = SmartBackendTokens.from_file(
            settings.base_url,
            smart.client_id,
            smart.private_key,
            smart.key_id,
            smart.scopes,
            token_url=smart.token_url,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
    return FhirClient(
        settings.base_url,
        settings.token,
        settings.connect_timeout,
        settings.read_timeout,
        settings.retries,
        settings.page_size,
        tokens=tokens,
    )


def bootstrap(
    derivation: DerivationSettings,
    fhir: FhirClientSettings | None = None,
    lock_dir: Path | None = None,
    store: Store | None = None,
    locks: Locks | None = None,
    limits: Limits | None = None,
    queue: Queue | None = None,
    trials: TrialSettings | None = None,
) -> Application:
    """Wire the application.

    Args:
        derivation: codes and grouping window.
        fhir: the EHR's FHIR server (None: only the stateless derivation, unless a
            store is given).
        lock_dir: where the per-key write locks live (default: ``default_lock_dir``).
        store: a store to use instead of the FHIR server (tests).
        locks: locks to use instead of lock files in ``lock_dir`` (tests).
        limits: caps on requests and answers (None: none, as for the command line).
        queue: the event-driven mode's queue (``event_queue``), or None.
        trials: where trials come from (None: no trial source).

    Returns:
        The application; nothing is contacted yet.

    Raises:
        LockDirError: when the lock directory is not private to the service's user.
    """
    client = fhir_client(fhir) if fhir is not None else None
    if store is None and client is not None:
        from service.app.fhir_store import FhirStore  # noqa: PLC0415

        store = FhirStore(client)
    patients = None
    if store is not None:
        from service.app.locks import FileLocks  # noqa: PLC0415
        from service.app.rederive import RederivePatient  # noqa: PLC0415

        if locks is None:
            locks = FileLocks(lock_dir or default_lock_dir(os.environ))
        max_issues = limits.max_issues if limits is not None else None
        patients = RederivePatient(store, locks, derivation, max_issues)
    sources = trial_sources(trials, client) if trials is not None else []
    return Application(derivation, client, patients, limits, queue, tuple(sources))


def trial_sources(settings: TrialSettings, client: FhirClient | None) -> list[TrialSource]:
    """The configured trial sources, in the order their studies are matched and answered.

    Args:
        settings: the trial settings (``HER2_TRIALS_*``).
        client: the FHIR server's client, for its ResearchStudy resources.
    """
    from service.app.trial_sources import CtgovDirectory, Refreshing  # noqa: PLC0415
    from service.clients.research_studies import FhirResearchStudies  # noqa: PLC0415

    sources: list[TrialSource] = []
    if settings.directory is not None:
        # Read once: a site restarts the service after updating its downloads.
        sources.append(Refreshing(CtgovDirectory(settings.directory), math.inf))
    if settings.from_fhir and client is not None:
        sources.append(Refreshing(FhirResearchStudies(client), settings.refresh_seconds))
    return sources


def event_queue(events: EventSettings | None) -> Queue | None:
    """The durable queue in the data directory (created on first use), or None when off.

    Raises:
        DataDirError: when the data directory is not private to the service's user.
    """
    if events is None:
        return None
    from service.app.sqlite_queue import SqliteQueue  # noqa: PLC0415

    return SqliteQueue(events.data_dir)


def event_worker(
    settings: Settings, queue: Queue, store: Store | None = None, locks: Locks | None = None
) -> Worker:
    """The worker of the event-driven mode: queue, Patient-level command, catch-up.

    Raises:
        ValueError: when no FHIR server (or no event settings) is configured.
    """
    from service.app.catchup import CatchUp, input_codes  # noqa: PLC0415
    from service.app.fhir_events import FhirChangeFeed, FhirPatientFinder  # noqa: PLC0415
    from service.app.worker import Worker  # noqa: PLC0415

    application = bootstrap(
        settings.derivation, settings.fhir_client, settings.lock_dir, store, locks, settings.limits
    )
    if application.client is None or application.patients is None or settings.events is None:
        raise ValueError("the worker needs HER2_FHIR_BASE_URL and the event-driven mode")
    catchup = CatchUp(queue, FhirChangeFeed(application.client), input_codes(settings.code_map))
    return Worker(
        queue,
        application.patients,
        FhirPatientFinder(application.client),
        catchup,
        settings.events.catchup_interval,
    )


__all__ = [
    "Application",
    "bootstrap",
    "event_queue",
    "event_worker",
    "fhir_client",
    "trial_sources",
]

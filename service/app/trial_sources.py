"""Where trials come from: the ``TrialSource`` port and the ClinicalTrials.gov directory.

Every source answers ``studies()``; the composition root (``service.bootstrap``)
builds the list of configured sources and the trial endpoints read all of them.
The ResearchStudy reader of the FHIR server
(``service.clients.research_studies``) satisfies the same Protocol structurally.
Both are wrapped in :class:`Refreshing`: the directory with no expiry (read once,
on first use: a site restarts the service after updating its downloads; files that
hold no study are logged by name only), the server's studies every
``HER2_TRIALS_REFRESH_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from service.clients.ctgov_files import load_directory
from service.trials.model import Study

_LOG = logging.getLogger("her2.trials")


class TrialSource(Protocol):
    """A source of trials to match."""

    def studies(self) -> Sequence[Study]:
        """Every study of the source."""
        ...


class CtgovDirectory:
    """The ClinicalTrials.gov API v2 records of one directory (``HER2_TRIALS_DIR``).

    Each call reads the directory; the composition root wraps it in
    :class:`Refreshing` with no expiry, so it is read once per process.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def studies(self) -> Sequence[Study]:
        """The directory's studies (files holding none are logged by name)."""
        loaded = load_directory(self.directory)
        if loaded.skipped:
            _LOG.warning(
                "trial files without a study were skipped",
                extra={"fields": {"skipped": list(loaded.skipped)}},
            )
        return loaded.studies


class Refreshing:
    """A source whose studies are reused for a while (the FHIR server's ResearchStudies).

    Reading every ResearchStudy and its Groups on each trial request would put the
    whole trial registry on the EHR's server per call; a site's trials change over
    days, so they are read again only once ``seconds`` have passed.  A failed read
    is not kept: the error reaches the caller, and the next request tries again.
    """

    def __init__(
        self,
        source: TrialSource,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.seconds = seconds
        self._clock = clock
        self._studies: Sequence[Study] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def studies(self) -> Sequence[Study]:
        """The source's studies, read again when older than ``seconds``."""
        with self._lock:
            now = self._clock()
            if self._studies is None or now - self._read_at >= self.seconds:
                self._studies = None
                self._studies = tuple(self.source.studies())
                self._read_at = now
            return self._studies


def all_studies(sources: Iterable[TrialSource]) -> list[Study]:
    """The studies of every source, in source order; a study id seen twice is kept once.

    The first source wins, so that a study both downloaded and stored on the FHIR
    server is matched (and answered) once.
    """
    seen: set[str] = set()
    found: list[Study] = []
    for source in sources:
        for study in source.studies():
            if study.study_id not in seen:
                seen.add(study.study_id)
                found.append(study)
    return found


__all__ = ["CtgovDirectory", "Refreshing", "TrialSource", "all_studies"]

"""Where trials come from: the ``TrialSource`` port and the ClinicalTrials.gov directory.

Every source answers ``read()``; the composition root (``service.bootstrap``)
builds the list of configured sources and the trial endpoints read all of them.
The ResearchStudy reader of the FHIR server
(``service.clients.research_studies``) satisfies the same Protocol structurally.
Both are wrapped in :class:`Refreshing`: the directory with no expiry (read once,
on first use: a site restarts the service after updating its downloads; files that
hold no study are logged by name only), the server's studies every
``HER2_TRIALS_REFRESH_SECONDS``.

Each read (:class:`SourceRead`) also says what of the source it could not read: a
``skipped`` count (studies that are not valid FHIR R4) and a ``truncated`` flag (a
bound stopped the read).  :func:`read_all` adds them up so that the caller can be
warned rather than shown a list that only looks complete.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from service.clients.ctgov_files import load_directory
from service.trials.model import SourceRead, Study

_LOG = logging.getLogger("her2.trials")


class TrialSource(Protocol):
    """A source of trials to match."""

    def read(self) -> SourceRead:
        """Every study of the source, with what of it could not be read."""
        ...


class CtgovDirectory:
    """The ClinicalTrials.gov API v2 records of one directory (``HER2_TRIALS_DIR``).

    Each call reads the directory; the composition root wraps it in
    :class:`Refreshing` with no expiry, so it is read once per process.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def read(self) -> SourceRead:
        """The directory's studies (files holding none are logged by name, not counted)."""
        loaded = load_directory(self.directory)
        if loaded.skipped:
            _LOG.warning(
                "trial files without a study were skipped",
                extra={"fields": {"skipped": list(loaded.skipped)}},
            )
        return SourceRead(loaded.studies)

    def studies(self) -> Sequence[Study]:
        """The directory's studies."""
        return self.read().studies


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
        self._read: SourceRead | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def read(self) -> SourceRead:
        """The source's studies and report, read again when older than ``seconds``."""
        with self._lock:
            now = self._clock()
            if self._read is None or now - self._read_at >= self.seconds:
                self._read = self.source.read()
                self._read_at = now
            return self._read

    def studies(self) -> Sequence[Study]:
        """The source's studies, read again when older than ``seconds``."""
        return self.read().studies


def read_all(sources: Iterable[TrialSource]) -> SourceRead:
    """The studies of every source, in source order; a study id seen twice is kept once.

    The first source wins, so that a study both downloaded and stored on the FHIR
    server is matched (and answered) once.  ``skipped`` and ``truncated`` sum up the
    sources' reports.
    """
    seen: set[str] = set()
    found: list[Study] = []
    skipped, truncated = 0, False
    for source in sources:
        read = source.read()
        skipped += read.skipped
        truncated = truncated or read.truncated
        for study in read.studies:
            if study.study_id not in seen:
                seen.add(study.study_id)
                found.append(study)
    return SourceRead(found, skipped, truncated)


__all__ = ["CtgovDirectory", "Refreshing", "SourceRead", "TrialSource", "read_all"]

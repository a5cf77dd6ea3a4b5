"""Where trials come from: the ``TrialSource`` port and the ClinicalTrials.gov directory.

Every source answers ``studies()``; the composition root (``service.bootstrap``)
builds the list of configured sources and the trial endpoints read all of them.
The ResearchStudy reader of the FHIR server
(``service.clients.research_studies``) satisfies the same Protocol structurally.
Both are wrapped in :class:`Refreshing`: the directory with no expiry (read once,
on first use: a site restarts the service after updating its downloads; files that
hold no study are logged by name only), the server's studies every
``HER2_TRIALS_REFRESH_SECONDS``.

A source may also say that its last read was incomplete: a ``skipped`` count (studies
that are not valid FHIR R4) and a ``truncated`` flag (a bound stopped the read), as
the ResearchStudy reader keeps them.  :func:`read_all` gathers them with the studies
(:class:`SourceRead`) so that the caller can be warned rather than shown a list that
only looks complete.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SourceRead:
    """The studies of one read, and what of the source was not read."""

    studies: Sequence[Study]
    skipped: int = 0
    truncated: bool = False


def _read(source: TrialSource) -> SourceRead:
    """A source's studies, with its ``skipped`` / ``truncated`` report if it keeps one."""
    if isinstance(source, Refreshing):
        return source.read()
    studies = tuple(source.studies())
    skipped = getattr(source, "skipped", 0)
    truncated = getattr(source, "truncated", False)
    return SourceRead(
        studies,
        skipped if isinstance(skipped, int) and not isinstance(skipped, bool) else 0,
        truncated is True,
    )


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
        self._read: SourceRead | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def read(self) -> SourceRead:
        """The source's studies and report, read again when older than ``seconds``."""
        with self._lock:
            now = self._clock()
            if self._read is None or now - self._read_at >= self.seconds:
                self._read = None
                self._read = _read(self.source)
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
        read = _read(source)
        skipped += read.skipped
        truncated = truncated or read.truncated
        for study in read.studies:
            if study.study_id not in seen:
                seen.add(study.study_id)
                found.append(study)
    return SourceRead(found, skipped, truncated)


def all_studies(sources: Iterable[TrialSource]) -> list[Study]:
    """The studies of every source (:func:`read_all` without the report)."""
    return list(read_all(sources).studies)


__all__ = ["CtgovDirectory", "Refreshing", "SourceRead", "TrialSource", "all_studies", "read_all"]

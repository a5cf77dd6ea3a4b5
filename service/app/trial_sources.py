"""Where trials come from: the ``TrialSource`` port and the ClinicalTrials.gov directory.

Every source answers ``studies()``; the composition root (``service.bootstrap``)
builds the list of configured sources and the trial endpoints read all of them.
A ResearchStudy reader on the FHIR server satisfies the same Protocol
structurally.  A directory is read once, on first use (the studies a site
downloaded change when it restarts the service); files that hold no study are
logged by name only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
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
    """The ClinicalTrials.gov API v2 records of one directory (``HER2_TRIALS_DIR``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._studies: tuple[Study, ...] | None = None
        self._lock = threading.Lock()

    def studies(self) -> Sequence[Study]:
        """The directory's studies, read on the first call."""
        with self._lock:
            if self._studies is None:
                loaded = load_directory(self.directory)
                if loaded.skipped:
                    _LOG.warning(
                        "trial files without a study were skipped",
                        extra={"fields": {"skipped": list(loaded.skipped)}},
                    )
                self._studies = loaded.studies
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


__all__ = ["CtgovDirectory", "TrialSource", "all_studies"]

"""ClinicalTrials.gov API v2 study records from a directory a site downloaded.

The service never calls ClinicalTrials.gov: a site saves study records (one
``/api/v2/studies/{nctId}`` answer per file, or a ``/api/v2/studies`` page with a
``studies`` list) as ``*.json`` files, and this adapter reads them.  A file that is
not JSON or holds no study is skipped and named in ``skipped`` (file names only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.trials.ctgov import NotAStudy, study_from_record
from service.trials.model import Study


@dataclass(frozen=True)
class Loaded:
    """The studies read from a directory, and the files that held none."""

    studies: tuple[Study, ...]
    skipped: tuple[str, ...]


def _records(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, Mapping) and isinstance(document.get("studies"), list):
        return [r for r in document["studies"] if isinstance(r, Mapping)]
    return [document] if isinstance(document, Mapping) else []


def load_directory(directory: Path) -> Loaded:
    """Every study in ``directory/*.json`` (sorted by file name, then record order).

    Args:
        directory: the directory of downloaded v2 records.
    """
    studies: list[Study] = []
    skipped: list[str] = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        # ValueError covers JSONDecodeError and UnicodeDecodeError, and also a number
        # past Python's integer-digit limit; RecursionError, nesting too deep to parse.
        except (OSError, ValueError, RecursionError):
            skipped.append(path.name)
            continue
        found = 0
        for record in _records(document):
            try:
                studies.append(study_from_record(record))
                found += 1
            except NotAStudy:
                continue
        if not found:
            skipped.append(path.name)
    return Loaded(tuple(studies), tuple(skipped))


__all__ = ["Loaded", "load_directory"]

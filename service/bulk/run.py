"""One bulk run: read the export, derive every patient, write the output directory.

The output directory remembers its run in ``work/state.json``: which export
(file names, sizes, modification times), how many partitions, the derivation
time and the engine.  A re-run on the same export reuses all of them, so that it
skips every finished chunk and partition and writes the same bytes; a run on
another export into the same directory is refused rather than mixed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.bulk.embedded import default_workers, run_embedded
from service.bulk.outputs import (
    replacing,
    write_errors,
    write_resources,
    write_summary,
    write_table,
)
from service.bulk.patient import BulkContext
from service.bulk.source import chunks, export_files
from service.bulk.summary import Tally, build_summary
from service.settings import DerivationSettings

CHUNK_BYTES = 32 << 20
DEFAULT_BASE_URL = "https://bulk-export.invalid/fhir"


class BulkError(ValueError):
    """The run cannot start (a usage problem); the message names no patient data."""


@dataclass(frozen=True)
class BulkOptions:
    """What a run was asked to do.

    Attributes:
        source: the export directory or manifest.
        out: the output directory.
        engine: ``embedded`` or ``spark``.
        workers: processes of the embedded engine (None: every core).
        partitions: partitions of the patients (None: from the export's size).
        master: the Spark master (None: ``local[*]``).
        base_url: the server the export came from (the inputs' ``fullUrl``).
        chunk_bytes: the size of the chunks plain files are read in.
        tty: force the progress display (None: a bar when stderr is a terminal).
        now: the derivation time of a new run (None: the time it starts).
    """

    source: Path
    out: Path
    engine: str = "embedded"
    workers: int | None = None
    partitions: int | None = None
    master: str | None = None
    base_url: str = DEFAULT_BASE_URL
    chunk_bytes: int = CHUNK_BYTES
    tty: bool | None = None
    now: dt.datetime | None = None


@dataclass(frozen=True)
class RunResult:
    """A finished run: its summary (``summary.json``) and the work directory."""

    summary: dict[str, Any]
    work: Path
    context: BulkContext
    partitions: int


def _fingerprint(files: list[Path]) -> list[list[Any]]:
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def _state(options: BulkOptions, files: list[Path], workers: int) -> dict[str, Any]:
    """The run's state: the earlier run's, when it was over the same export."""
    work = options.out / "work"
    path = work / "state.json"
    inputs = _fingerprint(files)
    if path.is_file():
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if state.get("inputs") != inputs or state.get("base_url") != options.base_url:
            raise BulkError(
                "the output directory holds the run of another export; choose a new --out"
            )
        if state.get("engine") != options.engine:
            # Partitions of another engine are not this engine's: start the passes over.
            shutil.rmtree(work / "chunks", ignore_errors=True)
            shutil.rmtree(work / "results", ignore_errors=True)
            state["engine"] = options.engine
            _save(path, state)
        return state
    total = sum(p.stat().st_size for p in files)
    # About 16 MiB of export per partition, and at least two per worker for balance.
    partitions = options.partitions or max(2 * workers, min(4096, total // (16 << 20) + 1))
    now = options.now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    state = {
        "inputs": inputs,
        "base_url": options.base_url,
        "partitions": partitions,
        "derived_at": now.isoformat(),
        "engine": options.engine,
        "chunk_bytes": options.chunk_bytes,
    }
    work.mkdir(parents=True, exist_ok=True)
    _save(path, state)
    return state


def _save(path: Path, state: dict[str, Any]) -> None:
    with replacing(path) as handle:
        json.dump(state, handle)


def run(options: BulkOptions, settings: DerivationSettings) -> RunResult:
    """Run the bulk job end to end (without write-back).

    Raises:
        BulkError: when the export cannot be read or the output directory is another run's.
        SourceError: when the export is not a directory of NDJSON or a manifest.
    """
    files = export_files(options.source)
    if not files:
        raise BulkError("the export holds no NDJSON file")
    workers = options.workers or default_workers()
    options.out.mkdir(parents=True, exist_ok=True)
    state = _state(options, files, workers)
    work = options.out / "work"
    partitions = int(state["partitions"])
    ctx = BulkContext(settings, dt.datetime.fromisoformat(state["derived_at"]), options.base_url)
    codes = frozenset(settings.code_map.kinds)
    inputs: Counter[str]
    patients: Counter[str]
    if options.engine == "spark":
        from service.bulk.spark import run_spark  # noqa: PLC0415 - an optional extra

        inputs, patients = run_spark(files, partitions, work, ctx, codes, options.master)
        chunk_count = 1
    else:
        chunk_list = chunks(files, int(state.get("chunk_bytes", options.chunk_bytes)))
        inputs, patients = run_embedded(
            chunk_list, partitions, work, ctx, codes, workers, options.tty
        )
        chunk_count = len(chunk_list)
    out = options.out
    tally = Tally()
    write_resources(work, out)
    write_table(work, out, tally)
    write_errors(work, out, chunk_count)
    run_facts = {
        "engine": options.engine,
        "derived_at": state["derived_at"],
        "partitions": partitions,
        "files": len(files),
    }
    summary = build_summary(tally, inputs, patients, run_facts)
    write_summary(out, summary)
    return RunResult(summary, work, ctx, partitions)


__all__ = ["BulkError", "BulkOptions", "RunResult", "run"]

"""First pass: parse, project and key every line, into partition files on disk.

Each chunk of the export is read by one process, which writes every kept record
(projected, as ``patient<TAB>json``) into the partition its patient hashes to.
So each partition holds a set of whole patients, and the second pass can group
one partition at a time: the export is never in memory at once.  A chunk's files
appear under their final name only when the chunk is complete (a directory
renamed at the end), so a re-run finds either all of a chunk or nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zlib
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from service.bulk.source import Chunk, read_lines
from service.fhir import jsonio
from service.fhir.projection import RESOURCE_TYPES, has_code, patient_of, project, resource_type

SEP = "\t"


@dataclass(frozen=True)
class Parsed:
    """What one line became.

    Attributes:
        outcome: ``record`` (kept), ``dropped`` (not needed), ``unkeyed`` (no
            patient), or ``malformed``.
        patient: the patient's id, for a record.
        line: the projected record as compact JSON, for a record.
        reason: why a line was malformed (a fixed sentence, never the line's content).
    """

    outcome: str
    patient: str | None = None
    line: str | None = None
    reason: str | None = None


@lru_cache(maxsize=8)
def _code_pattern(codes: frozenset[tuple[str, str]]) -> re.Pattern[str]:
    return re.compile("|".join(sorted({re.escape(code) for _, code in codes})))


def _mentions(codes: Collection[tuple[str, str]], raw: bytes | str) -> bool:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return _code_pattern(frozenset(codes)).search(text) is not None


def parse_line(raw: bytes | str, codes: Collection[tuple[str, str]]) -> Parsed:
    """Parse, project and key one NDJSON line."""
    try:
        # A first, plain parse in C decides what to keep: most lines of an export are
        # dropped, and only a kept one needs the strict parse with exact decimals.
        first = json.loads(raw)
    except (ValueError, RecursionError):
        first = None
    kind = resource_type(first)
    if kind is not None and kind not in RESOURCE_TYPES:
        return Parsed("dropped")
    if kind == "Observation" and not has_code(first, codes) and not _mentions(codes, raw):
        # Safe without the strict parse: no recognised code appears anywhere in the
        # line, so not even a repeated key could make it a HER2 input.
        return Parsed("dropped")
    try:
        record = jsonio.loads(raw)
    except jsonio.JsonError as exc:
        return Parsed("malformed", reason=exc.reason)
    if resource_type(record) is None:
        return Parsed("malformed", reason="The line is not a FHIR resource.")
    projected = project(record, codes)
    if projected is None:
        return Parsed("dropped")
    patient = patient_of(projected)
    if patient is None:
        return Parsed("unkeyed")
    return Parsed("record", patient, jsonio.dumps(projected))


def partition_of(patient: str, partitions: int) -> int:
    """The partition of a patient: a stable hash (the same in every process and run)."""
    return zlib.crc32(patient.encode("utf-8")) % partitions


def malformed_error(name: str, number: int, reason: str) -> dict[str, Any]:
    """An errors-file entry for a malformed line: file and line, never its content."""
    return {"kind": "malformed-line", "file": name, "line": number, "reason": reason}


def chunk_dir(work: Path, index: int) -> Path:
    """Where a finished chunk's partition files are."""
    return work / "chunks" / f"c{index:05d}"


def partition_chunk(
    chunk: Chunk, partitions: int, work: Path, codes: Collection[tuple[str, str]]
) -> dict[str, int]:
    """Read one chunk into partition files; return its counts (also kept on disk).

    A chunk already done in an earlier run is not read again.
    """
    final = chunk_dir(work, chunk.index)
    done = final / "counts.json"
    if done.is_file():
        counts: dict[str, int] = json.loads(done.read_text(encoding="utf-8"))
        return counts
    temporary = final.with_name(final.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    tally: Counter[str] = Counter()
    handles: dict[int, Any] = {}
    try:
        with open(temporary / "errors.ndjson", "w", encoding="utf-8") as errors:
            for number, raw in read_lines(chunk):
                parsed = parse_line(raw, codes)
                tally["lines"] += 1
                tally[parsed.outcome] += 1
                if parsed.outcome == "malformed":
                    entry = malformed_error(chunk.name, number, parsed.reason or "")
                    errors.write(json.dumps(entry) + "\n")
                    continue
                if parsed.patient is None or parsed.line is None:
                    continue
                part = partition_of(parsed.patient, partitions)
                handle = handles.get(part)
                if handle is None:
                    handle = handles[part] = open(  # noqa: SIM115 - closed below
                        temporary / f"p{part:04d}.ndjson", "w", encoding="utf-8"
                    )
                handle.write(f"{parsed.patient}{SEP}{parsed.line}\n")
    finally:
        for handle in handles.values():
            handle.close()
    counts = dict(tally)
    (temporary / "counts.json").write_text(json.dumps(counts), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    return counts


def partition_files(work: Path, partition: int) -> list[Path]:
    """The files of one partition, from every chunk, in chunk order."""
    name = f"p{partition:04d}.ndjson"
    return sorted(p / name for p in (work / "chunks").glob("c*[0-9]") if (p / name).is_file())


__all__ = [
    "SEP",
    "Parsed",
    "chunk_dir",
    "malformed_error",
    "parse_line",
    "partition_chunk",
    "partition_files",
    "partition_of",
]

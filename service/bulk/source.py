"""Where an export's lines come from: a directory or manifest of NDJSON files, in chunks.

A Bulk Data export is a set of NDJSON files, one or more per resource type,
plain or gzip-compressed, listed by an ``$export`` manifest (its ``output[].url``)
or simply lying in a directory.  Large plain files are read in byte ranges
(chunks) so that several processes share one file; a gzip file cannot be entered
in the middle and is one chunk.  Every line keeps its number in its file, for the
errors file.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SUFFIXES: Final = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
_BLOCK: Final = 1 << 20


class SourceError(ValueError):
    """The export cannot be read at all (not a directory of NDJSON, nor a manifest)."""


@dataclass(frozen=True)
class Chunk:
    """A byte range of one export file (the whole file when gzip-compressed).

    Attributes:
        index: the chunk's number in the run (names its temporary files).
        path: the file.
        name: the file's name as reported in the errors file.
        start: the first byte (a line starts at or after it).
        end: the byte after the range (None: to the end of the file).
    """

    index: int
    path: str
    name: str
    start: int = 0
    end: int | None = None


def _is_export_file(path: Path) -> bool:
    return path.is_file() and path.name.endswith(SUFFIXES)


def _manifest_files(manifest: Path) -> list[Path]:
    try:
        document = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SourceError("the manifest cannot be read as JSON") from None
    outputs = document.get("output") if isinstance(document, dict) else None
    if not isinstance(outputs, list):
        raise SourceError("the manifest has no output list")
    files = []
    for item in outputs:
        url = item.get("url") if isinstance(item, dict) else None
        remote = isinstance(url, str) and url.startswith(("http://", "https://"))
        if not isinstance(url, str) or remote:
            # Remote files are downloaded first (``--export``); a local manifest names paths.
            raise SourceError("the manifest names a file that is not local")
        path = Path(url.removeprefix("file://"))
        files.append(path if path.is_absolute() else manifest.parent / path)
    return files


def export_files(source: Path) -> list[Path]:
    """The NDJSON files of an export: a directory's files, or a manifest's outputs.

    Raises:
        SourceError: when ``source`` is neither a directory nor a readable manifest,
            or names a missing file.
    """
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if _is_export_file(p))
    elif source.is_file():
        files = _manifest_files(source)
    else:
        raise SourceError("the export directory or manifest does not exist")
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise SourceError(f"{len(missing)} file(s) of the export are missing")
    return files


def chunks(files: list[Path], target_bytes: int) -> list[Chunk]:
    """Cut the files into chunks of about ``target_bytes`` (gzip files stay whole)."""
    found: list[Chunk] = []
    for path in files:
        size = path.stat().st_size
        if path.name.endswith(".gz") or size <= target_bytes:
            found.append(Chunk(len(found), str(path), path.name))
            continue
        for start in range(0, size, target_bytes):
            end = min(start + target_bytes, size)
            found.append(Chunk(len(found), str(path), path.name, start, end))
    return found


def _count_lines_before(path: str, offset: int) -> int:
    # Counting newlines in 1 MiB blocks runs at disk speed: the price of exact line numbers.
    count = 0
    with open(path, "rb") as handle:
        remaining = offset
        while remaining > 0:
            block = handle.read(min(_BLOCK, remaining))
            if not block:
                break
            count += block.count(b"\n")
            remaining -= len(block)
    return count


def read_lines(chunk: Chunk) -> Iterator[tuple[int, bytes]]:
    """The lines of a chunk with their 1-based number in the file (blank lines skipped).

    A line belongs to the chunk in which it starts.
    """
    if chunk.path.endswith(".gz"):
        with gzip.open(chunk.path, "rb") as stream:
            for number, line in enumerate(stream, 1):
                if line.strip():
                    yield number, line
        return
    with open(chunk.path, "rb") as handle:
        number = 0
        if chunk.start > 0:
            # Start at the first line that begins inside the range.
            number = _count_lines_before(chunk.path, chunk.start)
            handle.seek(chunk.start - 1)
            if handle.read(1) != b"\n":
                handle.readline()  # the rest of a line that began in the previous chunk
                number += 1
        position = handle.tell()
        for line in handle:
            if chunk.end is not None and position >= chunk.end:
                return
            number += 1
            position += len(line)
            if line.strip():
                yield number, line


__all__ = ["Chunk", "SourceError", "chunks", "export_files", "read_lines"]

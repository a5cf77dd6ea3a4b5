"""The embedded engine: both passes over worker processes, all cores, no JVM.

Pass one reads the export's chunks in parallel into partition files; pass two
derives the partitions in parallel.  Memory is bounded by one chunk's line and one
partition's patients per process, never by the size of the export.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from service.bulk.partition import partition_chunk
from service.bulk.patient import BulkContext
from service.bulk.progress import Progress
from service.bulk.results import process_partition
from service.bulk.source import Chunk

T = TypeVar("T")


def default_workers() -> int:
    """Every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _map(
    workers: int,
    function: Callable[..., dict[str, int]],
    items: Iterable[tuple[Any, ...]],
    progress: Progress,
) -> Counter[str]:
    total: Counter[str] = Counter()
    if workers <= 1:
        for item in items:
            counts = function(*item)
            total.update(counts)
            progress.advance(counts.get(progress.unit, 0))
        return total
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(function, *item) for item in items]
        for future in futures:
            counts = future.result()
            total.update(counts)
            progress.advance(counts.get(progress.unit, 0))
    return total


def run_embedded(
    chunks: list[Chunk],
    partitions: int,
    work: Path,
    ctx: BulkContext,
    codes: Collection[tuple[str, str]],
    workers: int,
    tty: bool | None = None,
) -> tuple[Counter[str], Counter[str]]:
    """Run both passes; return the first pass's and the second pass's counts."""
    reading = Progress("reading", len(chunks), "lines", tty=tty)
    try:
        inputs = _map(
            workers,
            partition_chunk,
            ((chunk, partitions, work, frozenset(codes)) for chunk in chunks),
            reading,
        )
    finally:
        reading.close()
    deriving = Progress("deriving", partitions, tty=tty)
    try:
        patients = _map(
            workers, process_partition, ((p, work, ctx) for p in range(partitions)), deriving
        )
    finally:
        deriving.close()
    return inputs, patients


__all__ = ["default_workers", "run_embedded"]

"""The output directory: what a run leaves for its users, assembled from the partitions.

- ``Observation.ndjson``, ``List.ndjson``, ``Provenance.ndjson`` and ``Device.ndjson``
  (the service's Device, which they cite): ready for ``$import`` or for upload.
- ``results.csv`` and ``results.parquet``: one row per derived specimen group, and
  one per patient whose HER2 data could not be derived (``error`` says why).
- ``errors.ndjson``: malformed lines (file and line, never their content) and each
  patient's OperationOutcome, as the API would have answered it.
- ``summary.json`` and ``report.html``: the cohort's numbers and the report.

Each file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from service.bulk.partition import chunk_dir
from service.bulk.patient import COLUMNS, Row
from service.bulk.report import render
from service.bulk.results import OUTPUT_TYPES
from service.bulk.summary import Tally
from service.fhir import jsonio
from service.fhir.outbound import device
from service.her2 import default_ruleset


@contextmanager
def replacing(path: Path) -> Iterator[IO[str]]:
    """A text file written under a temporary name, renamed over ``path`` when complete."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        yield handle
    os.replace(temporary, path)


def _result_dirs(work: Path) -> list[Path]:
    root = work / "results"
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".tmp"))


def _concatenate(sources: list[Path], target: Path) -> int:
    count = 0
    with replacing(target) as out:
        for source in sources:
            if source.is_file():
                with open(source, encoding="utf-8") as handle:
                    for line in handle:
                        out.write(line)
                        count += 1
    return count


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parquet_schema() -> Any:
    import pyarrow as pa  # noqa: PLC0415 - a heavy import only the table needs

    types = {"her2_low": pa.bool_(), "ultralow": pa.bool_(), "tdxd_listed": pa.bool_()}
    types |= {"differs_from_recorded": pa.bool_(), "newly_tdxd": pa.bool_()}
    types["ish_group"] = pa.int64()
    return pa.schema([(name, types.get(name, pa.string())) for name in COLUMNS])


def write_table(work: Path, out: Path, tally: Tally) -> int:
    """``results.csv`` and ``results.parquet`` from every partition's rows; count them."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    schema = _parquet_schema()
    parquet_tmp = out / ".results.parquet.tmp"
    count = 0
    with replacing(out / "results.csv") as handle, pq.ParquetWriter(parquet_tmp, schema) as pw:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for directory in _result_dirs(work):
            rows: list[Row] = []
            with open(directory / "rows.ndjson", encoding="utf-8") as lines:
                rows = [json.loads(line) for line in lines]
            tally.add_all(rows)
            writer.writerows([[_csv_value(row.get(c)) for c in COLUMNS] for row in rows])
            if rows:
                pw.write_table(pa.Table.from_pylist(rows, schema=schema))
            count += len(rows)
    os.replace(parquet_tmp, out / "results.parquet")
    return count


def write_resources(work: Path, out: Path) -> dict[str, int]:
    """The output resources, one NDJSON file per type (and the Device they cite)."""
    directories = _result_dirs(work)
    counts = {
        kind: _concatenate([d / f"{kind}.ndjson" for d in directories], out / f"{kind}.ndjson")
        for kind in OUTPUT_TYPES
    }
    with replacing(out / "Device.ndjson") as handle:
        if counts["Observation"]:
            handle.write(jsonio.dumps(device(default_ruleset())) + "\n")
    return counts


def write_errors(work: Path, out: Path, chunk_count: int) -> int:
    """Malformed lines (in file order) and patients' OperationOutcomes, in one file."""
    sources = [chunk_dir(work, index) / "errors.ndjson" for index in range(chunk_count)]
    sources += [d / "issues.ndjson" for d in _result_dirs(work)]
    return _concatenate(sources, out / "errors.ndjson")


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    """``summary.json`` and the report drawn from it."""
    with replacing(out / "summary.json") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
        handle.write("\n")
    with replacing(out / "report.html") as handle:
        handle.write(render(summary))


def clear_results(work: Path) -> None:
    """Forget every partition's results (a run with another engine starts over)."""
    shutil.rmtree(work / "results", ignore_errors=True)


__all__ = [
    "clear_results",
    "replacing",
    "write_errors",
    "write_resources",
    "write_summary",
    "write_table",
]

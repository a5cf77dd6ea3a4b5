"""Second pass: group a partition by patient, derive each, write its results.

Used by every engine: the embedded runner calls :func:`process_partition` per
partition file set; Spark calls :func:`write_results` on each of its partitions
with the same per-patient function.  A partition's results appear under their
final name only when complete (directory renamed at the end): a re-run skips a
finished partition and redoes an interrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Final

from service.bulk.partition import SEP, partition_files
from service.bulk.patient import BulkContext, PatientResult, run_patient
from service.fhir import jsonio

OUTPUT_TYPES: Final = ("Observation", "List", "Provenance")


def results_dir(work: Path, name: str) -> Path:
    """Where a finished partition's results are."""
    return work / "results" / name


def is_done(work: Path, name: str) -> bool:
    """Whether a partition's results were completed by an earlier run."""
    return (results_dir(work, name) / "counts.json").is_file()


def write_results(results: Iterable[PatientResult], work: Path, name: str) -> dict[str, int]:
    """Write the results of one partition's patients; return its counts.

    Files: one NDJSON per output type, ``rows.ndjson`` (the results table's rows),
    ``issues.ndjson`` (each patient's OperationOutcome) and ``counts.json``.
    """
    final = results_dir(work, name)
    temporary = final.with_name(final.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    counts = {"patients": 0, "patients_with_her2": 0, "patients_failed": 0, "resources": 0}
    with ExitStack() as stack:
        files = {
            kind: stack.enter_context(open(temporary / f"{kind}.ndjson", "w", encoding="utf-8"))
            for kind in OUTPUT_TYPES
        }
        rows = stack.enter_context(open(temporary / "rows.ndjson", "w", encoding="utf-8"))
        issues = stack.enter_context(open(temporary / "issues.ndjson", "w", encoding="utf-8"))
        for result in results:
            counts["patients"] += 1
            counts["patients_with_her2"] += result.has_her2
            counts["patients_failed"] += result.failed
            for kind, line in result.resources:
                files[kind].write(line + "\n")
                counts["resources"] += 1
            for row in result.rows:
                rows.write(json.dumps(row, sort_keys=True) + "\n")
            if result.outcome is not None:
                entry = {
                    "kind": "patient",
                    "patient": result.patient,
                    "failed": result.failed,
                    "outcome": result.outcome,
                }
                issues.write(jsonio.dumps(entry) + "\n")
    (temporary / "counts.json").write_text(json.dumps(counts), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    return counts


def grouped(lines: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """``patient<TAB>json`` lines grouped by patient (records parsed)."""
    patients: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        patient, _, record = line.rstrip("\n").partition(SEP)
        # Written by pass 1 (``jsonio.dumps`` of a record ``jsonio.loads`` accepted):
        # the strict checks already ran on the export's line.
        patients.setdefault(patient, []).append(jsonio.loads_written(record))
    return patients


def derive_all(
    patients: dict[str, list[dict[str, Any]]], ctx: BulkContext
) -> Iterator[PatientResult]:
    """Every patient of a group, in id order, through the per-patient function."""
    for patient in sorted(patients):
        yield run_patient(patient, patients[patient], ctx)


def _partition_lines(work: Path, partition: int) -> Iterator[str]:
    for path in partition_files(work, partition):
        with open(path, encoding="utf-8") as handle:
            yield from handle


def process_partition(partition: int, work: Path, ctx: BulkContext) -> dict[str, int]:
    """Derive every patient of one partition (skipped when an earlier run finished it)."""
    name = f"p{partition:04d}"
    if is_done(work, name):
        counts: dict[str, int] = json.loads(
            (results_dir(work, name) / "counts.json").read_text(encoding="utf-8")
        )
        return counts
    patients = grouped(_partition_lines(work, partition))
    return write_results(derive_all(patients, ctx), work, name)


__all__ = [
    "OUTPUT_TYPES",
    "derive_all",
    "grouped",
    "is_done",
    "process_partition",
    "results_dir",
    "write_results",
]

"""The Apache Spark engine (``--engine spark``, the optional ``[spark]`` extra).

The same steps as the embedded engine, on RDDs: every line parsed, projected and
keyed by ``partition.parse_line``; records grouped by patient (``groupByKey``
into the run's number of partitions); each partition derived by the same
per-patient function and written by the same writer (``results.write_results``)
from the executors, so that the output directory is assembled exactly as for
the embedded engine.  The executors write to the output directory: on a cluster
it must be on a file system every executor shares.

``local[*]`` by default, any cluster with ``--master`` (or ``spark-submit``).
On a local master everything stays on loopback: ``SPARK_LOCAL_IP``, the
driver's host and bind address are 127.0.0.1 and the web UI is off.  A Spark
run is not resumable by partition (Spark recomputes what it needs).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import service
from service.bulk.partition import chunk_dir, malformed_error, parse_line
from service.bulk.patient import BulkContext
from service.bulk.results import derive_all, write_results
from service.fhir import jsonio

Tagged = tuple[str, str | None, str | None, str, int, str | None]


def session(master: str | None) -> Any:
    """A SparkSession; loopback only when the master is local."""
    from pyspark.sql import SparkSession  # noqa: PLC0415 - the optional extra

    master = master or "local[*]"
    # Executors must import the driver's code, wherever it was loaded from.
    root = str(Path(service.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root if not path else f"{root}{os.pathsep}{path}"
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("her2-status-bulk")
    # Spark's own progress bar on a terminal (stages and tasks), nothing otherwise.
    tty = "true" if sys.stderr.isatty() else "false"
    builder = builder.config("spark.ui.showConsoleProgress", tty)
    builder = builder.config("spark.executorEnv.PYTHONPATH", os.environ["PYTHONPATH"])
    if master.startswith("local"):
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        for key, value in (
            ("spark.driver.host", "127.0.0.1"),
            ("spark.driver.bindAddress", "127.0.0.1"),
            ("spark.ui.enabled", "false"),
        ):
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _tag(name: str, codes: Collection[tuple[str, str]], item: tuple[str, int]) -> Tagged:
    text, index = item
    parsed = parse_line(text, codes)
    return (parsed.outcome, parsed.patient, parsed.line, name, index + 1, parsed.reason)


def _derive_partition(
    work: Path, ctx: BulkContext, index: int, items: Iterable[tuple[str, Iterable[str]]]
) -> Iterator[dict[str, int]]:
    # The lines are ``parse_line``'s output (``jsonio.dumps`` of an accepted record).
    patients = {patient: [jsonio.loads_written(line) for line in lines] for patient, lines in items}
    yield write_results(derive_all(patients, ctx), work, f"s{index:04d}")


def run_spark(
    files: list[Path],
    partitions: int,
    work: Path,
    ctx: BulkContext,
    codes: Collection[tuple[str, str]],
    master: str | None = None,
) -> tuple[Counter[str], Counter[str]]:
    """Run both passes on Spark; return the first and second pass's counts."""
    shutil.rmtree(work / "chunks", ignore_errors=True)
    shutil.rmtree(work / "results", ignore_errors=True)
    spark = session(master)
    try:
        sc = spark.sparkContext
        codes = frozenset(codes)
        # textFile reads gzip too; zipWithIndex numbers the lines of each file in order.
        parsed = sc.union(
            [
                sc.textFile(str(path))
                .zipWithIndex()
                .filter(lambda item: bool(item[0].strip()))
                .map(partial(_tag, path.name, codes))
                for path in files
            ]
        ).cache()
        inputs: Counter[str] = Counter(dict(parsed.map(lambda t: t[0]).countByValue()))
        inputs["lines"] = sum(inputs.values())
        errors = sorted(
            parsed.filter(lambda t: t[0] == "malformed").map(lambda t: (t[3], t[4], t[5])).collect()
        )
        target = chunk_dir(work, 0)
        target.mkdir(parents=True, exist_ok=True)
        with open(target / "errors.ndjson", "w", encoding="utf-8") as handle:
            for name, number, reason in errors:
                handle.write(json.dumps(malformed_error(name, number, reason or "")) + "\n")
        records = parsed.filter(lambda t: t[0] == "record").map(lambda t: (t[1], t[2]))
        counts = (
            records.groupByKey(numPartitions=partitions)
            .mapPartitionsWithIndex(partial(_derive_partition, work, ctx))
            .collect()
        )
        patients: Counter[str] = Counter()
        for item in counts:
            patients.update(item)
        return inputs, patients
    finally:
        spark.stop()


__all__ = ["run_spark", "session"]

"""``bulk --engine spark`` on Spark local: the same results as the embedded engine.

A real Spark (pyspark from the ``[spark]`` extra, a local JVM on loopback only)
runs the same per-patient function on an RDD keyed by patient; every output file
is byte for byte the embedded engine's after sorting its lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.bulk.run import BulkOptions, run
from service.settings import DerivationSettings
from tests.builders import NOW
from tests.builders.bulk import write_export

FILES = (
    "Observation.ndjson",
    "List.ndjson",
    "Provenance.ndjson",
    "Device.ndjson",
    "results.csv",
    "errors.ndjson",
)


def _run(source: Path, out: Path, engine: str) -> dict[str, Any]:
    options = BulkOptions(source, out, engine, workers=2, partitions=3, now=NOW, master="local[2]")
    return run(options, DerivationSettings()).summary


# pyspark's collect() leaves its loopback result sockets to the garbage collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_local_writes_the_embedded_engines_results(tmp_path: Path) -> None:
    source = tmp_path / "export"
    write_export(source, 40, seed=5, gzipped=True)
    # A plain file beside the gzip ones, with a malformed line in the middle.
    write_export(tmp_path / "plain", 10, seed=6, start=1000)
    lines = (tmp_path / "plain" / "Observation.000.ndjson").read_text().splitlines()
    lines.insert(2, '{"resourceType": "Observation",')
    (source / "Observation.plain.ndjson").write_text("\n".join(lines) + "\n")
    embedded = _run(source, tmp_path / "embedded", "embedded")
    spark = _run(source, tmp_path / "spark", "spark")
    assert embedded["patients"]["with_her2_data"] == 50
    assert embedded["input"]["malformed_lines"] == 1
    for name in FILES:
        ours = sorted((tmp_path / "embedded" / name).read_bytes().splitlines())
        theirs = sorted((tmp_path / "spark" / name).read_bytes().splitlines())
        assert ours == theirs, name
        assert ours or name == "List.ndjson"
    assert {**spark, "run": None} == {**embedded, "run": None}
    assert spark["run"]["engine"] == "spark"

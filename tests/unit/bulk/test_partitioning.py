"""Reading in chunks with exact line numbers, and keying patients into partition files."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import pytest

from service.bulk.partition import partition_chunk, partition_files, partition_of
from service.bulk.source import SourceError, chunks, export_files, read_lines
from service.fhir.codes import CodeMap
from tests.builders.bulk import manifest

CODES = frozenset(CodeMap().kinds)


def _lines(path: Path) -> list[tuple[int, bytes]]:
    raw = path.read_bytes().split(b"\n")
    return [(n, line + b"\n") for n, line in enumerate(raw, 1) if line.strip()]


@pytest.mark.parametrize("size", [1, 7, 100, 1000, 10**6])
def test_chunks_cover_every_line_once_with_its_number_in_the_file(
    tmp_path: Path, size: int
) -> None:
    path = tmp_path / "Observation.ndjson"
    path.write_bytes(b'{"a": 1}\n\n{"bb": 22}\n{"ccc": 333}\n' * 20 + b'{"last": 0}')
    found = [item for chunk in chunks([path], size) for item in read_lines(chunk)]
    expected = _lines(path)
    expected[-1] = (expected[-1][0], expected[-1][1][:-1])  # no newline after the last line
    assert found == expected


def test_a_gzip_file_is_read_whole_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "Patient.ndjson.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'{"a": 1}\n\n{"b": 2}\n')
    (chunk,) = chunks([path], 1)
    assert list(read_lines(chunk)) == [(1, b'{"a": 1}\n'), (3, b'{"b": 2}\n')]


def test_a_manifest_names_the_files(tmp_path: Path) -> None:
    (tmp_path / "Patient.000.ndjson").write_text("{}\n")
    (tmp_path / "manifest.json").write_text(json.dumps(manifest(tmp_path, "https://x.test")))
    assert export_files(tmp_path / "manifest.json") == [tmp_path / "Patient.000.ndjson"]


def test_a_manifest_with_remote_files_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    remote = {"output": [{"type": "Patient", "url": "https://elsewhere.test/f.ndjson"}]}
    (tmp_path / "remote.json").write_text(json.dumps(remote))
    with pytest.raises(SourceError):
        export_files(tmp_path / "remote.json")
    missing = {"output": [{"type": "Patient", "url": "gone.ndjson"}]}
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    with pytest.raises(SourceError):
        export_files(tmp_path / "missing.json")


def test_partitions_are_stable_and_in_range() -> None:
    assert {partition_of("pt0000001", 8) for _ in range(3)} == {partition_of("pt0000001", 8)}
    assert all(0 <= partition_of(f"p{i}", 5) < 5 for i in range(100))
    assert len({partition_of(f"p{i}", 5) for i in range(100)}) == 5


def test_every_record_of_a_patient_lands_in_one_partition(export_dir: Path, tmp_path: Path) -> None:
    files = export_files(export_dir)
    counts: dict[str, int] = defaultdict(int)
    for chunk in chunks(files, 4096):
        for key, value in partition_chunk(chunk, 3, tmp_path, CODES).items():
            counts[key] += value
    where: dict[str, set[int]] = defaultdict(set)
    for partition in range(3):
        for path in partition_files(tmp_path, partition):
            for line in path.read_text().splitlines():
                where[line.split("\t", 1)[0]].add(partition)
    assert len(where) == 60
    assert all(len(parts) == 1 for parts in where.values())
    assert counts["lines"] == sum(len(_lines(p)) for p in files)
    assert counts["record"] + counts["dropped"] == counts["lines"]
    assert counts["dropped"] > 0

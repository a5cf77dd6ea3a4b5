"""The bulk run end to end on the embedded engine: outputs, errors, resuming, the report."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from service.bulk import results as results_module
from service.bulk.run import BulkError, BulkOptions, run
from service.cli import main
from service.settings import DerivationSettings
from tests.builders import NOW
from tests.builders.bulk import write_export
from tests.builders.report import report_numbers, summary_value


def _run(source: Path, out: Path, workers: int = 1, **kw: Any) -> dict[str, Any]:
    options = BulkOptions(source, out, workers=workers, partitions=3, now=NOW, **kw)
    return run(options, DerivationSettings()).summary


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_the_output_directory_holds_every_output(export_dir: Path, tmp_path: Path) -> None:
    summary = _run(export_dir, tmp_path / "out", workers=2)
    out = tmp_path / "out"
    observations = [json.loads(line) for line in _lines(out / "Observation.ndjson")]
    assert len(observations) == summary["specimens"]["derived"] > 0
    assert {o["resourceType"] for o in observations} == {"Observation"}
    assert len(_lines(out / "Provenance.ndjson")) == len(observations)
    assert json.loads(_lines(out / "Device.ndjson")[0])["resourceType"] == "Device"
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    table = pq.read_table(out / "results.parquet").to_pylist()
    assert (
        len(rows)
        == len(table)
        == summary["specimens"]["derived"] + summary["specimens"]["not_derived"]
    )
    assert [r["key"] for r in rows] == [r["key"] or "" for r in table]
    assert summary["patients"]["total"] == 60
    assert summary["input"]["malformed_lines"] == 0
    assert summary["recorded_interpretation"]["compared"] > 0
    assert any(r["recorded_interpretation"] == "negative" for r in table)
    assert summary["patients"]["newly_in_labelled_tdxd_setting"] == len(
        {r["patient"] for r in table if r["newly_tdxd"]}
    )


def test_malformed_lines_are_reported_with_file_and_line_and_the_run_goes_on(
    export_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "export"
    shutil.copytree(export_dir, source)
    target = source / "Observation.000.ndjson"
    lines = _lines(target)
    lines.insert(3, '{"resourceType": "Observation", "id": "secret-value-42"')
    lines.insert(10, "not json at all")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = _run(source, tmp_path / "out")
    clean = _run(export_dir, tmp_path / "clean")
    errors = [json.loads(line) for line in _lines(tmp_path / "out" / "errors.ndjson")]
    malformed = [e for e in errors if e["kind"] == "malformed-line"]
    assert [(e["file"], e["line"]) for e in malformed] == [
        ("Observation.000.ndjson", 4),
        ("Observation.000.ndjson", 11),
    ]
    assert "secret-value-42" not in (tmp_path / "out" / "errors.ndjson").read_text()
    assert summary["input"]["malformed_lines"] == 2
    assert summary["failed"] is True
    assert summary["specimens"] == clean["specimens"]


def test_a_rerun_skips_finished_partitions_and_redoes_an_unfinished_one(
    export_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first = _run(export_dir, out)
    before = {p: (out / p).read_bytes() for p in ("Observation.ndjson", "results.csv")}
    shutil.rmtree(out / "work" / "results" / "p0001")
    calls: list[str] = []
    original = results_module.run_patient  # type: ignore[attr-defined]

    def counting(patient: str, *args: Any) -> Any:
        calls.append(patient)
        return original(patient, *args)

    monkeypatch.setattr(results_module, "run_patient", counting)
    second = _run(export_dir, out)
    assert 0 < len(calls) < first["patients"]["total"]
    assert {p: (out / p).read_bytes() for p in before} == before
    assert second == first
    calls.clear()
    _run(export_dir, out)
    assert calls == []


def test_another_export_into_the_same_output_directory_is_refused(
    export_dir: Path, tmp_path: Path
) -> None:
    _run(export_dir, tmp_path / "out")
    other = tmp_path / "other"
    write_export(other, 5, seed=1)
    with pytest.raises(BulkError):
        _run(other, tmp_path / "out")


def test_every_number_of_the_report_is_the_json_summarys(export_dir: Path, tmp_path: Path) -> None:
    summary = _run(export_dir, tmp_path / "out")
    numbers = report_numbers((tmp_path / "out" / "report.html").read_text(encoding="utf-8"))
    assert len(numbers) > 20
    for _tag, path, printed in numbers:
        assert int(printed) == summary_value(summary, path), path
    assert summary == json.loads((tmp_path / "out" / "summary.json").read_text())
    shown = {path for _, path, _ in numbers}
    for site, statuses in summary["status_by_site"].items():
        assert {f"status_by_site/{site}/{s}" for s in statuses} <= shown
    assert "http" not in (tmp_path / "out" / "report.html").read_text().replace(
        "http://www.w3.org/2000/svg", ""
    )


def test_the_command_exits_0_when_nothing_failed_and_2_when_something_did(
    export_dir: Path, tmp_path: Path
) -> None:
    out = io.StringIO()
    args = ["bulk", str(export_dir), "--out", str(tmp_path / "a"), "--workers", "1"]
    assert main(args, out) == 0
    assert "60 patients" in out.getvalue()
    broken = tmp_path / "broken"
    shutil.copytree(export_dir, broken)
    with open(broken / "Patient.000.ndjson", "a", encoding="utf-8") as handle:
        handle.write("{\n")
    assert main(["bulk", str(broken), "--out", str(tmp_path / "b"), "--workers", "1"], out) == 2
    assert main(["bulk", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")], out) == 1


def test_the_derivation_time_is_the_runs_and_kept_on_resume(
    export_dir: Path, tmp_path: Path
) -> None:
    summary = _run(export_dir, tmp_path / "out")
    assert dt.datetime.fromisoformat(summary["run"]["derived_at"]) == NOW
    observation = json.loads(_lines(tmp_path / "out" / "Observation.ndjson")[0])
    assert observation["issued"].startswith(NOW.strftime("%Y-%m-%dT%H:%M"))

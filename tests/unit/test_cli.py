"""``her2-status derive``: output, exit codes, stdin, local code maps."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import EXIT_NOTHING_DERIVED, EXIT_OK, EXIT_USAGE, main
from tests.builders import FIXTURES, observation

INPUTS = FIXTURES / "inputs"


def run(*args: str) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}


def test_derive_prints_a_collection_bundle() -> None:
    code, document = run("derive", str(INPUTS / "breast-ihc2-dual-separate.json"))
    assert code == EXIT_OK
    assert document["resourceType"] == "Bundle"
    assert document["type"] == "collection"


@pytest.mark.parametrize(
    "content",
    [None, "{not json", '{"resourceType": "Patient", "id": "p"}'],
    ids=["no-her2-result", "invalid-json", "wrong-resource-type"],
)
def test_nothing_derived_prints_an_operation_outcome_and_exits_2(
    tmp_path: Path, content: str | None
) -> None:
    path = INPUTS / "no-her2.json"
    if content is not None:
        path = tmp_path / "input.json"
        path.write_text(content)
    code, document = run("derive", str(path))
    assert code == EXIT_NOTHING_DERIVED
    assert document["resourceType"] == "OperationOutcome"


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("derive", "/nonexistent/input.json")
    assert code == EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err


def test_bad_code_map_is_a_usage_error(tmp_path: Path) -> None:
    table = tmp_path / "map.json"
    table.write_text('{"observations": [{"system": "s", "code": "c", "kind": "nope"}]}')
    code, _ = run("derive", "--code-map", str(table), str(INPUTS / "unknown-site.json"))
    assert code == EXIT_USAGE


def test_local_code_map_is_used(tmp_path: Path) -> None:
    table = tmp_path / "map.json"
    table.write_text(
        json.dumps(
            {
                "observations": [
                    {"system": "http://lab.example.org/codes", "code": "HER2IHC", "kind": "ihc"}
                ]
            }
        )
    )
    payload = tmp_path / "in.json"
    payload.write_text(
        json.dumps(
            observation(
                None,
                "HER2IHC",
                system="http://lab.example.org/codes",
                subject=None,
                effective=None,
                valueString="3+",
            )
        )
    )
    assert run("derive", str(payload))[0] == EXIT_NOTHING_DERIVED
    assert run("derive", "--code-map", str(table), str(payload))[0] == EXIT_OK


def test_installed_command_reads_stdin() -> None:
    source = (INPUTS / "unknown-site.json").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "derive", "-"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["type"] == "collection"

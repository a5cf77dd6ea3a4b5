"""``her2-status derive --shape mcode``: the statuses as mCODE tumour-marker Observations."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from service.cli import EXIT_NOTHING_DERIVED, EXIT_OK, main
from service.fhir.mcode_marker import MCODE_PROFILES
from tests.builders import FIXTURES, ihc_score

INPUTS = FIXTURES / "inputs"


def _derive(*args: str) -> tuple[int, Any]:
    out = io.StringIO()
    code = main(["derive", *args], out=out)
    return code, json.loads(out.getvalue())


def test_mcode_shape_prints_tumour_markers() -> None:
    path = str(INPUTS / "breast-ihc2-dual-separate.json")
    code, document = _derive("--shape", "mcode", path)
    assert code == EXIT_OK
    assert document["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in document["entry"]]
    assert kinds[:2] == ["Observation", "Device"]
    assert document["entry"][0]["resource"]["meta"]["profile"] == list(MCODE_PROFILES)
    # The default shape is unchanged: the status Observation, its List and Provenance.
    _, status = _derive(path)
    assert "Provenance" in [e["resource"]["resourceType"] for e in status["entry"]]


def test_nothing_to_offer_exits_2_with_an_outcome(tmp_path: Path) -> None:
    path = tmp_path / "no-subject.json"
    path.write_text(json.dumps(ihc_score("ihc", "1+", subject=None)))
    code, document = _derive("--shape", "mcode", str(path))
    assert code == EXIT_NOTHING_DERIVED
    assert document["resourceType"] == "OperationOutcome"
    assert document["issue"][0]["code"] == "incomplete"

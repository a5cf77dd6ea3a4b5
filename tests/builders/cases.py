"""The public worked examples, and the same cases as realistic FHIR input.

The examples are kept in the repository (``tests/fixtures/cases/public-cases.json``, a
verbatim copy of the project's published worked examples), so the suite passes on a bare
clone.

As FHIR: IHC as a coded Observation, ISH as separate ratio / average / cell-count
Observations, a blinded recount as a panel with components and the count-role
extension, an IHC from another block as a child Specimen, earlier specimens as
dated IHC Observations on other Specimens, and an assay failure as a
dataAbsentReason.  Everything belongs to ``CASE_PATIENT``, as stored on a FHIR
server (``meta.versionId`` 1).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.builders.fhir import (
    IHC,
    bundle,
    data_absent,
    ihc_score,
    ish_observations,
    observation,
    parameters,
    recount_panel,
    specimen,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CASES_FILE = FIXTURES / "cases" / "public-cases.json"
CASE_PATIENT = "Patient/case-patient"
CASE_SPECIMEN = "Specimen/current"
CASE_EFFECTIVE = "2026-06-01"


def public_cases() -> list[dict[str, Any]]:
    """The cases of ``CASES_FILE`` (decimals exact); none if it is missing.

    A missing file must fail the suite, never skip it: the test that loads the
    cases also asserts that ``CASES_FILE`` is there.
    """
    if not CASES_FILE.is_file():
        return []
    cases: list[dict[str, Any]] = json.loads(
        CASES_FILE.read_text(encoding="utf-8"), parse_float=Decimal
    )
    return cases


def case_ihc(
    id: str,
    score: str,
    *,
    specimen: str = CASE_SPECIMEN,
    effective: str = CASE_EFFECTIVE,
    assessed: bool = True,
    **kw: Any,
) -> dict[str, Any]:
    """The case patient's stored IHC in the score vocabulary (``ihc_score``)."""
    return ihc_score(
        id,
        score,
        assessed=assessed,
        subject=CASE_PATIENT,
        specimen=specimen,
        effective=effective,
        version="1",
        **kw,
    )


def case_ish(
    prefix: str,
    ish: dict[str, Any],
    *,
    specimen: str = CASE_SPECIMEN,
    effective: str = CASE_EFFECTIVE,
) -> list[dict[str, Any]]:
    """The case patient's stored ISH counts, one Observation each (``ish_observations``)."""
    return ish_observations(
        prefix, ish, subject=CASE_PATIENT, specimen=specimen, effective=effective, version="1"
    )


def case_to_fhir(case: dict[str, Any]) -> dict[str, Any]:
    """A Parameters (tumorSite + Bundle) carrying the case's inputs."""
    inputs = case["inputs"]
    stored = {"subject": CASE_PATIENT, "effective": CASE_EFFECTIVE, "version": "1"}
    resources: list[dict[str, Any]] = [specimen("current", subject=CASE_PATIENT)]
    ihc_specimen = CASE_SPECIMEN
    if inputs.get("ihc_same_specimen") is False:
        ihc_specimen = "Specimen/other-block"
        resources.append(specimen("other-block", subject=CASE_PATIENT, parent=CASE_SPECIMEN))
    if inputs.get("assay_failed"):
        resources.append(
            observation("ihc-failed", IHC, specimen=CASE_SPECIMEN, **stored, **data_absent())
        )
    if inputs.get("ihc_score") is not None:
        assessed = inputs.get("ihc0_ultralow_assessed", True)
        resources.append(
            case_ihc("ihc", inputs["ihc_score"], specimen=ihc_specimen, assessed=assessed)
        )
    if inputs.get("ish"):
        resources += case_ish("ish", inputs["ish"])
    if inputs.get("ish_recount"):
        resources.append(
            recount_panel("recount", inputs["ish_recount"], specimen=CASE_SPECIMEN, **stored)
        )
    for index, prior in enumerate(inputs.get("prior_results", [])):
        resources.append(
            case_ihc(
                f"prior-{index}",
                prior["ihc_score"],
                specimen=f"Specimen/prior-{index}",
                effective=prior["date"],
            )
        )
    return parameters(
        {"name": "tumorSite", "valueCode": case["site"]},
        {"name": "bundle", "resource": bundle(*resources)},
    )

"""Turn rule-level cases (tests/fixtures/cases/public-cases.json) into realistic FHIR input.

IHC as a coded Observation, ISH as separate ratio / average / cell-count
Observations, a blinded recount as a panel with components and the count-role
extension, an IHC from another block as a child Specimen, earlier specimens as
dated IHC Observations on other Specimens, and an assay failure as a
dataAbsentReason.
"""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
CANONICAL = "https://her2-status.org/fhir"
IHC_CODINGS = {
    "0": [(LOINC, "LA6111-4"), (f"{CANONICAL}/CodeSystem/her2-ihc-score", "0-null")],
    "0-ultralow": [(LOINC, "LA6111-4"), (f"{CANONICAL}/CodeSystem/her2-ihc-score", "0-ultralow")],
    "1+": [(LOINC, "LA11841-6")],
    "2+": [(LOINC, "LA11842-4")],
    "3+": [(LOINC, "LA11843-2")],
}
ISH_CODES = {
    "her2_cep17_ratio": ("49683-6", "{ratio}"),
    "avg_her2_copies": ("74860-8", "{copies}/{nucleus}"),
    "avg_cep17_copies": ("74861-6", "{copies}/{nucleus}"),
}
PATIENT = "Patient/case-patient"


def _obs(obs_id: str, code: str, specimen: str, effective: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": obs_id,
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": PATIENT},
        "specimen": {"reference": specimen},
        "effectiveDateTime": effective,
        **value,
    }


def ihc_observation(
    obs_id: str, score: str, specimen: str, effective: str, assessed: bool = True
) -> dict[str, Any]:
    codings = IHC_CODINGS[score]
    if score == "0" and not assessed:
        codings = codings[:1]  # plain LA6111-4: null vs ultralow not assessed
    concept = {"coding": [{"system": s, "code": c} for s, c in codings]}
    return _obs(obs_id, "18474-7", specimen, effective, valueCodeableConcept=concept)


def ish_observations(prefix: str, ish: dict[str, Any], specimen: str, effective: str) -> list[Any]:
    resources = []
    for field, (code, unit) in ISH_CODES.items():
        if ish.get(field) is not None:
            quantity = {"value": ish[field], "system": "http://unitsofmeasure.org", "code": unit}
            resources.append(
                _obs(f"{prefix}-{code}", code, specimen, effective, valueQuantity=quantity)
            )
    if ish.get("cells_counted") is not None:
        resources.append(
            _obs(
                f"{prefix}-cells", "62361-1", specimen, effective, valueInteger=ish["cells_counted"]
            )
        )
    return resources


def recount_panel(ish: dict[str, Any], specimen: str, effective: str) -> dict[str, Any]:
    components = [
        {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": ish[field], "code": unit},
        }
        for field, (code, unit) in ISH_CODES.items()
        if ish.get(field) is not None
    ]
    return _obs(
        "recount",
        "74885-5",
        specimen,
        effective,
        method={
            "coding": [{"system": f"{CANONICAL}/CodeSystem/her2-ish-assay", "code": "dual-probe"}]
        },
        extension=[
            {
                "url": f"{CANONICAL}/StructureDefinition/her2-ish-count-role",
                "valueCode": "blinded-recount",
            }
        ],
        component=components,
    )


def case_to_fhir(case: dict[str, Any]) -> dict[str, Any]:
    """A Parameters (tumorSite + Bundle) carrying the case's inputs."""
    inputs = case["inputs"]
    effective = "2026-06-01"
    specimen = "Specimen/current"
    resources: list[dict[str, Any]] = [
        {"resourceType": "Specimen", "id": "current", "subject": {"reference": PATIENT}}
    ]
    ihc_specimen = specimen
    if inputs.get("ihc_same_specimen") is False:
        ihc_specimen = "Specimen/other-block"
        resources.append(
            {
                "resourceType": "Specimen",
                "id": "other-block",
                "subject": {"reference": PATIENT},
                "parent": [{"reference": specimen}],
            }
        )
    if inputs.get("assay_failed"):
        failed = _obs(
            "ihc-failed",
            "18474-7",
            specimen,
            effective,
            dataAbsentReason={
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "code": "error",
                    }
                ]
            },
        )
        resources.append(failed)
    if inputs.get("ihc_score") is not None:
        assessed = inputs.get("ihc0_ultralow_assessed", True)
        resources.append(
            ihc_observation("ihc", inputs["ihc_score"], ihc_specimen, effective, assessed)
        )
    if inputs.get("ish"):
        resources += ish_observations("ish", inputs["ish"], specimen, effective)
    if inputs.get("ish_recount"):
        resources.append(recount_panel(inputs["ish_recount"], specimen, effective))
    for index, prior in enumerate(inputs.get("prior_results", [])):
        prior_specimen = f"Specimen/prior-{index}"
        resources.append(
            ihc_observation(f"prior-{index}", prior["ihc_score"], prior_specimen, prior["date"])
        )
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "tumorSite", "valueCode": case["site"]},
            {
                "name": "bundle",
                "resource": {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"resource": r} for r in resources],
                },
            },
        ],
    }

"""Shared helpers for the trial-matching tests (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.trials.model import Study

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "trials"
CORPUS = FIXTURES / "eligibility_corpus.json"
CTGOV = FIXTURES / "ctgov"


def corpus() -> list[dict[str, Any]]:
    """The cited eligibility sentences with their expected extraction."""
    sentences: list[dict[str, Any]] = json.loads(CORPUS.read_text(encoding="utf-8"))["sentences"]
    return sentences


def study(
    eligibility: str,
    conditions: tuple[str, ...] = ("Breast Cancer",),
    *,
    study_id: str = "NCT00000000",
    status: str = "RECRUITING",
    phases: tuple[str, ...] = ("PHASE3",),
    keywords: tuple[str, ...] = (),
    title: str = "",
) -> Study:
    """A study with the given eligibility text."""
    return Study(study_id, title, status, phases, conditions, keywords, eligibility)


MCODE = FIXTURES / "mcode"


def mcode_request(name: str) -> dict[str, Any]:
    """A ``/getClinicalTrial`` body in the mCODE library's shape (``fixtures/trials/mcode``)."""
    body: dict[str, Any] = json.loads((MCODE / f"{name}.json").read_text(encoding="utf-8"))
    return body


def with_parameters(body: dict[str, Any], **values: object) -> dict[str, Any]:
    """The body with its Parameters entry replaced by ``values`` as ``valueString``."""
    entries = [e for e in body["entry"] if e["resource"]["resourceType"] != "Parameters"]
    parameter = [{"name": k, "valueString": v} for k, v in values.items()]
    entries.append({"resource": {"resourceType": "Parameters", "parameter": parameter}})
    return {**body, "entry": entries}


# -- FHIR ResearchStudy / Group (the FHIR trial source) --

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
COMPONENT = "https://her2-status.org/fhir/CodeSystem/her2-status-component"
PHASES = "http://terminology.hl7.org/CodeSystem/research-study-phase"


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """A CodeableConcept of one coding."""
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def characteristic(code: dict[str, Any], exclude: bool = False, **value: Any) -> dict[str, Any]:
    """A ``Group.characteristic``; ``value`` is one ``value[x]`` (e.g. valueBoolean=True)."""
    return {"code": code, **value, "exclude": exclude}


def interpretation(
    answer: tuple[str, str] = (SNOMED, "10828004"), exclude: bool = False
) -> dict[str, Any]:
    """HER2 interpretation (LOINC 48676-1) with a coded answer."""
    return characteristic(
        concept(LOINC, "48676-1", "HER2 [Interpretation] in Tissue"),
        exclude,
        valueCodeableConcept=concept(*answer),
    )


def component(code: str, value: bool, exclude: bool = False) -> dict[str, Any]:
    """The project's her2-low / her2-ultralow component code with a boolean."""
    return characteristic(concept(COMPONENT, code), exclude, valueBoolean=value)


def group(group_id: str, *characteristics: dict[str, Any]) -> dict[str, Any]:
    """An enrollment Group (type person, not actual) with these characteristics."""
    resource: dict[str, Any] = {
        "resourceType": "Group",
        "id": group_id,
        "type": "person",
        "actual": False,
    }
    if characteristics:
        resource["characteristic"] = list(characteristics)
    return resource


def research_study(
    rid: str,
    *,
    eligibility: str | None = None,
    status: str = "active",
    phase: str | None = "phase-3",
    conditions: tuple[str, ...] = ("Breast Cancer",),
    nct: str | None = None,
    contained: dict[str, Any] | None = None,
    enrollment: str | None = None,
    title: str = "",
) -> dict[str, Any]:
    """A ResearchStudy as the mCODE trial-matching service writes it.

    The eligibility text is the ``display`` of the enrollment reference; ``contained``
    is a Group contained and referenced (``#id``), ``enrollment`` a ``Group/id`` reference.
    """
    resource: dict[str, Any] = {"resourceType": "ResearchStudy", "id": rid, "status": status}
    if title:
        resource["title"] = title
    if nct is not None:
        resource["identifier"] = [{"system": "http://clinicaltrials.gov/", "value": nct}]
    if phase is not None:
        resource["phase"] = concept(PHASES, phase)
    if conditions:
        resource["condition"] = [{"text": c} for c in conditions]
    refs: list[dict[str, Any]] = []
    if contained is not None:
        resource["contained"] = [contained]
        refs.append({"reference": f"#{contained['id']}"})
    if enrollment is not None:
        refs.append({"reference": enrollment})
    if eligibility is not None:
        if refs:
            refs[0]["display"] = eligibility
        else:
            refs.append({"display": eligibility})
    if refs:
        resource["enrollment"] = refs
    return resource

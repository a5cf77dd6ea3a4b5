"""The HER2 status Observation in the mCODE tumour-marker shape other matchers read.

Trial matchers of the mCODE ecosystem read HER2 from a tumour-marker Observation:
LOINC 48676-1 with a SNOMED CT Positive/Negative value.  This module maps the
service's status Observation (contract section 5, ``outbound.status_observation``)
onto that shape, losing nothing: HER2-low, HER2-ultralow and HER2-null are extra
codings of the same ``valueCodeableConcept`` from the project's CodeSystem
``her2-category`` (never an invented SNOMED CT or LOINC code).

What the mCODE profiles and the matchers require (read from their sources):

- STU1 ``mcode-tumor-marker`` (mCODE 1.0.0; the FSH is reproduced in
  fhircat/e2c2-fsh-modeling ``input/fsh/profiles/TumorMarker.fsh``): parent US Core
  Laboratory Result Observation (category ``laboratory`` 1..1, ``subject`` 1..1,
  ``effective[x]`` and ``value[x]`` must-support), ``value[x]`` only Quantity,
  CodeableConcept or Ratio, ``interpretation`` ..1, ``bodySite``, ``hasMember`` and
  **``component`` ..0**, ``performer`` only Practitioner.
- STU2-STU4 ``mcode-tumor-marker-test`` (HL7/fhir-mCODE-ig ``input/fsh``, profile
  ``TumorMarkerTest``): parent US Core Observation Lab, ``subject`` 1..1, ``value[x]``
  1..1 (Quantity, Ratio, string or CodeableConcept), ``effective[x]`` only dateTime or
  Period, ``specimen`` must-support; the STU4 source adds a second category slice
  ``mcode-category`` = SNOMED CT 250724005 "Tumor marker measurement (procedure)"
  (its HER2 example ``tumor-marker-test-her2-jenny-m`` codes 48676-1 with a
  LOINC Negative value and carries both categories).
- The matching library (mcode/clinical-trial-matching-service): ``src/mcode.ts``
  knows only the STU1 URL (``MCODE_TUMOR_MARKER``); ``src/fhir-util.ts``
  ``resourceContainsProfile`` matches ``meta.profile`` exactly; ``src/mcodeextractor.ts``
  reads ``code``, ``valueCodeableConcept`` and ``interpretation`` codings but keeps a
  marker only when it has a ``valueQuantity`` or ``valueRatio`` ("For now, ignore
  values that are missing both") - so a coded HER2 result is dropped there whatever
  its shape.  Its own fixture (``spec/data/patient_data.json``) gets through by
  carrying a ``valueCodeableConcept`` *and* a ``valueQuantity``, which R4 forbids
  (``value[x]`` is 0..1); this module does not emit that.
- The breastcancertrials.org wrapper (mcode/clinical-trial-matching-service-
  breastcancertrials.org ``src/query.ts``) forwards the whole Bundle after mapping
  every Observation's ``code`` and ``valueCodeableConcept`` codings (LOINC through its
  biomarker table, SNOMED CT to HL7 v2 0078); it reads ``meta.profile`` of every entry
  without a guard, so every resource here carries one.

Choices (where the profiles and the project rules are silent or disagree):

- No ``component``: STU1 forbids it and this resource claims STU1.  What the status
  Observation's components say is kept: HER2-low / ultralow / null as value codings,
  the ISH group and the next step as lines of the ``note``.
- Codings order: SNOMED CT first (extractors read ``coding[0]``), then the LOINC
  answer and the project status code, then the category coding.
- A category coding only for a negative status with a known category; unknown
  ``her2_low`` means no category coding at all.  Equivocal and indeterminate keep
  their SNOMED CT Equivocal / Indeterminate codes and are never coded positive.
- No ``identifier``: the status Observation owns the business identifier; this is a
  derived view of it, not a second record of the same result.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from service.fhir.codes import (
    CANONICAL,
    CS_COMPONENT,
    CS_NEXT_STEP,
    CS_STATUS,
    OBSERVATION_CATEGORY,
    SNOMED,
)

MCODE_TUMOR_MARKER_STU1: Final = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker"
)
MCODE_TUMOR_MARKER_TEST: Final = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"
)
MCODE_PROFILES: Final = (MCODE_TUMOR_MARKER_STU1, MCODE_TUMOR_MARKER_TEST)
# mCODE STU4 TumorMarkerTest category slice "mcode-category" (its own fixed code).
TUMOR_MARKER_CATEGORY: Final = (SNOMED, "250724005", "Tumor marker measurement (procedure)")
CS_CATEGORY: Final = f"{CANONICAL}/CodeSystem/her2-category"


class Category(StrEnum):
    """The project's HER2 category codes (CodeSystem ``her2-category``)."""

    LOW = "her2-low"
    ULTRALOW = "her2-ultralow"
    NULL = "her2-null"
    ZERO_NOT_SUBCLASSIFIED = "her2-0"


CATEGORY_DISPLAY: Final[dict[Category, str]] = {
    Category.LOW: "HER2-low",
    Category.ULTRALOW: "HER2-ultralow",
    Category.NULL: "HER2-null (IHC 0, no membrane staining)",
    Category.ZERO_NOT_SUBCLASSIFIED: "HER2 IHC 0, null vs ultralow not assessed",
}

# The elements of the status Observation that keep their meaning unchanged.
_COPIED: Final = (
    "code",
    "subject",
    "effectiveDateTime",
    "issued",
    "specimen",
    "device",
    "method",
    "interpretation",
    "derivedFrom",
)


def category_code(status: str, her2_low: bool | None, ultralow: bool | None) -> Category | None:
    """The HER2 category of a result, or None when there is none to state.

    Args:
        status: the HER2 status code (positive, negative, equivocal, indeterminate).
        her2_low: the result's HER2-low flag (None: unknown).
        ultralow: the result's HER2-ultralow flag (None: unknown).

    Returns:
        A ``her2-category`` code for a negative result whose class is known
        (her2-rules.md section 2: ``her2_low`` false means IHC 0 or 0-ultralow), else
        None: a positive, equivocal or indeterminate result, an unknown ``her2_low``,
        and the contradictory low-and-ultralow pair get no category.
    """
    if status != "negative" or her2_low is None:
        return None
    if her2_low:
        return Category.LOW if ultralow is not True else None
    if ultralow is None:
        return Category.ZERO_NOT_SUBCLASSIFIED
    return Category.ULTRALOW if ultralow else Category.NULL


def _codings(concept: object) -> list[dict[str, Any]]:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _component_values(observation: Mapping[str, Any]) -> dict[str, Any]:
    """The status Observation's components by project code, with their values."""
    found: dict[str, Any] = {}
    components = observation.get("component")
    for component in components if isinstance(components, list) else ():
        if not isinstance(component, dict):
            continue
        for coding in _codings(component.get("code")):
            if coding.get("system") != CS_COMPONENT:
                continue
            for key, value in component.items():
                if key.startswith("value"):
                    found[str(coding.get("code"))] = value
    return found


def status_code(observation: Mapping[str, Any]) -> str | None:
    """The project status code of a status Observation's value, or None."""
    for coding in _codings(observation.get("valueCodeableConcept")):
        if coding.get("system") == CS_STATUS and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _extra_note(components: Mapping[str, Any]) -> list[str]:
    """The components STU1 cannot carry, said in the note."""
    lines = []
    if isinstance(components.get("ish-group"), int):
        lines.append(f"ISH group (ASCO/CAP 2018): {components['ish-group']}.")
    step = [
        c.get("code")
        for c in _codings(components.get("next-step"))
        if c.get("system") == CS_NEXT_STEP
    ]
    if step:
        lines.append(f"Next step ({CS_NEXT_STEP}): {step[0]}.")
    return lines


def tumor_marker(observation: Mapping[str, Any]) -> dict[str, Any]:
    """The mCODE tumour-marker Observation of one HER2 status Observation.

    Args:
        observation: a status Observation as ``outbound.status_observation`` builds it
            (stored or in-Bundle form).

    Returns:
        A new Observation claiming both mCODE profile URLs; the input is not changed.

    Raises:
        ValueError: when the Observation carries no project status code (it is not
            one of the service's status Observations).
    """
    status = status_code(observation)
    if status is None:
        raise ValueError("not a her2-status status Observation")
    components = _component_values(observation)
    system, code, display = TUMOR_MARKER_CATEGORY
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": list(MCODE_PROFILES)},
        "status": observation.get("status"),
        "category": [
            {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]},
            {"coding": [{"system": system, "code": code, "display": display}]},
        ],
    }
    # Copies: the export shares no object with the status Observation it came from.
    resource.update({k: copy.deepcopy(observation[k]) for k in _COPIED if k in observation})
    codings = copy.deepcopy(_codings(observation.get("valueCodeableConcept")))
    # SNOMED CT first: extractors read the first coding.
    codings.sort(key=lambda c: c.get("system") != SNOMED)
    category = category_code(
        status, _flag(components.get("her2-low")), _flag(components.get("her2-ultralow"))
    )
    text = f"HER2 {status}"
    if category is not None:
        label = CATEGORY_DISPLAY[category]
        codings.append({"system": CS_CATEGORY, "code": category.value, "display": label})
        text = f"{text} ({label})"
    resource["valueCodeableConcept"] = {"coding": codings, "text": text}
    given = observation.get("note")
    notes = [n for n in given if isinstance(n, dict)] if isinstance(given, list) else []
    extra = _extra_note(components)
    if extra:
        notes = [*notes, {"text": "\n".join(extra)}]
    if notes:
        resource["note"] = copy.deepcopy(notes)
    return resource


__all__ = [
    "CATEGORY_DISPLAY",
    "CS_CATEGORY",
    "MCODE_PROFILES",
    "MCODE_TUMOR_MARKER_STU1",
    "MCODE_TUMOR_MARKER_TEST",
    "TUMOR_MARKER_CATEGORY",
    "Category",
    "category_code",
    "status_code",
    "tumor_marker",
]

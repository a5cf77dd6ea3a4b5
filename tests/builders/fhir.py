"""FHIR R4 resources and Bundles for the tests, as plain JSON-shaped dicts.

Keyword arguments with defaults for everything a test does not care about: an
Observation is final, about ``PATIENT``, effective ``EFFECTIVE``, on no Specimen,
coded in LOINC.  Value elements are spread in as keywords (``**quantity("2.4")``,
``**concept("LA11843-2")``, ``valueString="3+"``).  System URLs are spelled out
here, not imported from the service, so that a changed constant there is caught.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CANONICAL = "https://her2-status.org/fhir"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PATIENT = "Patient/p1"
EFFECTIVE = "2026-01-10"
BREAST = (SNOMED, "76752008")  # body site: breast structure

IHC = "18474-7"  # HER2 IHC in tissue: the code does not decide the site
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

Reference = str | dict[str, Any]


def _reference(target: Reference) -> dict[str, Any]:
    """``"Specimen/s1"`` becomes ``{"reference": ...}``; a dict is used as it is."""
    return {"reference": target} if isinstance(target, str) else target


def observation(
    id: str | None,
    code: str,
    *,
    system: str = LOINC,
    subject: str | None = PATIENT,
    specimen: Reference | None = None,
    effective: str | None = EFFECTIVE,
    status: str = "final",
    version: str | None = None,
    **value: Any,
) -> dict[str, Any]:
    """An Observation; ``None`` leaves the element out (an id, subject, date or specimen)."""
    resource: dict[str, Any] = {"resourceType": "Observation"}
    if id is not None:
        resource["id"] = id
    if version is not None:
        resource["meta"] = {"versionId": version}
    resource["status"] = status
    resource["code"] = {"coding": [{"system": system, "code": code}]}
    if subject is not None:
        resource["subject"] = {"reference": subject}
    if specimen is not None:
        resource["specimen"] = _reference(specimen)
    if effective is not None:
        resource["effectiveDateTime"] = effective
    return {**resource, **value}


def concept(code: str, system: str = LOINC) -> dict[str, Any]:
    """A coded value: ``**concept("LA11843-2")``."""
    return {"valueCodeableConcept": {"coding": [{"system": system, "code": code}]}}


def quantity(value: str, unit: str | None = None, **extra: Any) -> dict[str, Any]:
    """A quantity value, exact (``Decimal``): ``**quantity("2.2", comparator=">")``."""
    found: dict[str, Any] = {"value": Decimal(value), **extra}
    if unit:
        found["code"] = unit
    return {"valueQuantity": found}


def data_absent(reason: str = "error") -> dict[str, Any]:
    """No value, and why: ``**data_absent("not-performed")``."""
    return {"dataAbsentReason": {"coding": [{"system": DATA_ABSENT_REASON, "code": reason}]}}


def ihc(id: str = "ihc", answer: str = "LA11842-4", **kw: Any) -> dict[str, Any]:
    """A tissue IHC with a LOINC answer (LA11842-4 is 2+)."""
    return observation(id, IHC, **concept(answer), **kw)


def ihc_score(id: str, score: str, *, assessed: bool = True, **kw: Any) -> dict[str, Any]:
    """A tissue IHC from the score vocabulary (0, 0-ultralow, 1+, 2+, 3+).

    An unassessed 0 is the plain LOINC LA6111-4: null and ultralow were not told apart.
    """
    codings = IHC_CODINGS[score]
    if score == "0" and not assessed:
        codings = codings[:1]
    value = {"coding": [{"system": s, "code": c} for s, c in codings]}
    return observation(id, IHC, valueCodeableConcept=value, **kw)


def ish_call(id: str = "ish", **kw: Any) -> dict[str, Any]:
    """The lab's qualitative ISH call (85318-4), with no value unless given."""
    return observation(id, "85318-4", **kw)


def ish_observations(prefix: str, ish: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    """Separate ratio / average / cell-count Observations (ids ``{prefix}-{code}``)."""
    resources = []
    for field, (code, unit) in ISH_CODES.items():
        if ish.get(field) is not None:
            value = {"value": ish[field], "system": UCUM, "code": unit}
            resources.append(observation(f"{prefix}-{code}", code, valueQuantity=value, **kw))
    if ish.get("cells_counted") is not None:
        resources.append(
            observation(f"{prefix}-cells", "62361-1", valueInteger=ish["cells_counted"], **kw)
        )
    return resources


def recount_panel(id: str, ish: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """A blinded dual-probe recount: a panel with components and the count-role extension."""
    components = [
        {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": ish[field], "code": unit},
        }
        for field, (code, unit) in ISH_CODES.items()
        if ish.get(field) is not None
    ]
    return observation(
        id,
        "74885-5",
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
        **kw,
    )


def condition(
    system: str,
    code: str,
    *,
    id: str | None = None,
    subject: str = PATIENT,
    body: tuple[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Condition (a diagnosis), with a body site as ``(system, code)``."""
    resource: dict[str, Any] = {"resourceType": "Condition"}
    if id is not None:
        resource["id"] = id
    resource |= {
        "subject": {"reference": subject},
        "code": {"coding": [{"system": system, "code": code}]},
        **extra,
    }
    if body:
        resource["bodySite"] = [{"coding": [{"system": body[0], "code": body[1]}]}]
    return resource


def specimen(
    id: str,
    *,
    subject: str = PATIENT,
    body_site: tuple[str, str] | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    """A Specimen, collected from ``body_site`` (``(system, code)``) or part of ``parent``."""
    resource: dict[str, Any] = {
        "resourceType": "Specimen",
        "id": id,
        "subject": {"reference": subject},
    }
    if parent is not None:
        resource["parent"] = [{"reference": parent}]
    if body_site is not None:
        resource["collection"] = {
            "bodySite": {"coding": [{"system": body_site[0], "code": body_site[1]}]}
        }
    return resource


def bundle(*resources: Any, urls: list[str] | None = None) -> dict[str, Any]:
    """A collection Bundle (the stateless request); ``urls`` are fullUrls, "" for none."""
    entries = []
    for index, resource in enumerate(resources):
        entry: dict[str, Any] = {"resource": resource}
        if urls and index < len(urls) and urls[index]:
            entry["fullUrl"] = urls[index]
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    """A search result page: every resource a match, with a next link if given."""
    page: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        page["link"] = [{"relation": "next", "url": next_url}]
    return page


def outcome(diagnostics: str, code: str = "processing") -> dict[str, Any]:
    """An OperationOutcome with one error issue, as a FHIR server answers."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def parameters(*parameter: dict[str, Any]) -> dict[str, Any]:
    """A Parameters resource: ``parameters({"name": "persist", "valueBoolean": True})``."""
    return {"resourceType": "Parameters", "parameter": list(parameter)}

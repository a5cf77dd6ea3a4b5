"""Small readers of FHIR JSON elements shared by the inbound modules.

Lists, codings, effective times and the single ``value[x]`` of an Observation or
a component.  Everything here is lenient: a wrong shape reads as "absent", and the
callers decide whether that is a problem worth an issue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from service.fhir.codes import DATA_ABSENT_REASON

VALUE_KEYS: Final = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)
EPOCH: Final = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def as_list(value: object) -> list[Any]:
    """The value when it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def codings(concept: object) -> list[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept; codes stripped, others skipped."""
    if not isinstance(concept, dict):
        return []
    return [
        (c["system"], c["code"].strip())
        for c in as_list(concept.get("coding"))
        if isinstance(c, dict)
        and isinstance(c.get("system"), str)
        and isinstance(c.get("code"), str)
    ]


def parse_time(value: object) -> dt.datetime | None:
    """A FHIR date or dateTime as an aware datetime (UTC when no zone), or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def effective(resource: dict[str, Any]) -> tuple[dt.datetime | None, str | None]:
    """When an Observation was made: effective[x], else issued (parsed and as written)."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if isinstance(resource.get(key), str):
            return parse_time(resource[key]), resource[key]
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and isinstance(period.get("start"), str):
        return parse_time(period["start"]), period["start"]
    if isinstance(resource.get("issued"), str):
        return parse_time(resource["issued"]), resource["issued"]
    return None, None


def value_key(holder: dict[str, Any]) -> str | None:
    """The one ``value[x]`` element present, or None (none, or more than one)."""
    present = [k for k in VALUE_KEYS if k in holder]
    return present[0] if len(present) == 1 else None


def value_path(holder: dict[str, Any], path: str) -> str:
    """The location of the ``value[x]`` of a resource or component at ``path``."""
    key = value_key(holder)
    return f"{path}.{key}" if key else path


def assay_failed(resource: dict[str, Any]) -> bool:
    """Whether dataAbsentReason says the assay failed (``error``)."""
    return (DATA_ABSENT_REASON, "error") in codings(resource.get("dataAbsentReason"))

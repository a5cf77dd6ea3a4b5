"""ClinicalTrials.gov API v2 study records read into :class:`Study` (pure).

Only the fields matching needs are read (API v2 ``protocolSection``):
``identificationModule.nctId`` / ``briefTitle``, ``statusModule.overallStatus``,
``designModule.phases``, ``conditionsModule.conditions`` / ``keywords`` and
``eligibilityModule.eligibilityCriteria``.  A record without an NCT id is not a
study; a missing optional field reads as empty.  Nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.trials.model import Study


class NotAStudy(ValueError):
    """The record is not a ClinicalTrials.gov v2 study (no ``protocolSection.nctId``)."""


def _module(protocol: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    module = protocol.get(name)
    return module if isinstance(module, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    # Blank entries carry nothing, and a FHIR string may not be empty.
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item.strip())


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def study_from_record(record: Mapping[str, Any]) -> Study:
    """One v2 study record (the JSON of ``/api/v2/studies/{nctId}``) as a :class:`Study`.

    Raises:
        NotAStudy: when the record has no ``protocolSection.identificationModule.nctId``.
    """
    protocol = record.get("protocolSection")
    if not isinstance(protocol, Mapping):
        raise NotAStudy("no protocolSection")
    ident = _module(protocol, "identificationModule")
    nct_id = _string(ident.get("nctId"))
    if not nct_id:
        raise NotAStudy("no nctId")
    conditions = _module(protocol, "conditionsModule")
    return Study(
        study_id=nct_id,
        title=_string(ident.get("briefTitle")) or "",
        overall_status=_string(_module(protocol, "statusModule").get("overallStatus")),
        phases=_strings(_module(protocol, "designModule").get("phases")),
        conditions=_strings(conditions.get("conditions")),
        keywords=_strings(conditions.get("keywords")),
        eligibility=_string(_module(protocol, "eligibilityModule").get("eligibilityCriteria"))
        or "",
    )


__all__ = ["NotAStudy", "study_from_record"]

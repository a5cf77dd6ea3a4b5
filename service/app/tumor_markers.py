"""The ``$her2-tumor-marker`` answer: a derivation's results in the mCODE tumour-marker shape.

Both invocations (stateless, and Patient-level read from the FHIR server) derive
exactly as ``$her2-status`` does and hand the :class:`Derivation` here; nothing is
written anywhere.  The answer is a ``collection`` Bundle of one tumour-marker
Observation per derived specimen group (``service.fhir.mcode_marker``), the
service's Device they cite, and an OperationOutcome when there are issues.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from service.app.derivation import DEVICE_URL, Derivation
from service.fhir.issues import Issue, Severity, outcome_resource
from service.fhir.mcode_marker import tumor_marker
from service.fhir.outbound import collection, device, full_url

# The mCODE profiles require a subject (1..1); a group known by an identifier only
# (or by none) cannot be offered in that shape.
NO_SUBJECT = Issue(
    Severity.WARNING,
    "incomplete",
    "A specimen group has no subject reference; the mCODE tumour-marker profiles require "
    "one, so no tumour-marker Observation was made for it (its status is in $her2-status).",
)


@dataclass(frozen=True)
class TumorMarkers:
    """The export of one derivation.

    Attributes:
        bundle: the collection Bundle (tumour-marker Observations, the Device, and an
            OperationOutcome when there are issues).
        issues: the derivation's issues plus the export's own.
        count: how many tumour-marker Observations the Bundle holds (0: the API
            answers 422).
    """

    bundle: dict[str, Any]
    issues: list[Issue]
    count: int


def tumor_markers(derivation: Derivation, now: dt.datetime) -> TumorMarkers:
    """The mCODE tumour-marker export of a derivation.

    Args:
        derivation: a stateless or Patient-level derivation.
        now: the derivation time (the Bundle's timestamp).
    """
    entries: list[tuple[str, dict[str, Any]]] = []
    issues = list(derivation.issues)
    for output in derivation.outputs:
        if "subject" not in output.observation:
            if NO_SUBJECT not in issues:
                issues.append(NO_SUBJECT)
            continue
        marker = tumor_marker(output.observation)
        # Inside the Bundle the Device is resolved through its entry (as $her2-status does).
        marker["device"] = {"reference": DEVICE_URL}
        entries.append((full_url("mcode-tumor-marker", output.key), marker))
    count = len(entries)
    if entries:
        entries.append((DEVICE_URL, device(derivation.outputs[0].derived.result.ruleset)))
    if issues:
        entries.append(
            (full_url("OperationOutcome", f"tumor-marker|{now}"), outcome_resource(issues))
        )
    return TumorMarkers(collection(entries, now), issues, count)


__all__ = ["NO_SUBJECT", "TumorMarkers", "tumor_markers"]

"""NamingSystems for the identifier systems the service writes.

Without them the validator cannot resolve the guide's ``.../sid/...`` URIs, and a reader
cannot tell what an identifier value in that system means.  R4 NamingSystems have no
``url`` or ``version`` (R5 adds them), so they do not share the canonical header.
"""

from __future__ import annotations

from typing import Any

from service.fhir.codes import SID_STATUS, SID_THERAPY_LIST
from service.fhir.conformance.header import PUBLISHER

# The date the guide's identifier systems were defined (required by R4 NamingSystem).
_DATE = "2026-11-25"


def _naming_system(uri: str, name: str, description: str) -> dict[str, Any]:
    return {
        "resourceType": "NamingSystem",
        "id": uri.rsplit("/", 1)[-1],
        "name": name,
        "status": "active",
        "kind": "identifier",
        "date": _DATE,
        "publisher": PUBLISHER,
        "description": description,
        "uniqueId": [{"type": "uri", "value": uri, "preferred": True}],
    }


def naming_systems() -> list[dict[str, Any]]:
    """The identifier systems of the status Observation and the therapy List."""
    return [
        _naming_system(
            SID_STATUS,
            "Her2StatusIdentifier",
            "Identifies a HER2 status Observation written by the service: one per patient, "
            "specimen group and tumour site (value `patient-id:specimen-or-group:site`), so "
            "a re-derivation updates the same Observation instead of adding one.",
        ),
        _naming_system(
            SID_THERAPY_LIST,
            "Her2TherapyListIdentifier",
            "Identifies a HER2-directed therapy reference List written by the service: the "
            "value is its status Observation's, so a re-derivation updates the same List.",
        ),
    ]

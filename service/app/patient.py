"""One patient's derivation: the function the Patient-level operation and ``bulk`` share.

The Patient-level ``$her2-status`` reads a patient's inputs from the FHIR server
(``Store.patient_inputs``); the bulk job reads them from an export.  Both hand the
same searchset Bundle to :func:`derive_patient`, so one patient's answer is the
same whichever way the data arrived.  :func:`patient_bundle` builds that Bundle
from resources already in hand with the selection the store's searches make:
Observations with a recognised code, the patient's DiagnosticReports and
Conditions, and the Specimens they reference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any

from service.app.derivation import Derivation, derive
from service.app.fhir_store import specimen_references
from service.settings import DerivationSettings


def derive_patient(
    payload: dict[str, Any],
    now: dt.datetime,
    settings: DerivationSettings,
    max_issues: int | None = None,
) -> Derivation:
    """Derive one patient's HER2 results from their inputs (nothing is written).

    Args:
        payload: the searchset Bundle of the patient's inputs.
        now: the derivation time.
        settings: recognised codes and grouping window.
        max_issues: the most issues reported (None: all).
    """
    # The patient's data comes from the EHR, not from a caller: no request caps.
    return derive(payload, now, settings.code_map, settings.grouping_window, max_issues=max_issues)


def _has_code(resource: dict[str, Any], codes: Collection[tuple[str, str]]) -> bool:
    codings = (resource.get("code") or {}).get("coding") or []
    return any(isinstance(c, dict) and (c.get("system"), c.get("code")) in codes for c in codings)


def patient_bundle(
    resources: Iterable[dict[str, Any]],
    codes: Collection[tuple[str, str]],
    base_url: str,
) -> dict[str, Any]:
    """The searchset Bundle ``Store.patient_inputs`` would return for these resources.

    Args:
        resources: one patient's resources (any types; others are left out).
        codes: the recognised (system, code) pairs of input Observations.
        base_url: the server base the resources came from (their ``fullUrl``).

    Returns:
        Observations with a recognised code, DiagnosticReports and Conditions (in
        that order, each by id), then the referenced Specimens by reference.
    """
    wanted = set(codes)
    chosen: dict[str, dict[str, Any]] = {}
    specimens: dict[str, dict[str, Any]] = {}
    order = {"Observation": 0, "DiagnosticReport": 1, "Condition": 2}
    for resource in resources:
        kind, rid = resource.get("resourceType"), resource.get("id")
        if not isinstance(rid, str) or not isinstance(kind, str):
            continue
        if kind == "Specimen":
            specimens[f"Specimen/{rid}"] = resource
        elif kind in order and (kind != "Observation" or _has_code(resource, wanted)):
            chosen[f"{kind}/{rid}"] = resource
    ordered = sorted(chosen.items(), key=lambda item: (order[item[0].split("/")[0]], item[0]))
    for ref in sorted(specimen_references(chosen.values(), base_url)):
        if ref in specimens:
            ordered.append((ref, specimens[ref]))
    base = base_url.rstrip("/")
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"fullUrl": f"{base}/{ref}", "resource": resource} for ref, resource in ordered],
    }


__all__ = ["derive_patient", "patient_bundle"]

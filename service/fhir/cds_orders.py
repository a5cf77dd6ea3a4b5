"""The FHIR side of the CDS Hooks order checks: draft orders in, a reflex ISH order out.

``draft_orders`` reads the ``draftOrders`` Bundle of ``order-select`` / ``order-sign``
into the medication codings of each order (MedicationRequest, MedicationStatement,
and ServiceRequest by its code); a ``medicationReference`` is followed only to a
contained Medication (``#id``) or a Medication in the same Bundle.  Nothing else is
read and nothing is fetched.  ``reflex_ish_request`` builds the draft ServiceRequest
a card suggests when reflex ISH is the pending step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.fhir.codes import CS_NEXT_STEP, LOINC

ORDER_TYPES = ("MedicationRequest", "MedicationStatement", "ServiceRequest")
# fhir-contract.md section 1: the HER2 ISH panel.
ISH_PANEL_CODE = "74885-5"


@dataclass(frozen=True)
class DraftOrder:
    """One draft order's medication codings.

    Attributes:
        resource_type: MedicationRequest, MedicationStatement or ServiceRequest.
        codings: its (system, code) pairs, in order.
    """

    resource_type: str
    codings: tuple[tuple[str, str], ...]


def _codings(concept: object) -> list[tuple[str, str]]:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return []
    return [
        (c["system"], c["code"])
        for c in concept["coding"]
        if isinstance(c, dict)
        and isinstance(c.get("system"), str)
        and isinstance(c.get("code"), str)
    ]


def _referenced_medication(
    resource: dict[str, Any], in_bundle: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    reference = resource.get("medicationReference")
    target = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(target, str):
        return None
    if target.startswith("#"):
        contained = resource.get("contained")
        for item in contained if isinstance(contained, list) else []:
            if (
                isinstance(item, dict)
                and item.get("resourceType") == "Medication"
                and item.get("id") == target[1:]
            ):
                return item
        return None
    return in_bundle.get(target)


def draft_orders(bundle: object) -> list[DraftOrder]:
    """The orders of a ``draftOrders`` Bundle with their medication codings.

    Anything that is not a Bundle of resources yields nothing (the hook's other
    cards still come).
    """
    if not isinstance(bundle, dict) or not isinstance(bundle.get("entry"), list):
        return []
    resources = [
        e["resource"]
        for e in bundle["entry"]
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    in_bundle: dict[str, dict[str, Any]] = {}
    for entry in bundle["entry"]:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Medication":
            if isinstance(resource.get("id"), str):
                in_bundle[f"Medication/{resource['id']}"] = resource
            if isinstance(entry.get("fullUrl"), str):
                in_bundle[entry["fullUrl"]] = resource
    orders: list[DraftOrder] = []
    for resource in resources:
        kind = resource.get("resourceType")
        if kind not in ORDER_TYPES:
            continue
        if kind == "ServiceRequest":
            codings = _codings(resource.get("code"))
        else:
            codings = _codings(resource.get("medicationCodeableConcept"))
            medication = _referenced_medication(resource, in_bundle)
            if medication is not None:
                codings += _codings(medication.get("code"))
        orders.append(DraftOrder(str(kind), tuple(codings)))
    return orders


def reflex_ish_request(patient_id: str, specimen: str | None) -> dict[str, Any]:
    """A draft ServiceRequest for the reflex HER2 ISH on the same specimen.

    Args:
        patient_id: the Patient's id (a valid FHIR id).
        specimen: the group's ``Specimen/id`` reference, when the group has one.
    """
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": LOINC, "code": ISH_PANEL_CODE}], "text": "HER2 ISH"},
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [
            {
                "coding": [{"system": CS_NEXT_STEP, "code": "order_reflex_ish"}],
                "text": "Reflex ISH after IHC 2+ (equivocal)",
            }
        ],
    }
    if specimen is not None and specimen.startswith("Specimen/"):
        resource["specimen"] = [{"reference": specimen}]
    return resource


__all__ = ["ORDER_TYPES", "DraftOrder", "draft_orders", "reflex_ish_request"]

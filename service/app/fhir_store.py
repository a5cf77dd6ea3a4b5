"""The store port over the EHR's FHIR server (contract section 8's searches and writes)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from service.clients.errors import FhirNotFound, FhirTooManyMatches
from service.clients.fhir import FhirClient
from service.fhir.references import parse_reference


class FhirStore:
    """Reads and writes through a ``FhirClient``."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client

    @property
    def base_url(self) -> str:
        """The FHIR server's base URL."""
        return self.client.base_url

    def patient_inputs(self, patient_id: str, codes: Collection[tuple[str, str]]) -> dict[str, Any]:
        """Search every recognised code (all pages), the reports, conditions and specimens."""
        subject = f"Patient/{patient_id}"
        resources: dict[str, dict[str, Any]] = {}

        def keep(resource: dict[str, Any]) -> None:
            if isinstance(resource.get("id"), str):
                resources[f"{resource['resourceType']}/{resource['id']}"] = resource

        code_param = ",".join(sorted(f"{system}|{code}" for system, code in codes))
        for resource in self.client.search("Observation", {"subject": subject, "code": code_param}):
            keep(resource)
        for resource_type in ("DiagnosticReport", "Condition"):
            for resource in self.client.search(resource_type, {"subject": subject}):
                keep(resource)
        for ref in sorted(specimen_references(resources.values(), self.base_url)):
            try:
                keep(self.client.read(ref))
            except FhirNotFound:
                continue
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {"fullUrl": self.client.url(ref), "resource": resource}
                for ref, resource in resources.items()
            ],
        }

    def find(self, resource_type: str, system: str, key: str) -> dict[str, Any] | None:
        """Search by identifier; several matches raise ``FhirTooManyMatches``."""
        found = list(self.client.search(resource_type, {"identifier": f"{system}|{key}"}))
        if len(found) > 1:
            # The count only: the identifier value carries the patient id.
            raise FhirTooManyMatches(f"{resource_type} identifier matched {len(found)}")
        return found[0] if found else None

    def exists(self, reference: str) -> bool:
        """Read ``Type/id``; a 404/410 means absent."""
        try:
            self.client.read(reference)
        except FhirNotFound:
            return False
        return True

    def status_observations(self, patient_id: str, system: str) -> list[dict[str, Any]]:
        """Search the patient's Observations by identifier system (``system|``)."""
        return list(
            self.client.search(
                "Observation", {"subject": f"Patient/{patient_id}", "identifier": f"{system}|"}
            )
        )

    def update(self, resource: dict[str, Any]) -> dict[str, Any]:
        """PUT [base]/Type/id."""
        return self.client.update(resource)

    def commit(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST the transaction."""
        return self.client.transaction(bundle)


def specimen_references(
    resources: Collection[dict[str, Any]], base_url: str | None = None
) -> set[str]:
    """The ``Specimen/id`` references of Observations and DiagnosticReports to read.

    Only references that follow the FHIR grammar are returned: ``Specimen/id``
    (optionally ``/_history/n``), or the same after ``base_url``.  Anything else
    (``Specimen/../../admin/secret``, a query, another server) is never fetched;
    the derivation reports it as an issue when it meets the reference.

    Args:
        resources: the patient's resources as read.
        base_url: the store's base; absolute references elsewhere are not read.
    """
    specimens = set()
    for resource in resources:
        # Observation.specimen is one Reference, DiagnosticReport.specimen a list.
        value = resource.get("specimen")
        for specimen in value if isinstance(value, list) else [value]:
            ref = parse_reference(specimen.get("reference") if isinstance(specimen, dict) else None)
            if ref is None or ref.type != "Specimen":
                continue
            if ref.base is None or (base_url is not None and ref.base == base_url.rstrip("/")):
                specimens.add(ref.relative)
    return specimens


__all__ = ["FhirStore", "specimen_references"]

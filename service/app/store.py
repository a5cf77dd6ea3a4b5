"""The store port: the few operations write-back needs from where results are kept.

``FhirStore`` implements it over the EHR's FHIR server, ``MemoryStore`` in memory.
Both raise the FHIR client's exceptions, so that the HTTP API maps a failure to
the same status whichever store is behind it: ``FhirTooManyMatches`` when an
identifier matched several resources, ``FhirPreconditionFailed`` when a versioned
write no longer matches what was read, ``FhirConflict`` when a concurrent write won.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol


class Store(Protocol):
    """Where a patient's inputs are read and the derived results are written."""

    @property
    def base_url(self) -> str:
        """The base that absolute ``fullUrl``s of written resources start with."""
        ...

    def patient_inputs(self, patient_id: str, codes: Collection[tuple[str, str]]) -> dict[str, Any]:
        """A searchset Bundle of what the derivation needs for one patient.

        Args:
            patient_id: the Patient's logical id.
            codes: the recognised (system, code) pairs of input Observations.

        Returns:
            The patient's Observations with those codes, DiagnosticReports,
            Conditions and the Specimens they reference.
        """
        ...

    def find(self, resource_type: str, system: str, key: str) -> dict[str, Any] | None:
        """The stored resource with identifier ``system|key``, or None.

        Raises:
            FhirTooManyMatches: when several resources carry that identifier.
        """
        ...

    def exists(self, reference: str) -> bool:
        """Whether ``Type/id`` (a Provenance, the Device) is stored."""
        ...

    def status_observations(self, patient_id: str, system: str) -> list[dict[str, Any]]:
        """The patient's stored Observations that carry an identifier of ``system``."""
        ...

    def update(self, resource: dict[str, Any]) -> dict[str, Any]:
        """``PUT Type/id`` of one resource with a client-assigned id (create or update).

        Raises:
            FhirConflict: when a concurrent create of the same id won.
        """
        ...

    def commit(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Apply a transaction Bundle, all of it or none; return the transaction-response.

        Raises:
            FhirPreconditionFailed: when an ``ifMatch`` no longer matches.
            FhirTooManyMatches: when a conditional update matched several resources.
        """
        ...


__all__ = ["Store"]

"""The CDS services this service offers, as its discovery endpoint states them.

Two services: ``her2-status`` on ``patient-view`` and ``her2-order-check`` on
``order-select`` and ``order-sign``.  A discovery entry names one hook, so the
order check has two entries with the same id, one per hook; its endpoint answers
either hook (the request's ``hook`` says which) and refuses any other.  Both ask the EHR to prefetch
the patient's HER2 inputs (every recognised IHC/ISH Observation code, the
pathology DiagnosticReports, the Specimens) and the Conditions that carry the
cancer's site.  The templates use only what the specification recommends EHRs
support: type-level searches by ``patient`` and token equality on ``code``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

PATIENT_TOKEN = "{{context.patientId}}"


@dataclass(frozen=True)
class CdsService:
    """One CDS service of the discovery document.

    Attributes:
        id: the service id (the path segment after ``/cds-services/``).
        hooks: the hooks it answers (one discovery entry each).
        title: a short human-readable title.
        description: what it does, for the EHR's administrator.
    """

    id: str
    hooks: tuple[str, ...]
    title: str
    description: str


SERVICES: tuple[CdsService, ...] = (
    CdsService(
        "her2-status",
        ("patient-view",),
        "HER2 status",
        "The patient's HER2 status per specimen (ASCO/CAP rules): status, HER2-low/ultralow, "
        "the pending workup step, discordance and heterogeneity flags, and the HER2-directed "
        "agents whose FDA label covers the result (reference information, not a treatment "
        "recommendation).",
    ),
    CdsService(
        "her2-order-check",
        ("order-select", "order-sign"),
        "HER2 order check",
        "When a HER2-directed agent of the project's therapy catalog is ordered: whether its "
        "FDA label covers the patient's current HER2 category and tumour site, and the reflex "
        "ISH order when that is the pending step.",
    ),
)
BY_ID = {service.id: service for service in SERVICES}


def prefetch_templates(codes: Collection[tuple[str, str]]) -> dict[str, str]:
    """The prefetch templates of every service (the same data for each).

    Args:
        codes: the recognised (system, code) pairs of input Observations.
    """
    code_param = ",".join(sorted(f"{system}|{code}" for system, code in codes))
    return {
        "her2Observations": f"Observation?patient={PATIENT_TOKEN}&code={code_param}",
        "her2Reports": f"DiagnosticReport?patient={PATIENT_TOKEN}",
        "her2Specimens": f"Specimen?patient={PATIENT_TOKEN}",
        "cancerConditions": f"Condition?patient={PATIENT_TOKEN}",
    }


def discovery(codes: Collection[tuple[str, str]]) -> dict[str, Any]:
    """The discovery document (``GET /cds-services``)."""
    templates = prefetch_templates(codes)
    return {
        "services": [
            {
                "hook": hook,
                "title": service.title,
                "description": service.description,
                "id": service.id,
                "prefetch": templates,
                "usageRequirements": "Register the EHR's issuer, JWK Set and FHIR server in "
                "HER2_CDS_ISSUERS; grant read access to Observation, DiagnosticReport, "
                "Specimen and Condition.",
            }
            for service in SERVICES
            for hook in service.hooks
        ]
    }


__all__ = ["BY_ID", "PATIENT_TOKEN", "SERVICES", "CdsService", "discovery", "prefetch_templates"]

"""The HER2 clinical rules (her2-rules.md) and therapy catalog: standard library only.

Public API: :func:`evaluate` (one specimen), :func:`evaluate_series` (several
specimens of one patient), :func:`therapies_for` (the therapy reference list),
and the domain types re-exported below.  Nothing here imports FHIR, Flask or
HTTP code; ``tests/unit/test_purity.py`` enforces it.
"""

from service.her2.catalog import (
    Agent,
    Catalog,
    TherapyListing,
    TherapySelection,
    load_catalog,
    therapies_for,
)
from service.her2.engine import evaluate, evaluate_series
from service.her2.model import (
    ErrorCode,
    Her2Result,
    IhcCall,
    IhcScore,
    InterpretationStatus,
    IshCall,
    IshInput,
    NextStep,
    PriorResult,
    Probe,
    RationaleEntry,
    RuleSet,
    Site,
    SpecimenInput,
    Status,
)
from service.her2.tables import RULESET

__all__ = [
    "RULESET",
    "Agent",
    "Catalog",
    "ErrorCode",
    "Her2Result",
    "IhcCall",
    "IhcScore",
    "InterpretationStatus",
    "IshCall",
    "IshInput",
    "NextStep",
    "PriorResult",
    "Probe",
    "RationaleEntry",
    "RuleSet",
    "Site",
    "SpecimenInput",
    "Status",
    "TherapyListing",
    "TherapySelection",
    "evaluate",
    "evaluate_series",
    "load_catalog",
    "therapies_for",
]

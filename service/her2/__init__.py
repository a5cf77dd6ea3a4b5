"""The HER2 clinical rules (her2-rules.md) and therapy catalog: standard library only.

Public API: :func:`evaluate` (one specimen), :func:`evaluate_series` (several
specimens of one patient), :func:`default_ruleset` / :func:`load_ruleset` (rule sets
as versioned data), :func:`therapies_for` (the therapy reference list),
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
from service.her2.engine import evaluate
from service.her2.model import (
    ErrorCode,
    Her2Result,
    IhcCall,
    IhcScore,
    InterpretationStatus,
    Invalid,
    IshCall,
    IshInput,
    NextStep,
    PriorResult,
    Probe,
    RationaleEntry,
    Site,
    SpecimenInput,
    Status,
)
from service.her2.ruleset import RuleSet, RuleSetError
from service.her2.ruleset_load import default_ruleset, load_ruleset
from service.her2.series import evaluate_series

__all__ = [
    "Agent",
    "Catalog",
    "ErrorCode",
    "Her2Result",
    "IhcCall",
    "IhcScore",
    "InterpretationStatus",
    "Invalid",
    "IshCall",
    "IshInput",
    "NextStep",
    "PriorResult",
    "Probe",
    "RationaleEntry",
    "RuleSet",
    "RuleSetError",
    "Site",
    "SpecimenInput",
    "Status",
    "TherapyListing",
    "TherapySelection",
    "default_ruleset",
    "evaluate",
    "evaluate_series",
    "load_catalog",
    "load_ruleset",
    "therapies_for",
]

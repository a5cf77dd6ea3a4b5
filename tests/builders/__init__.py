"""Everything the tests build, in one place: rule-level inputs, FHIR resources, cases.

- ``tests.builders.rules``: typed engine inputs from short literals (``dual``, ``spec``).
- ``tests.builders.fhir``: FHIR resources and Bundles as JSON-shaped dicts.
- ``tests.builders.cases``: the public worked examples, and the same cases as FHIR.

Plus the clock every test derives at: ``NOW``, and ``LATER`` a day after it.
"""

from __future__ import annotations

import datetime as dt

from tests.builders.cases import (
    CASE_EFFECTIVE,
    CASE_PATIENT,
    CASE_SPECIMEN,
    CASES_FILE,
    FIXTURES,
    case_ihc,
    case_ish,
    case_to_fhir,
    public_cases,
)
from tests.builders.fhir import (
    BREAST,
    LOINC,
    PATIENT,
    bundle,
    concept,
    condition,
    data_absent,
    ihc,
    ihc_score,
    ish_call,
    ish_observations,
    observation,
    outcome,
    parameters,
    quantity,
    recount_panel,
    searchset,
    specimen,
)
from tests.builders.rules import dual, single, spec, spec_from_case, summary
from tests.builders.view import bundle_rule_ids, parse_view

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)

__all__ = [
    "BREAST",
    "CASES_FILE",
    "CASE_EFFECTIVE",
    "CASE_PATIENT",
    "CASE_SPECIMEN",
    "FIXTURES",
    "LATER",
    "LOINC",
    "NOW",
    "PATIENT",
    "bundle",
    "bundle_rule_ids",
    "case_ihc",
    "case_ish",
    "case_to_fhir",
    "concept",
    "condition",
    "data_absent",
    "dual",
    "ihc",
    "ihc_score",
    "ish_call",
    "ish_observations",
    "observation",
    "outcome",
    "parameters",
    "parse_view",
    "public_cases",
    "quantity",
    "recount_panel",
    "searchset",
    "single",
    "spec",
    "spec_from_case",
    "specimen",
    "summary",
]

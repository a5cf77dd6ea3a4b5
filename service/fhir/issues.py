"""Issues found while reading, and the OperationOutcome built from them (contract section 9).

Finding a problem is separated from deciding what to do about it: readers append
:class:`Issue` values with a FHIRPath-style location; the API and the CLI decide
the status code.  Diagnostics never contain patient data: they name fields and
codes, never values from the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome

from service.fhir.codes import CS_INPUT_ERROR
from service.her2 import ErrorCode


class Severity(StrEnum):
    """OperationOutcome.issue.severity."""

    FATAL = "fatal"
    ERROR = "error"
    WARNING = "warning"
    INFORMATION = "information"


@dataclass(frozen=True)
class Issue:
    """One located problem or note.

    Attributes:
        severity: how serious it is.
        code: the FHIR issue-type code (``invalid``, ``structure``, ``value``,
            ``code-invalid``, ``not-supported``, ``incomplete``, ``informational``...).
        diagnostics: plain-language explanation without patient data.
        expression: FHIRPath-style location, e.g. ``Bundle.entry[2].resource.valueQuantity``.
        input_error: the rules' input-error code, when the issue is one.
    """

    severity: Severity
    code: str
    diagnostics: str
    expression: str | None = None
    input_error: ErrorCode | None = None


# Diagnostics for the rules' input errors: fixed texts, so that no value from the
# request (a patient's lab result) ever appears in an error message.
ERROR_DIAGNOSTICS: dict[ErrorCode, str] = {
    ErrorCode.MISSING_DATA: "No IHC and no ISH result for this specimen.",
    ErrorCode.INVALID_VOCABULARY: "A HER2 result uses a value outside its vocabulary "
    "(IHC 0, 1+, 2+, 3+; ISH probe dual or single; ISH call amplified, not amplified, "
    "equivocal).",
    ErrorCode.INVALID_TYPE: "A HER2 result has a value of the wrong type or cannot be read.",
    ErrorCode.INVALID_VALUE: "A HER2 ISH value is impossible (negative, zero, or a ratio or "
    "CEP17 count on a single-probe assay).",
    ErrorCode.INCOMPLETE_ISH: "The ISH result lacks values the rules need (a ratio, or the "
    "average HER2 count).",
    ErrorCode.INCONSISTENT_ISH_VALUES: "The reported HER2/CEP17 ratio differs from the two "
    "averages by more than 5 %.",
    ErrorCode.INSUFFICIENT_CELLS: "Fewer than 20 cells were counted for the ISH result.",
}


def outcome_resource(issues: Iterable[Issue]) -> dict[str, Any]:
    """Build a validated OperationOutcome (as JSON-ready dict) from issues.

    An empty list gives a single informational "all ok" issue, since an
    OperationOutcome needs at least one.
    """
    entries: list[dict[str, Any]] = []
    for issue in issues:
        entry: dict[str, Any] = {
            "severity": issue.severity.value,
            "code": issue.code,
            "diagnostics": issue.diagnostics,
        }
        if issue.expression:
            entry["expression"] = [issue.expression]
        if issue.input_error is not None:
            entry["details"] = {
                "coding": [{"system": CS_INPUT_ERROR, "code": issue.input_error.value}]
            }
        entries.append(entry)
    if not entries:
        entries.append(
            {"severity": "information", "code": "informational", "diagnostics": "No issues."}
        )
    model = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": entries})
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped

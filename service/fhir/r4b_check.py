"""Each input resource checked with its ``fhir.resources.R4B`` model, as located issues.

The library's own messages are never passed on (some quote the input, in the worst
case a patient's name and birth date): a pydantic error type selects our wording and
the location stops before any text that came from the request.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.specimen import Specimen
from pydantic import ValidationError

from service.fhir.issues import Issue, Severity

_MODELS: dict[str, Any] = {
    "Observation": Observation,
    "DiagnosticReport": DiagnosticReport,
    "Specimen": Specimen,
    "Condition": Condition,
    "Patient": Patient,
}
_LOC_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# pydantic error types → our fixed wording.  Never pydantic's or fhir.resources' own
# message: some quote the input (a wrong resourceType, a value error's text, and in
# the worst case a whole contained resource with a patient's name and birth date).
_PROBLEMS: dict[str, str] = {
    "extra_forbidden": "an element unknown to FHIR R4",
    "missing": "a required element is missing",
    "model_field_validation.missing": "a required element is missing",
    "list_type": "an element must be a list (or holds an empty item)",
    "dict_type": "an element must be an object",
    "model_type": "an element must be an object",
    "model_attributes_type": "an element must be an object",
    "string_type": "an element must be a string",
    "bool_type": "an element must be a boolean",
    "int_type": "an element must be an integer",
    "int_parsing": "an element must be an integer",
    "decimal_type": "an element must be a decimal",
    "string_pattern_mismatch": "a value does not match its FHIR data type",
    "fhir-validation-wrong-resource-type": "a resource has an unexpected resourceType",
    "model_validation_format": "a resource or element has an unexpected type",
}
_PROBLEM_DEFAULT = "a value does not meet the FHIR R4 rules for its element"
_ONE_OF_MANY = "Any of one field value is expected from this list"


def _problem(error_type: str, message: str) -> str:
    """Our wording for a pydantic error; the library's message only selects it."""
    if error_type == "value_error" and _ONE_OF_MANY in message:
        return "more than one element of a choice type (such as two value[x])"
    return _PROBLEMS.get(error_type, _PROBLEM_DEFAULT)


def _location(base: str, loc: tuple[int | str, ...], error_type: str) -> str:
    path = base
    # An unknown element's name is the request's own text: the location stops at
    # the object that holds it.
    parts = loc[:-1] if error_type == "extra_forbidden" else loc
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _LOC_PART.fullmatch(part):
            path += f".{part}"
        else:
            # Not an element name (a union tag, a dict key): nothing more to locate.
            break
    return path


def r4b_issues(resource_type: str, resource: dict[str, Any], path: str) -> list[Issue]:
    """The located issues of one resource against its R4B model (none: valid or not read).

    Args:
        resource_type: the resource's type (only the types the reader uses are checked).
        resource: the resource as parsed JSON.
        path: where it stands in the request (the issues' locations start here).
    """
    model = _MODELS.get(resource_type)
    if model is None:
        return []
    issues: list[Issue] = []
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        seen: set[tuple[str, str]] = set()
        for error in exc.errors(include_input=False, include_url=False, include_context=False):
            problem = _problem(str(error["type"]), str(error["msg"]))
            where = _location(path, tuple(error["loc"]), str(error["type"]))
            if (problem, where) in seen:
                continue
            seen.add((problem, where))
            issues.append(
                Issue(
                    Severity.ERROR,
                    "structure",
                    f"{resource_type} is not valid FHIR R4: {problem}",
                    where,
                )
            )
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError):
        # fhir.resources itself crashes on some hostile shapes instead of raising a
        # ValidationError (found by tests/unit/test_reader_fuzz.py): still just invalid.
        issues.append(
            Issue(Severity.ERROR, "structure", f"{resource_type} is not valid FHIR R4.", path)
        )
    return issues

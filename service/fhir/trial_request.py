"""Reading a trial-matching request: the mCODE ``/getClinicalTrial`` Bundle and filters.

The mCODE matching services take a Bundle (``clinical-trial-matching-service``,
``src/server.ts``: ``resourceType`` Bundle, a Bundle ``type``, an ``entry`` array)
whose entries are the patient's mCODE resources plus one ``Parameters`` resource
with ``zipCode``, ``travelRadius``, ``phase`` and ``recruitmentStatus``
(``src/query-parameters.ts``: ``valueString``; ``travelRadius`` also
``valueDecimal``).  Here:

- the Bundle must hold exactly one ``Patient`` (one patient per request); otherwise 400;
  a resource whose ``subject`` is anything but a literal reference to that Patient (its
  ``fullUrl`` or ``Patient/[id]``) is refused (400 ``invariant``): another patient's,
  or one that cannot be read (a display, an identifier, an invalid reference), is
  never taken for the Patient's;
- the Bundle is one patient's record, so a resource without ``subject`` is the
  Patient's: the mCODE app builds its Bundle with no ``subject`` anywhere and a Patient
  id that is no FHIR id (``search_patient``).  Such resources are given the Patient as
  subject (its ``fullUrl``, else ``Patient/[id]``), and a Patient without a valid FHIR
  id is named ``Patient/request-patient`` inside the request, so that the Conditions
  give the HER2 results their tumour site.  Without this no result of such a Bundle
  would have a site, and no trial could ever be a candidate;
- ``phase`` and ``recruitmentStatus`` are FHIR ``research-study-phase`` /
  ``research-study-status`` codes (several may be given, comma-separated); another
  value is a 400 naming the parameter, never quoting the value;
- ``zipCode`` and ``travelRadius`` are accepted and not used: studies read from
  ClinicalTrials.gov files carry no site locations here, so no distance is judged;
- the derivation's input is a collection Bundle of the request's Patient,
  Observation, Condition, Specimen and DiagnosticReport entries (the types the
  derivation reads); the other mCODE resources are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from service.fhir.issues import Issue, Severity
from service.fhir.research_study_codes import PHASES, STATUSES, ctgov_phases, ctgov_statuses

# FHIR R4 Bundle.type: the mCODE library accepts a Bundle of any type (``isBundle``).
_TYPES: Final = "document message transaction transaction-response batch batch-response"
BUNDLE_TYPES: Final = frozenset((*_TYPES.split(), "history", "searchset", "collection"))
PATIENT_TYPES: Final = frozenset(
    {"Patient", "Observation", "Condition", "Specimen", "DiagnosticReport"}
)
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_SUBJECT_TYPES: Final = frozenset({"Observation", "Condition", "Specimen", "DiagnosticReport"})
# The name the request's one Patient gets inside the request when it has no valid id.
LOCAL_PATIENT_ID: Final = "request-patient"
STATUS_PARAMETER: Final = "recruitmentStatus"
PHASE_PARAMETER: Final = "phase"


class TrialRequestError(ValueError):
    """The request is not one the trial endpoints can read (HTTP 400)."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.diagnostics)
        self.issues = [issue]


def _refuse(code: str, diagnostics: str, expression: str | None = None) -> TrialRequestError:
    return TrialRequestError(Issue(Severity.ERROR, code, diagnostics, expression))


@dataclass(frozen=True)
class TrialFilters:
    """What the caller filters on, as ClinicalTrials.gov values (None: no filter)."""

    statuses: frozenset[str] | None = None
    phases: frozenset[str] | None = None


def _codes(name: str, raw: object, allowed: Mapping[str, object]) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _refuse("value", f"{name} must be a string.", name)
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    if not codes or any(c not in allowed for c in codes):
        kind = "research-study-phase" if allowed is PHASES else "research-study-status"
        raise _refuse("value", f"{name} must be FHIR {kind} codes (comma-separated).", name)
    return codes


def read_filters(status: object, phase: object) -> TrialFilters:
    """The filters from the ``recruitmentStatus`` and ``phase`` values (None: absent).

    Raises:
        TrialRequestError: a value that is no code of its FHIR code system.
    """
    statuses = _codes(STATUS_PARAMETER, status, STATUSES)
    phases = _codes(PHASE_PARAMETER, phase, PHASES)
    return TrialFilters(
        None if statuses is None else ctgov_statuses(statuses),
        None if phases is None else ctgov_phases(phases),
    )


def _parameter_value(parameter: Mapping[str, Any]) -> object:
    for key in ("valueString", "valueCode"):
        if key in parameter:
            return parameter[key]
    return next((v for k, v in parameter.items() if k.startswith("value")), None)


def _query(resources: list[dict[str, Any]]) -> TrialFilters:
    values: dict[str, object] = {}
    for resource in resources:
        if resource.get("resourceType") != "Parameters":
            continue
        parameters = resource.get("parameter")
        for parameter in parameters if isinstance(parameters, list) else []:
            name = parameter.get("name") if isinstance(parameter, dict) else None
            if name in (STATUS_PARAMETER, PHASE_PARAMETER):
                values[name] = _parameter_value(parameter)
    return read_filters(values.get(STATUS_PARAMETER), values.get(PHASE_PARAMETER))


@dataclass(frozen=True)
class MatchRequest:
    """A ``/getClinicalTrial`` request as the endpoint needs it.

    Attributes:
        payload: the derivation's input (a collection Bundle).
        filters: the recruitment-status and phase filters.
        patient: how the derivation names the Bundle's Patient (``Patient/[id]``, with
            ``request-patient`` as the id when the Patient has none that is valid).
    """

    payload: dict[str, Any]
    filters: TrialFilters
    patient: str


def read_match_request(body: object) -> MatchRequest:
    """The derivation input, the filters and the patient of a ``/getClinicalTrial`` body.

    Raises:
        TrialRequestError: not a Bundle, no or several Patients, a bad filter value.
    """
    if (
        not isinstance(body, dict)
        or body.get("resourceType") != "Bundle"
        or not isinstance(body.get("type"), str)
        or body["type"] not in BUNDLE_TYPES
        or not isinstance(body.get("entry"), list)
    ):
        raise _refuse("structure", "The body must be a FHIR Bundle with an entry list.")
    entries = [e for e in body["entry"] if isinstance(e, dict)]
    resources = [e["resource"] for e in entries if isinstance(e.get("resource"), dict)]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise _refuse(
            "required",
            "The Bundle must hold exactly one Patient (one patient per request).",
            "Bundle.entry",
        )
    filters = _query(resources)
    given_id = patients[0].get("id")
    pid = given_id
    if not (isinstance(pid, str) and _FHIR_ID.fullmatch(pid)):
        pid = LOCAL_PATIENT_ID
    kept = [
        _entry(e, pid)
        for e in entries
        if isinstance(e.get("resource"), dict)
        and isinstance(e["resource"].get("resourceType"), str)
        and e["resource"]["resourceType"] in PATIENT_TYPES
    ]
    patient_url = next(
        (e.get("fullUrl") for e in kept if e["resource"].get("resourceType") == "Patient"), None
    )
    subject = patient_url if isinstance(patient_url, str) else f"Patient/{pid}"
    # Every way the request may name its Patient; any other subject is someone else's
    # (or unreadable), and such a resource is never taken for the Patient's.
    names = {subject, f"Patient/{pid}"}
    if isinstance(given_id, str):
        names.add(f"Patient/{given_id}")
    for entry in kept:
        resource = entry["resource"]
        if resource.get("resourceType") not in _SUBJECT_TYPES:
            continue
        if "subject" in resource and not _names_patient(resource["subject"], names):
            raise _refuse(
                "invariant",
                "A resource's subject is not the Bundle's Patient (one patient per request).",
                "Bundle.entry",
            )
        # One spelling of the Patient for the derivation (a Patient id that is no FHIR
        # id, ``Patient/search_patient``, would be an unreadable reference to it).
        entry["resource"] = {**resource, "subject": {"reference": subject}}
    return MatchRequest(
        {"resourceType": "Bundle", "type": "collection", "entry": kept}, filters, f"Patient/{pid}"
    )


def _names_patient(subject: object, names: set[str]) -> bool:
    """Whether a ``subject`` Reference is a literal reference to the request's Patient."""
    if not isinstance(subject, dict):
        return False
    reference = subject.get("reference")
    return isinstance(reference, str) and reference in names


def _entry(entry: Mapping[str, Any], pid: str) -> dict[str, Any]:
    """The entry's fullUrl and resource (copied); the Patient under its request id."""
    kept = {k: v for k, v in entry.items() if k in ("fullUrl", "resource")}
    if kept["resource"].get("resourceType") == "Patient":
        kept["resource"] = {**kept["resource"], "id": pid}
    return kept


__all__ = [
    "BUNDLE_TYPES",
    "LOCAL_PATIENT_ID",
    "PHASE_PARAMETER",
    "STATUS_PARAMETER",
    "MatchRequest",
    "TrialFilters",
    "TrialRequestError",
    "read_filters",
    "read_match_request",
]

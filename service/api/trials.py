"""The trial-candidate endpoints (issue 14).

- ``POST /getClinicalTrial`` (at the root, as the mCODE trial-matching services serve
  it): the body is the patient's mCODE Bundle with a ``Parameters`` entry
  (``service.fhir.trial_request``); the HER2 results are derived from it with the
  project's rules, as the stateless ``$her2-status`` does.  The answer lists the
  candidates and the trials to review (``ANSWERED``); excluded trials and trials
  without a HER2 criterion are left out, since the mCODE app shows every entry it
  gets as a match.
- ``GET|POST [base]/Patient/{id}/$her2-trial-candidates``: the patient's inputs are
  read from the configured FHIR server, as ``Patient/{id}/$her2-status`` reads them;
  the answer lists every trial, excluded ones with score 0, and an OperationOutcome
  entry when there is something to know.

Both need the bearer token of the patient-data endpoints (``authenticate``); the
Patient-level one also the READ grant for the patient, before anything is read.
Both leave an audit line (``service.api.audit``).  No trial source configured: 400
not-supported, as for a missing FHIR server.
"""

from __future__ import annotations

from typing import Any, Final

from flask import Blueprint, Response, request

from service.api import audit
from service.api.auth import authenticate
from service.api.context import Context
from service.api.errors import ApiError
from service.api.logs import note
from service.api.negotiation import require_json_answer
from service.api.responses import fhir_response
from service.api.routes import (
    bounded,
    current_context,
    derive_payload,
    open_patient_call,
    read_body,
    read_body_if_any,
)
from service.app.trial_matching import PatientTrials, match_patient, others_results
from service.fhir.research_study_out import searchset
from service.fhir.trial_request import (
    PHASE_PARAMETER,
    STATUS_PARAMETER,
    TrialFilters,
    TrialRequestError,
    read_filters,
    read_match_request,
)
from service.trials.matching import Outcome

OPERATION: Final = "$her2-trial-candidates"
# What /getClinicalTrial answers; the FHIR operation answers every outcome.
ANSWERED: Final = frozenset({Outcome.CANDIDATE, Outcome.NEEDS_REVIEW, Outcome.NOT_UNDERSTOOD})


def _require_sources(context: Context) -> None:
    if not context.application.trials:
        raise ApiError.simple(
            400,
            "not-supported",
            "No trial source is configured (see HER2_TRIALS_DIR and HER2_TRIALS_FHIR).",
        )


def _answer(trials: PatientTrials, outcomes: frozenset[Outcome], issues: bool) -> Response:
    note(trials=len(trials.matches))
    bundle = searchset(trials.matches, outcomes, trials.issues if issues else ())
    return bounded(fhir_response(bundle))


def _operation_filters(body: Any) -> TrialFilters:
    """The filters of the Patient-level operation: query parameters or a Parameters body."""
    if request.method == "GET":
        values = {
            name: ",".join(request.args.getlist(name)) if name in request.args else None
            for name in (STATUS_PARAMETER, PHASE_PARAMETER)
        }
        return read_filters(values[STATUS_PARAMETER], values[PHASE_PARAMETER])
    if body is None:
        return TrialFilters()
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise ApiError.simple(400, "structure", "The body must be a Parameters resource.")
    found: dict[str, list[object]] = {STATUS_PARAMETER: [], PHASE_PARAMETER: []}
    parameters = body.get("parameter")
    for parameter in parameters if isinstance(parameters, list) else []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str):
            raise ApiError.simple(400, "structure", "Each parameter must be an object with a name.")
        if name in found:
            found[name].append(parameter.get("valueCode", parameter.get("valueString")))
    return read_filters(_joined(found[STATUS_PARAMETER]), _joined(found[PHASE_PARAMETER]))


def _joined(values: list[object]) -> object:
    """Repeated values as one comma-separated value; a non-string is passed on (refused)."""
    if not values:
        return None
    strings = [v for v in values if isinstance(v, str)]
    return ",".join(strings) if len(strings) == len(values) else values


def trials_blueprint(base_path: str) -> Blueprint:
    """``/getClinicalTrial`` at the root and the Patient-level operation under ``base_path``."""
    bp = Blueprint("trials", __name__)

    @bp.post("/getClinicalTrial")
    def get_clinical_trial() -> Response:
        context = current_context()
        audit.begin(None, "getClinicalTrial")
        audit.caller(authenticate(context))
        _require_sources(context)
        try:
            asked = read_match_request(read_body())
        except TrialRequestError as exc:
            raise ApiError(400, exc.issues) from None
        derivation = derive_payload(context, asked.payload)
        note(groups=len(derivation.derived))
        if others_results(derivation.derived, asked.patient):
            raise ApiError.simple(
                400, "invariant", "A HER2 result in the Bundle is not its Patient's."
            )
        trials = match_patient(derivation.derived, context.application.trials, asked.filters)
        return _answer(trials, ANSWERED, issues=False)

    @bp.route(f"{base_path}/Patient/<patient_id>/{OPERATION}", methods=["GET", "POST"])
    def patient_trials(patient_id: str) -> Response:
        require_json_answer()
        context, _, patients = open_patient_call(
            patient_id, OPERATION, "POST /getClinicalTrial with the patient's Bundle"
        )
        _require_sources(context)
        try:
            body = read_body_if_any() if request.method == "POST" else None
            filters = _operation_filters(body)
        except TrialRequestError as exc:
            raise ApiError(400, exc.issues) from None
        audit.record(persist=False)
        _, derivation = patients.derive(patient_id, context.now())
        note(groups=len(derivation.derived))
        trials = match_patient(derivation.derived, context.application.trials, filters)
        return _answer(trials, frozenset(Outcome), issues=True)

    return bp


__all__ = ["ANSWERED", "OPERATION", "trials_blueprint"]

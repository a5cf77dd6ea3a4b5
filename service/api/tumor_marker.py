"""``$her2-tumor-marker``: the HER2 status in the mCODE tumour-marker shape (read-only).

Two invocations, mirroring ``$her2-status`` (``routes``) with the same body, errors,
authentication, authorisation and audit record:

- ``POST [base]/$her2-tumor-marker``: stateless, the same input as ``$her2-status``;
- ``POST [base]/Patient/[id]/$her2-tumor-marker``: reads the patient's results from
  the configured FHIR server and never writes them back (no ``persist``); without a
  server, 400 not-supported.

Each answers a ``collection`` Bundle of mCODE tumour-marker Observations
(``service.app.tumor_markers``); a request with nothing to offer is a 422.
"""

from __future__ import annotations

from flask import Blueprint, Response

from service.api import audit, metrics
from service.api.errors import ApiError
from service.api.logs import note
from service.api.negotiation import require_json_answer
from service.api.responses import fhir_response
from service.api.routes import bounded, current_context, derive_body, open_patient_call
from service.app.derivation import Derivation
from service.app.tumor_markers import tumor_markers

OPERATION = "$her2-tumor-marker"


def tumor_marker_blueprint(base_path: str) -> Blueprint:
    """The two ``$her2-tumor-marker`` endpoints under ``base_path``."""
    bp = Blueprint("tumor_marker", __name__)
    bp.before_request(require_json_answer)

    @bp.post(f"{base_path}/{OPERATION}")
    def stateless() -> Response:
        return _export(derive_body()[1])

    @bp.post(f"{base_path}/Patient/<patient_id>/{OPERATION}")
    def patient(patient_id: str) -> Response:
        context, _, patients = open_patient_call(patient_id, OPERATION)
        # Read only: nothing is planned or written (the audit record says so).
        audit.record(persist=False)
        _, derivation = patients.derive(patient_id, context.now())
        return _export(derivation)

    return bp


def _export(derivation: Derivation) -> Response:
    """The export of a derivation as the answer; 422 when it offers nothing."""
    markers = tumor_markers(derivation, current_context().now())
    note(groups=len(derivation.outputs), markers=markers.count, issues=len(markers.issues))
    metrics.count_derivations(o.derived.result for o in derivation.outputs)
    if not markers.count:
        raise ApiError(422, markers.issues)
    return bounded(fhir_response(markers.bundle))


__all__ = ["OPERATION", "tumor_marker_blueprint"]

"""The per-patient step of the bulk job, the same for every engine.

It builds the patient's searchset Bundle from their projected records exactly as
the Patient-level operation's store would (``service.app.patient.patient_bundle``),
derives with the operation's function (``derive_patient``) and turns the outcome
into plain, picklable data: the stored forms of the output resources, rows of the
results table and, when the derivation reported errors, the OperationOutcome the
API would have answered.  Nothing here touches a file or the network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from service.app.derivation import Derivation, GroupOutput
from service.app.patient import derive_patient, patient_bundle
from service.fhir import jsonio
from service.fhir.issues import Severity
from service.fhir.projection import recorded_interpretations, resource_type
from service.settings import DerivationSettings

# The catalog's agent id of fam-trastuzumab deruxtecan (service/her2/data/therapy_catalog.json).
TDXD_AGENT: Final = "fam-trastuzumab-deruxtecan"
COLUMNS: Final = (
    "patient",
    "key",
    "site",
    "status",
    "her2_low",
    "ultralow",
    "ish_group",
    "next_step",
    "interpretation",
    "ruleset",
    "tdxd_listed",
    "recorded_interpretation",
    "differs_from_recorded",
    "newly_tdxd",
    "error",
)
Row = dict[str, Any]


@dataclass(frozen=True)
class BulkContext:
    """What every per-patient call needs (picklable: sent to worker processes).

    Attributes:
        settings: recognised codes and grouping window.
        now: the run's derivation time (fixed for the run, so a resumed or
            re-engined run writes the same bytes).
        base_url: the server the export came from (``fullUrl`` of the inputs).
        max_issues: the most issues per patient (None: all).
    """

    settings: DerivationSettings
    now: dt.datetime
    base_url: str
    max_issues: int | None = None


@dataclass
class PatientResult:
    """One patient's outputs, as plain data.

    Attributes:
        patient: the Patient's logical id.
        resources: (resource type, compact JSON line) of every output resource.
        rows: the patient's rows of the results table.
        outcome: the OperationOutcome of the patient's issues (None: no issues).
        failed: whether an error was reported (a specimen or the patient not derived).
        has_her2: whether the patient had any HER2 input at all.
    """

    patient: str
    resources: list[tuple[str, str]] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    failed: bool = False
    has_her2: bool = False


def _recorded_for(
    output: GroupOutput, recorded: list[tuple[str | None, str | None, str]]
) -> str | None:
    """The latest recorded interpretation of the group's specimen (or of no specimen).

    Conservative: a recorded status is matched to a result only through the same
    specimen, or, when neither names a specimen, at patient level; never across
    specimens.
    """
    specimen = output.derived.group.specimen
    same = [r for r in recorded if r[0] == specimen]
    if not same:
        return None
    return max(same, key=lambda r: r[1] or "")[2]


def _row(patient: str, output: GroupOutput, recorded: str | None) -> Row:
    result = output.derived.result
    tdxd = any(listing.agent.id == TDXD_AGENT for listing in output.derived.therapies.listings)
    status = result.status.value
    low_or_ultralow = bool(result.her2_low) or bool(result.ultralow)
    return {
        "patient": patient,
        "key": output.key,
        "site": result.site.value if result.site else "unknown",
        "status": status,
        "her2_low": result.her2_low,
        "ultralow": result.ultralow,
        "ish_group": result.ish_group,
        "next_step": result.next_step.value if result.next_step else None,
        "interpretation": result.interpretation.value,
        "ruleset": result.ruleset.label,
        "tdxd_listed": tdxd,
        "recorded_interpretation": recorded,
        "differs_from_recorded": None if recorded is None else recorded != status,
        # Newly inside a labelled T-DXd setting: recorded "negative", now HER2-low or
        # ultralow with T-DXd listed (the question every centre had in 2022 and 2025).
        "newly_tdxd": recorded == "negative" and low_or_ultralow and tdxd,
        "error": None,
    }


def _failure_row(patient: str, derivation: Derivation) -> Row:
    errors = [i for i in derivation.issues if i.severity is Severity.ERROR]
    code = errors[0].input_error.value if errors and errors[0].input_error else None
    row: Row = dict.fromkeys(COLUMNS)
    row.update(patient=patient, error=code or (errors[0].code if errors else "not-derived"))
    return row


def run_patient(patient: str, records: Iterable[dict[str, Any]], ctx: BulkContext) -> PatientResult:
    """Derive one patient from their projected records.

    Args:
        patient: the Patient's logical id.
        records: the patient's projected records (any order; Patients included).
        ctx: the run's settings and derivation time.

    Returns:
        The patient's outputs; a patient without any HER2 input is not derived.
    """
    records = list(records)
    bundle = patient_bundle(records, ctx.settings.code_map.kinds.keys(), ctx.base_url)
    result = PatientResult(patient)
    if not any(resource_type(e["resource"]) == "Observation" for e in bundle["entry"]):
        return result
    result.has_her2 = True
    derivation = derive_patient(bundle, ctx.now, ctx.settings, ctx.max_issues)
    recorded = recorded_interpretations(records)
    for output in derivation.outputs:
        result.resources.append(("Observation", jsonio.dumps(output.observation)))
        if output.listing is not None:
            result.resources.append(("List", jsonio.dumps(output.listing)))
        result.resources.append(("Provenance", jsonio.dumps(output.provenance)))
        result.rows.append(_row(patient, output, _recorded_for(output, recorded)))
    result.failed = any(i.severity is Severity.ERROR for i in derivation.issues)
    if not derivation.outputs:
        result.rows.append(_failure_row(patient, derivation))
    if derivation.issues:
        result.outcome = derivation.outcome()
    return result


__all__ = ["COLUMNS", "TDXD_AGENT", "BulkContext", "PatientResult", "Row", "run_patient"]

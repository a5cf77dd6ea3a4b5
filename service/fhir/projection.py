"""Bulk Data records cut down to what the derivation reads (issue 11).

A Bulk Data export holds every Observation of a hospital, most of them not HER2
at all, each with narrative, performers and notes the derivation never reads.
Projecting each record to the elements the mapping layer reads, and dropping
Observations without a recognised code, before anything is grouped made every
engine measured 2-5x faster.  The elements kept are those that
``service.fhir`` reads (envelope, grouping, values, ISH, site, facts): a
projected patient derives exactly as the full records would.  The one
difference is deliberate: an element that is never read (``text``, ``note``,
``performer``…) is no longer validated, so a record that is malformed only
there derives instead of being reported.

Also here, because they read FHIR elements: the patient a record belongs to, and
the status the source system had recorded (LOINC 48676-1) for the results table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Final

from service.fhir.codes import ANSWERS, INTERPRETATION_CODE, LOINC, LOINC_OID, Answer
from service.fhir.elements import VALUE_KEYS, codings, effective
from service.fhir.references import parse_reference

_COMMON: Final = (
    "resourceType",
    "id",
    "identifier",
    "extension",
    "modifierExtension",
    "contained",
    "subject",
    "status",
    "code",
)
_EFFECTIVE: Final = ("effectiveDateTime", "effectiveInstant", "effectivePeriod", "effectiveTiming")
KEPT: Final[dict[str, frozenset[str]]] = {
    "Observation": frozenset(
        (
            *_COMMON,
            *_EFFECTIVE,
            *VALUE_KEYS,
            "issued",
            "dataAbsentReason",
            "interpretation",
            "method",
            "bodySite",
            "specimen",
            "hasMember",
            "derivedFrom",
            "component",
            "focus",
        )
    ),
    "DiagnosticReport": frozenset((*_COMMON, *_EFFECTIVE, "issued", "specimen", "result")),
    "Specimen": frozenset((*_COMMON, "type", "collection", "parent")),
    "Condition": frozenset(
        (*_COMMON, "clinicalStatus", "verificationStatus", "bodySite", "category")
    ),
    # Patients are only counted (the cohort's size): their id is all that is kept.
    "Patient": frozenset(("resourceType", "id")),
}
RESOURCE_TYPES: Final = frozenset(KEPT)
_INTERPRETATION_CODES: Final = frozenset(
    {(LOINC, INTERPRETATION_CODE), (LOINC_OID, INTERPRETATION_CODE)}
)


def resource_type(record: object) -> str | None:
    """The ``resourceType`` of a JSON object, or None."""
    if not isinstance(record, dict):
        return None
    kind = record.get("resourceType")
    return kind if isinstance(kind, str) else None


def has_code(record: dict[str, Any], codes: Collection[tuple[str, str]]) -> bool:
    """Whether a record's ``code`` carries one of ``codes`` (system + code)."""
    return any(pair in codes for pair in codings(record.get("code")))


def project(record: dict[str, Any], codes: Collection[tuple[str, str]]) -> dict[str, Any] | None:
    """The record with only the elements the derivation reads, or None to drop it.

    Args:
        record: one resource of the export.
        codes: the recognised Observation codes (those the Patient-level operation
            searches for); an Observation with none of them is dropped.

    Returns:
        The projected copy; None for a type the derivation does not read or an
        Observation without a recognised code.
    """
    kind = resource_type(record)
    kept = KEPT.get(kind or "")
    if kept is None or (kind == "Observation" and not has_code(record, codes)):
        return None
    projected = {k: v for k, v in record.items() if k in kept}
    meta = record.get("meta")
    if isinstance(meta, dict) and "versionId" in meta:
        # The version enters the Provenance id; the rest of meta is never read.
        projected["meta"] = {"versionId": meta["versionId"]}
    elif meta is not None and not isinstance(meta, dict):
        projected["meta"] = meta  # left for validation to report, as the operation would
    return projected


def patient_of(record: dict[str, Any]) -> str | None:
    """The logical id of the Patient a record belongs to, or None.

    A Patient belongs to itself; anything else to the Patient its ``subject``
    names by a grammatical literal reference (relative or absolute).
    """
    if resource_type(record) == "Patient":
        rid = record.get("id")
        return rid if isinstance(rid, str) and rid else None
    subject = record.get("subject")
    ref = parse_reference(subject.get("reference") if isinstance(subject, dict) else None)
    return ref.id if ref is not None and ref.type == "Patient" else None


def recorded_interpretations(
    records: Iterable[dict[str, Any]],
) -> list[tuple[str | None, str | None, str]]:
    """The HER2 statuses the source system had recorded (LOINC 48676-1).

    Returns:
        (specimen reference key or None, effective time text or None, status) for
        every final-like 48676-1 Observation whose value names exactly one status.
    """
    found = []
    statuses = {Answer.POSITIVE, Answer.NEGATIVE, Answer.EQUIVOCAL, Answer.INDETERMINATE}
    for record in records:
        if resource_type(record) != "Observation" or not has_code(record, _INTERPRETATION_CODES):
            continue
        if record.get("status") not in ("final", "amended", "corrected"):
            continue
        answers = {ANSWERS[c] for c in codings(record.get("valueCodeableConcept")) if c in ANSWERS}
        named = answers & statuses
        if len(named) != 1:
            continue
        specimen = record.get("specimen")
        ref = parse_reference(specimen.get("reference") if isinstance(specimen, dict) else None)
        found.append((ref.relative if ref else None, effective(record)[1], named.pop().value))
    return found


__all__ = [
    "KEPT",
    "RESOURCE_TYPES",
    "has_code",
    "patient_of",
    "project",
    "recorded_interpretations",
    "resource_type",
]

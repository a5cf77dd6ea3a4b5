"""Every code the service reads or writes (fhir-contract.md sections 0, 1, 4-7).

Inputs are matched on system + code only: displays drift between LOINC releases
and are never used to recognise anything.  A site adds local or CAP eCC codes
through a mapping table (:meth:`CodeMap.with_local`), never by code changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from service.her2 import Site

CANONICAL: Final = "https://her2-status.org/fhir"

LOINC: Final = "http://loinc.org"
LOINC_OID: Final = "urn:oid:2.16.840.1.113883.6.1"
SNOMED: Final = "http://snomed.info/sct"
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
V3_INTERPRETATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON: Final = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PROVENANCE_PARTICIPANT: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
V3_DATA_OPERATION: Final = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_ENTITY_ROLE: Final = "http://hl7.org/fhir/provenance-entity-role"
ISSUE_TYPE: Final = "http://hl7.org/fhir/issue-type"

# The project's own code systems and identifier systems (contract section 0).
CS_IHC_SCORE: Final = f"{CANONICAL}/CodeSystem/her2-ihc-score"
CS_ISH_ASSAY: Final = f"{CANONICAL}/CodeSystem/her2-ish-assay"
CS_STATUS: Final = f"{CANONICAL}/CodeSystem/her2-status"
CS_COMPONENT: Final = f"{CANONICAL}/CodeSystem/her2-status-component"
CS_NEXT_STEP: Final = f"{CANONICAL}/CodeSystem/her2-next-step"
CS_INPUT_ERROR: Final = f"{CANONICAL}/CodeSystem/her2-input-error"
CS_THERAPY_CLASS: Final = f"{CANONICAL}/CodeSystem/her2-therapy-class"
CS_LIST_PURPOSE: Final = f"{CANONICAL}/CodeSystem/her2-list-purpose"
CS_RULE_SET: Final = f"{CANONICAL}/CodeSystem/her2-rule-set"
EXT_ISH_COUNT_ROLE: Final = f"{CANONICAL}/StructureDefinition/her2-ish-count-role"
EXT_LABELLED_SETTING: Final = f"{CANONICAL}/StructureDefinition/her2-labelled-setting"
SID_STATUS: Final = f"{CANONICAL}/sid/her2-status"
SID_THERAPY_LIST: Final = f"{CANONICAL}/sid/her2-therapy-list"
DEVICE_ID: Final = "her2-status-service"

INTERPRETATION_CODE: Final = "48676-1"
INTERPRETATION_DISPLAY: Final = "HER2 [Interpretation] in Tissue"


class Kind(StrEnum):
    """What an Observation code means for this service (contract section 1)."""

    IHC = "ihc"
    ISH = "ish"  # a qualitative ISH result (may carry components or members)
    ISH_PANEL = "ish-panel"
    RATIO = "ratio"
    AVG_HER2 = "avg-her2"
    AVG_CEP17 = "avg-cep17"
    CELLS = "cells"
    INTERPRETATION = "interpretation"
    NOT_IHC_ISH = "not-ihc-ish"  # HER2-related, never used for status


ISH_VALUE_KINDS: Final = frozenset({Kind.RATIO, Kind.AVG_HER2, Kind.AVG_CEP17, Kind.CELLS})
INPUT_KINDS: Final = frozenset({Kind.IHC, Kind.ISH, Kind.ISH_PANEL}) | ISH_VALUE_KINDS

_LOINC_KINDS: Final[dict[str, Kind]] = {
    "85319-2": Kind.IHC,
    "18474-7": Kind.IHC,
    "85318-4": Kind.ISH,
    "31150-6": Kind.ISH,
    "96893-3": Kind.ISH,
    "48675-3": Kind.ISH,
    "74885-5": Kind.ISH_PANEL,
    "49683-6": Kind.RATIO,
    "74860-8": Kind.AVG_HER2,
    "74861-6": Kind.AVG_CEP17,
    "62361-1": Kind.CELLS,
    "48676-1": Kind.INTERPRETATION,
    "32996-1": Kind.NOT_IHC_ISH,
    "42914-2": Kind.NOT_IHC_ISH,
    "51981-9": Kind.NOT_IHC_ISH,
    "72382-5": Kind.NOT_IHC_ISH,
    "72383-3": Kind.NOT_IHC_ISH,
}
# Breast-specific test codes decide the site (contract section 4).
BREAST_SPECIFIC: Final = frozenset({"85319-2", "85318-4"})

DEFAULT_CODES: Final[dict[tuple[str, str], Kind]] = {
    **{(LOINC, code): kind for code, kind in _LOINC_KINDS.items()},
    **{(LOINC_OID, code): kind for code, kind in _LOINC_KINDS.items()},
    (SNOMED, "1365744007"): Kind.RATIO,
}


class Answer(StrEnum):
    """Normalised answers of coded values (contract section 1)."""

    IHC_0 = "0"
    IHC_1 = "1+"
    IHC_2 = "2+"
    IHC_3 = "3+"
    POSITIVE = "positive"
    NEGATIVE = "negative"
    EQUIVOCAL = "equivocal"
    INDETERMINATE = "indeterminate"
    ZERO_NULL = "0-null"
    ZERO_ULTRALOW = "0-ultralow"


ANSWERS: Final[dict[tuple[str, str], Answer]] = {
    (LOINC, "LA6111-4"): Answer.IHC_0,
    (LOINC, "LA11841-6"): Answer.IHC_1,
    (LOINC, "LA11842-4"): Answer.IHC_2,
    (LOINC, "LA11843-2"): Answer.IHC_3,
    (LOINC, "LA11884-6"): Answer.INDETERMINATE,
    (LOINC, "LA6576-8"): Answer.POSITIVE,
    (LOINC, "LA6577-6"): Answer.NEGATIVE,
    (LOINC, "LA11885-3"): Answer.EQUIVOCAL,
    (SNOMED, "10828004"): Answer.POSITIVE,
    (SNOMED, "260385009"): Answer.NEGATIVE,
    (SNOMED, "42425007"): Answer.EQUIVOCAL,
    (SNOMED, "82334004"): Answer.INDETERMINATE,
    (CS_IHC_SCORE, "0-null"): Answer.ZERO_NULL,
    (CS_IHC_SCORE, "0-ultralow"): Answer.ZERO_ULTRALOW,
}
ANSWERS.update({(LOINC_OID, c): a for (s, c), a in list(ANSWERS.items()) if s == LOINC})

# Output value codings per status (contract section 5).
STATUS_CODINGS: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    "positive": ((SNOMED, "10828004", "Positive"), (LOINC, "LA6576-8", "Positive")),
    "negative": ((SNOMED, "260385009", "Negative"), (LOINC, "LA6577-6", "Negative")),
    "equivocal": ((SNOMED, "42425007", "Equivocal"), (LOINC, "LA11885-3", "Equivocal")),
    "indeterminate": (
        (SNOMED, "82334004", "Indeterminate"),
        (LOINC, "LA11884-6", "Indeterminate"),
    ),
}
STATUS_INTERPRETATION: Final[dict[str, tuple[str, str]]] = {
    "positive": ("POS", "Positive"),
    "negative": ("NEG", "Negative"),
    "indeterminate": ("IND", "Indeterminate"),
}

# Units accepted as a sanity check (contract section 2); the code decides the meaning.
RATIO_UNITS: Final = frozenset({"{ratio}", "1", "ratio"})
COPY_UNITS: Final = frozenset({"{copies}/{nucleus}", "{copies}/{cell}", "#", "{signals}/{nucleus}"})

# Tumour site (contract section 4).  ICD-10 prefixes come from the contract; the
# SNOMED CT codes were cross-checked against published FHIR IG material (README).
ICD10_SITE_PREFIXES: Final[tuple[tuple[str, Site], ...]] = (
    ("C50", Site.BREAST),
    ("C15", Site.GASTROESOPHAGEAL),
    ("C16", Site.GASTROESOPHAGEAL),
)
DEFAULT_SITE_CODES: Final[dict[tuple[str, str], Site]] = {
    (SNOMED, "76752008"): Site.BREAST,  # Breast structure
    (SNOMED, "254837009"): Site.BREAST,  # Malignant neoplasm of breast
    (SNOMED, "69695003"): Site.GASTROESOPHAGEAL,  # Stomach structure
    (SNOMED, "32849002"): Site.GASTROESOPHAGEAL,  # Esophageal structure
    (SNOMED, "25271004"): Site.GASTROESOPHAGEAL,  # Gastroesophageal junction structure
    (SNOMED, "363349007"): Site.GASTROESOPHAGEAL,  # Malignant tumour of stomach
    (SNOMED, "363402007"): Site.GASTROESOPHAGEAL,  # Malignant tumour of oesophagus
}


class CodeMapError(ValueError):
    """A local mapping table is malformed."""


@dataclass(frozen=True)
class CodeMap:
    """Which Observation codes are HER2 inputs, and which codes name a tumour site.

    The defaults are the contract's codes; :meth:`with_local` adds a site's own.
    """

    kinds: Mapping[tuple[str, str], Kind] = field(default_factory=lambda: dict(DEFAULT_CODES))
    sites: Mapping[tuple[str, str], Site] = field(default_factory=lambda: dict(DEFAULT_SITE_CODES))

    def kind_of(self, system: object, code: object) -> Kind | None:
        """The kind of an Observation code, or None when it is not recognised."""
        if not isinstance(system, str) or not isinstance(code, str):
            return None
        return self.kinds.get((system, code.strip()))

    def site_of(self, system: object, code: object) -> Site | None:
        """The tumour site a body-site or condition code names, or None."""
        if not isinstance(system, str) or not isinstance(code, str):
            return None
        code = code.strip()
        if system in (ICD10, ICD10_CM):
            for prefix, site in ICD10_SITE_PREFIXES:
                if code.upper().startswith(prefix):
                    return site
        return self.sites.get((system, code))

    def with_local(self, table: Mapping[str, Any]) -> CodeMap:
        """Add a site's local codes to the defaults.

        The table looks like ``{"observations": [{"system", "code", "kind"}],
        "sites": [{"system", "code", "site"}]}`` (kinds and sites by value).

        Raises:
            CodeMapError: for an unknown kind or site, or a malformed entry.
        """
        kinds = dict(self.kinds)
        sites = dict(self.sites)
        try:
            for entry in table.get("observations", []):
                kinds[(str(entry["system"]), str(entry["code"]))] = Kind(entry["kind"])
            for entry in table.get("sites", []):
                sites[(str(entry["system"]), str(entry["code"]))] = Site(entry["site"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CodeMapError(f"invalid code map entry: {exc}") from exc
        return CodeMap(kinds, sites)

    @classmethod
    def from_file(cls, path: Path) -> CodeMap:
        """The defaults plus the local table in a JSON file."""
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CodeMapError(f"cannot read code map {path}: {exc}") from exc
        if not isinstance(table, dict):
            raise CodeMapError("a code map is a JSON object")
        return cls().with_local(table)

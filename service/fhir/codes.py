"""Every code the service reads or writes (fhir-contract.md sections 0, 1, 4-7).

Inputs are matched on system + code only: displays drift between LOINC releases
and are never used to recognise anything.  A site adds local or CAP eCC codes
through a mapping table (:meth:`CodeMap.with_local`), never by code changes.
"""

from __future__ import annotations

import json
import re
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
ICD10_GM: Final = "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
# ICD-O-3: the HL7 Terminology (THO) URI, as bound in mCODE's cancer body location
# value set; the HL7 OID form is accepted too.
ICD_O3: Final = "http://terminology.hl7.org/CodeSystem/icd-o-3"
ICD_O3_OID: Final = "urn:oid:2.16.840.1.113883.6.43.1"
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

# Tumour site (contract section 4).  ICD-10 is recognised in every edition: the code
# decides, whichever edition's system URI carries it.  The defaults are the WHO edition,
# the national editions registered in HL7 Terminology (US -cm, Canada -ca, Netherlands
# -nl) and the German -gm (BfArM, and its pre-2020 DIMDI URI); a site adds others in its
# code map ("icd10_systems").  The SNOMED CT codes were cross-checked against published
# FHIR IG material (README).
DEFAULT_ICD10_SYSTEMS: Final = frozenset(
    {
        ICD10,
        ICD10_CM,
        "http://hl7.org/fhir/sid/icd-10-ca",
        "http://hl7.org/fhir/sid/icd-10-nl",
        ICD10_GM,
        "http://fhir.de/CodeSystem/dimdi/icd-10-gm",
    }
)
ICD_O3_SYSTEMS: Final = frozenset({ICD_O3, ICD_O3_OID})
ICD10_SITE_PREFIXES: Final[tuple[tuple[str, Site], ...]] = (
    ("C50", Site.BREAST),
    ("C15", Site.GASTROESOPHAGEAL),
    ("C16", Site.GASTROESOPHAGEAL),
)
# A category letter and two digits, then an optional subdivision (C50.911, C509) and
# the dagger/asterisk/exclamation marks of the German edition.
_ICD_CATEGORY: Final = re.compile(r"([A-Z])(\d\d)(?:\.?[0-9A-Z]{0,4})?[+*!\u2020]?")
_ICD_O3_MORPHOLOGY: Final = re.compile(r"\d{4}/(\d)")


class Cancer(StrEnum):
    """What one coding of a Condition says about a cancer (contract section 4)."""

    PRIMARY = "primary"  # a malignant primary of a named organ (C00-C76, C80)
    MALIGNANT = "malignant"  # malignant, organ not named by this coding (ICD-O-3 /3)
    NOT_PRIMARY = "not-primary"  # secondary (C77-C79), haematolymphoid (C81-C96), C97
    NOT_CANCER = "not-cancer"  # a classified code that is no malignancy


def _icd_category(code: str) -> tuple[str, int] | None:
    match = _ICD_CATEGORY.fullmatch(code.upper())
    return (match[1], int(match[2])) if match else None


def _cancer_of_category(letter: str, number: int) -> tuple[Cancer, Site | None]:
    if letter != "C" or number > 97:
        return Cancer.NOT_CANCER, None
    if number == 50:
        return Cancer.PRIMARY, Site.BREAST
    if number in (15, 16):
        return Cancer.PRIMARY, Site.GASTROESOPHAGEAL
    if 77 <= number <= 79 or number > 80:
        # C77-C79 are secondary (metastatic) sites, not a primary organ: a metastasis
        # in the lung says nothing about which rule set the primary needs.  C81-C96
        # (lymphoid, haematopoietic) and C97 (multiple primaries) name no solid organ
        # that a HER2 test was done on.
        return Cancer.NOT_PRIMARY, None
    # C00-C76 and C80 (primary site unknown): a malignant primary that is not breast
    # or gastroesophageal.  C80 is counted as "other" on purpose (contract: C00-C80):
    # the other-site rules claim a positive only for IHC 3+, the conservative reading
    # of a cancer whose organ is not known.
    return Cancer.PRIMARY, Site.OTHER


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
    icd10_systems: frozenset[str] = DEFAULT_ICD10_SYSTEMS

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
        if system in self.icd10_systems or system in ICD_O3_SYSTEMS:
            for prefix, site in ICD10_SITE_PREFIXES:
                if code.upper().startswith(prefix):
                    return site
        return self.sites.get((system, code))

    def cancer_of(self, system: object, code: object) -> tuple[Cancer, Site | None] | None:
        """What an ICD-10 (any edition) or ICD-O-3 coding says about a cancer.

        Returns:
            The kind of code and, for a primary, its site (``other`` for an organ
            outside breast and gastroesophageal); None for other code systems and
            for codes that are not ICD-shaped.
        """
        if not isinstance(system, str) or not isinstance(code, str):
            return None
        code = code.strip()
        if system in ICD_O3_SYSTEMS:
            morphology = _ICD_O3_MORPHOLOGY.fullmatch(code)
            if morphology:
                # The behaviour digit: /3 malignant primary; /6 and /9 metastatic or
                # uncertain whether primary; /0-/2 benign, borderline, in situ.
                behaviour = morphology[1]
                if behaviour == "3":
                    return Cancer.MALIGNANT, None
                return (Cancer.NOT_PRIMARY if behaviour in "69" else Cancer.NOT_CANCER), None
        elif system not in self.icd10_systems:
            return None
        category = _icd_category(code)
        return _cancer_of_category(*category) if category else None

    def with_local(self, table: Mapping[str, Any]) -> CodeMap:
        """Add a site's local codes to the defaults.

        The table looks like ``{"observations": [{"system", "code", "kind"}],
        "sites": [{"system", "code", "site"}], "icd10_systems": ["uri", ...]}`` (kinds
        and sites by value; ``icd10_systems`` adds the system URIs of national ICD-10
        editions, whose codes are then read like the WHO edition's).

        Raises:
            CodeMapError: for an unknown kind or site, or a malformed entry.
        """
        kinds = dict(self.kinds)
        sites = dict(self.sites)
        icd10 = set(self.icd10_systems)
        try:
            for entry in table.get("observations", []):
                kinds[(str(entry["system"]), str(entry["code"]))] = Kind(entry["kind"])
            for entry in table.get("sites", []):
                sites[(str(entry["system"]), str(entry["code"]))] = Site(entry["site"])
            extra = table.get("icd10_systems", [])
            if not isinstance(extra, list) or not all(
                isinstance(uri, str) and uri.strip() for uri in extra
            ):
                raise ValueError("icd10_systems must be a list of system URIs")
            icd10.update(uri.strip() for uri in extra)
        except (KeyError, TypeError, ValueError) as exc:
            raise CodeMapError(f"invalid code map entry: {exc}") from exc
        return CodeMap(kinds, sites, frozenset(icd10))

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

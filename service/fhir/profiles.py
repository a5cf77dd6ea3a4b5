"""The project's implementation guide (``fhir_profiles/``), built from the code's own tables.

CodeSystems come from the rules' enums and the therapy catalog, so the guide can
never drift from what the service emits.  ``scripts/build-profiles`` writes the
files; ``tests/unit/test_profiles.py`` fails when they are stale.  The HTTP
service serves the OperationDefinition and CapabilityStatement from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, TypeVar

from service.fhir.codes import (
    ANSWERS,
    CANONICAL,
    CS_COMPONENT,
    CS_IHC_SCORE,
    CS_INPUT_ERROR,
    CS_ISH_ASSAY,
    CS_LIST_PURPOSE,
    CS_NEXT_STEP,
    CS_RULE_SET,
    CS_STATUS,
    CS_THERAPY_CLASS,
    DEFAULT_CODES,
    EXT_ISH_COUNT_ROLE,
    EXT_LABELLED_SETTING,
    ISH_VALUE_KINDS,
    LOINC,
    SID_STATUS,
    SID_THERAPY_LIST,
    SNOMED,
    STATUS_CODINGS,
    Kind,
)
from service.her2 import ErrorCode, NextStep, Status, default_ruleset, load_catalog

IG_VERSION: Final = "0.1.0"
PUBLISHER: Final = "her2-status open-source project"
CS_ISH_COUNT_ROLE: Final = f"{CANONICAL}/CodeSystem/her2-ish-count-role"

_STEP_DEFINITIONS: Final[dict[NextStep, str]] = {
    NextStep.ORDER_REFLEX_ISH: "Order reflex ISH on the same specimen (IHC 2+).",
    NextStep.CONCURRENT_IHC_REVIEW: "Review concurrent IHC on the ISH tissue before a final "
    "call (breast ISH groups 2-4).",
    NextStep.ISH_RECOUNT_BLINDED_OBSERVER: "A second observer, blinded to the first count, "
    "recounts at least 20 cells (breast groups 2-4 with IHC 2+).",
    NextStep.INTERNAL_ADJUDICATION: "The recount changed the ISH group: resolve by the "
    "laboratory's internal adjudication.",
    NextStep.NEGATIVE_WITH_REQUIRED_COMMENT: "Negative; the guideline's mandatory report "
    "comment applies (breast groups 2-4).",
    NextStep.ORDER_DUAL_PROBE_ISH: "Order dual-probe ISH (single-probe 4.0-<6.0 with IHC 2+).",
    NextStep.ORDER_IHC_AND_OR_DUAL_PROBE_ISH: "Order IHC and/or dual-probe ISH "
    "(single-probe 4.0-<6.0 without IHC).",
    NextStep.CONCURRENT_IHC_REVIEW_RECOMMENDED: "Concurrent IHC review recommended "
    "(single-probe positive without IHC).",
    NextStep.ORDER_IHC: "Order IHC (needed for the HER2-low/ultralow class, or the "
    "gastroesophageal IHC-first algorithm).",
    NextStep.PATHOLOGIST_REVIEW_DISCORDANCE: "IHC and ISH (or a lab call) disagree: "
    "pathologist review; the interpretation is preliminary.",
    NextStep.PATHOLOGIST_REVIEW: "The rules cannot decide (e.g. gastroesophageal ratio < 2.0 "
    "with >= 6.0 copies): pathologist review.",
    NextStep.CLINICIAN_REVIEW_HETEROGENEITY: "An earlier specimen's result differs: clinician "
    "review of heterogeneity (no rule says which governs).",
    NextStep.REPEAT_TEST_NEW_SPECIMEN: "The assay failed technically: repeat on another specimen.",
    NextStep.OBTAIN_HER2_TESTING: "No HER2 IHC or ISH result: obtain HER2 testing.",
    NextStep.CORRECT_INPUT: "The input is invalid, incomplete or inconsistent: correct it.",
    NextStep.COUNT_ADDITIONAL_CELLS: "Fewer than 20 cells counted: count additional cells.",
    NextStep.NO_SITE_SPECIFIC_GUIDELINE: "No site-specific guideline: only IHC 3+ is "
    "interpretable at this site.",
    NextStep.SPECIFY_TUMOR_SITE: "The site is unknown and the breast and gastroesophageal "
    "rules differ: specify the tumour site.",
}
_ERROR_DEFINITIONS: Final[dict[ErrorCode, str]] = {
    ErrorCode.MISSING_DATA: "Neither an IHC nor an ISH result.",
    ErrorCode.INVALID_VOCABULARY: "A value outside its vocabulary.",
    ErrorCode.INVALID_TYPE: "A value of the wrong type, or an unreadable HER2 entry.",
    ErrorCode.INVALID_VALUE: "An impossible value (negative, zero, single-probe with a ratio).",
    ErrorCode.INCOMPLETE_ISH: "An ISH result without the values the rules need.",
    ErrorCode.INCONSISTENT_ISH_VALUES: "Reported ratio and averages differ by more than 5 %.",
    ErrorCode.INSUFFICIENT_CELLS: "Fewer than 20 cells counted.",
}


def _concept(code: str, display: str, definition: str | None = None) -> dict[str, str]:
    concept = {"code": code, "display": display}
    if definition:
        concept["definition"] = definition
    return concept


_Member = TypeVar("_Member", bound=StrEnum)


def _enum_concepts(definitions: Mapping[_Member, str]) -> list[dict[str, str]]:
    """Concepts for every member of a rules enum, with its definition."""
    return [_concept(m.value, m.value.replace("_", " "), d) for m, d in definitions.items()]


def _conformance(
    resource_type: str, rid: str, title: str, description: str, name: str | None = None
) -> dict[str, Any]:
    """The header every conformance resource of the guide shares."""
    return {
        "resourceType": resource_type,
        "id": rid,
        "url": f"{CANONICAL}/{resource_type}/{rid}",
        "version": IG_VERSION,
        "name": name or "".join(part.capitalize() for part in rid.split("-")),
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": PUBLISHER,
        "description": description,
    }


def _code_system(
    url: str, title: str, description: str, concepts: list[dict[str, str]]
) -> dict[str, Any]:
    name = url.rsplit("/", 1)[-1]
    return {
        **_conformance("CodeSystem", name, title, description),
        "caseSensitive": True,
        "valueSet": f"{CANONICAL}/ValueSet/{name}",
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def _value_set(
    name: str, title: str, description: str, includes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        **_conformance("ValueSet", name, title, description),
        "compose": {"include": includes},
    }


def code_systems() -> list[dict[str, Any]]:
    """The project's CodeSystems."""
    catalog = load_catalog()
    return [
        _code_system(
            CS_STATUS,
            "HER2 status",
            "The HER2 status derived by the service (ASCO/CAP, CAP/ASCP/ASCO).",
            [
                _concept(Status.POSITIVE, "Positive", "HER2-positive."),
                _concept(Status.NEGATIVE, "Negative", "HER2-negative."),
                _concept(Status.EQUIVOCAL, "Equivocal", "Not final: a further step is required."),
                _concept(
                    Status.INDETERMINATE, "Indeterminate", "Technical failure or invalid input."
                ),
            ],
        ),
        _code_system(
            CS_COMPONENT,
            "HER2 status components",
            "Components of the HER2 status Observation.",
            [
                _concept(
                    "her2-low", "HER2-low", "Breast negative with IHC 1+ or 2+ (FDA label term)."
                ),
                _concept(
                    "her2-ultralow",
                    "HER2-ultralow",
                    "Breast negative with IHC 0 and faint "
                    "incomplete staining in > 0 % and <= 10 % of cells (FDA label term).",
                ),
                _concept("ish-group", "ISH group", "ASCO/CAP 2018 dual-probe group 1-5 (breast)."),
                _concept("next-step", "Next step", "The follow-up the guideline requires."),
            ],
        ),
        _code_system(
            CS_NEXT_STEP,
            "HER2 next step",
            "Follow-up steps, in priority order: input, workup, review, comment, heterogeneity.",
            _enum_concepts(_STEP_DEFINITIONS),
        ),
        _code_system(
            CS_INPUT_ERROR,
            "HER2 input error",
            "Why a specimen's HER2 status could not be derived from its input.",
            _enum_concepts(_ERROR_DEFINITIONS),
        ),
        _code_system(
            CS_IHC_SCORE,
            "HER2 IHC 0 sub-score",
            "The null/ultralow split of IHC 0, carried beside LOINC LA6111-4.",
            [
                _concept("0-null", "IHC 0, no membrane staining (assessed)"),
                _concept(
                    "0-ultralow",
                    "IHC 0 with faint incomplete staining in > 0 % and <= 10 % of tumour cells",
                ),
            ],
        ),
        _code_system(
            CS_ISH_ASSAY,
            "HER2 ISH assay",
            "ISH probe design.",
            [
                _concept("dual-probe", "Dual-probe ISH (HER2 and CEP17)"),
                _concept("single-probe", "Single-probe ISH (HER2 only)"),
            ],
        ),
        _code_system(
            CS_ISH_COUNT_ROLE,
            "HER2 ISH count role",
            "Whether an ISH count is the initial count or the blinded second-observer recount.",
            [
                _concept("initial", "Initial count"),
                _concept("blinded-recount", "Blinded second-observer recount"),
            ],
        ),
        _code_system(
            CS_THERAPY_CLASS,
            "HER2-directed therapy class",
            "Classes of HER2-directed agents (ATC puts antibodies and ADCs in one group).",
            [_concept(c.code, c.display) for c in catalog.classes.values()],
        ),
        _code_system(
            CS_LIST_PURPOSE,
            "HER2 list purpose",
            "What a List written by the service is.",
            [
                _concept(
                    "her2-therapy-reference",
                    "HER2-directed therapy reference",
                    "Agents whose FDA label covers the HER2 category and site; reference "
                    "information, not a treatment recommendation.",
                )
            ],
        ),
        _code_system(
            CS_RULE_SET,
            "HER2 rule set",
            "The rule sets of the service; Coding.version carries the version.",
            [
                _concept(
                    default_ruleset().id,
                    "her2-status HER2 rule set",
                    "; ".join(default_ruleset().guidelines),
                )
            ],
        ),
    ]


def value_sets() -> list[dict[str, Any]]:
    """One ValueSet per CodeSystem, plus the mixed sets the profiles bind to."""
    own = [
        _value_set(cs["id"], cs["title"], f"All codes of {cs['title']}.", [{"system": cs["url"]}])
        for cs in code_systems()
    ]
    ihc_codes = _loinc_codes({Kind.IHC})
    ish_codes = _loinc_codes({Kind.ISH, Kind.ISH_PANEL, *ISH_VALUE_KINDS})
    ish_snomed = [c for (s, c), k in DEFAULT_CODES.items() if s == SNOMED and k in ISH_VALUE_KINDS]
    answers = sorted(c for (s, c) in ANSWERS if s == LOINC)
    return [
        *own,
        _value_set(
            "her2-ihc-test-codes",
            "HER2 IHC test codes",
            "LOINC codes of HER2 IHC.",
            [_include(LOINC, ihc_codes)],
        ),
        _value_set(
            "her2-ish-test-codes",
            "HER2 ISH test codes",
            "LOINC and SNOMED CT codes of HER2 ISH results and their values.",
            [_include(LOINC, ish_codes), _include(SNOMED, ish_snomed)],
        ),
        _value_set(
            "her2-ihc-answer",
            "HER2 IHC answers",
            "LOINC answer list LL4396-9 and qualitative answers, plus the IHC 0 sub-score.",
            [_include(LOINC, answers), {"system": CS_IHC_SCORE}],
        ),
        _value_set(
            "her2-status-value",
            "HER2 status values",
            "The three codings of the status value: SNOMED CT, LOINC answer, project code.",
            [
                _include(SNOMED, [c[0][1] for c in STATUS_CODINGS.values()]),
                _include(LOINC, [c[1][1] for c in STATUS_CODINGS.values()]),
                {"system": CS_STATUS},
            ],
        ),
    ]


def _loinc_codes(kinds: set[Kind]) -> list[str]:
    return [c for (s, c), k in DEFAULT_CODES.items() if s == LOINC and k in kinds]


def _include(system: str, codes: list[str]) -> dict[str, Any]:
    return {"system": system, "concept": [{"code": c} for c in codes]}


def _sd(
    name: str,
    title: str,
    base: str,
    description: str,
    elements: list[dict[str, Any]],
    kind: str = "resource",
    context: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    sd: dict[str, Any] = {
        **_conformance("StructureDefinition", name, title, description),
        "fhirVersion": "4.0.1",
        "kind": kind,
        "abstract": False,
        "type": base,
        "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{base}",
        "derivation": "constraint",
        "differential": {"element": elements},
    }
    if context:
        sd["context"] = context
    return sd


def _el(path: str, **rules: Any) -> dict[str, Any]:
    return {"id": path, "path": path, **rules}


def _binding(value_set: str, strength: str = "required") -> dict[str, Any]:
    return {"binding": {"strength": strength, "valueSet": f"{CANONICAL}/ValueSet/{value_set}"}}


def _component_slice(
    name: str, value_type: str, extra: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    base = f"Observation.component:{name}"
    return [
        {"id": base, "path": "Observation.component", "sliceName": name, "min": 0, "max": "1"},
        {
            "id": f"{base}.code",
            "path": "Observation.component.code",
            "patternCodeableConcept": {"coding": [{"system": CS_COMPONENT, "code": name}]},
        },
        {
            "id": f"{base}.value[x]",
            "path": "Observation.component.value[x]",
            "min": 1,
            "type": [{"code": value_type}],
            **(extra[0] if extra else {}),
        },
    ]


def _extension(
    name: str,
    title: str,
    description: str,
    url: str,
    value_type: str,
    context: str,
    binding: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A simple extension: one value of one type, on one kind of resource."""
    return _sd(
        name,
        title,
        "Extension",
        description,
        [
            {"id": "Extension", "path": "Extension", "short": title, "max": "1"},
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
            {
                "id": "Extension.value[x]",
                "path": "Extension.value[x]",
                "min": 1,
                "type": [{"code": value_type}],
                **(binding or {}),
            },
        ],
        kind="complex-type",
        context=[{"type": "element", "expression": context}],
    )


def structure_definitions() -> list[dict[str, Any]]:
    """The input and output profiles and the two extensions."""
    count_role = _extension(
        "her2-ish-count-role",
        "HER2 ISH count role",
        "Marks an ISH Observation as the initial count or the blinded second-observer recount.",
        EXT_ISH_COUNT_ROLE,
        "code",
        "Observation",
        _binding("her2-ish-count-role"),
    )
    labelled = _extension(
        "her2-labelled-setting",
        "HER2 labelled setting",
        "The FDA-labelled setting of an agent for the listed HER2 category (plain text).",
        EXT_LABELLED_SETTING,
        "string",
        "Medication",
    )
    ihc = _sd(
        "her2-ihc-input",
        "HER2 IHC result (input)",
        "Observation",
        "A HER2 immunohistochemistry result as the service reads it.",
        [
            _el("Observation.code", **_binding("her2-ihc-test-codes", "extensible")),
            _el("Observation.subject", min=1),
            _el(
                "Observation.value[x]",
                type=[{"code": "CodeableConcept"}, {"code": "string"}, {"code": "integer"}],
            ),
        ],
    )
    ish = _sd(
        "her2-ish-input",
        "HER2 ISH result (input)",
        "Observation",
        "A HER2 in situ hybridisation result (qualitative, panel, ratio, averages, cells).",
        [
            _el(
                "Observation.extension",
                slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
            ),
            {
                "id": "Observation.extension:countRole",
                "path": "Observation.extension",
                "sliceName": "countRole",
                "min": 0,
                "max": "1",
                "type": [{"code": "Extension", "profile": [EXT_ISH_COUNT_ROLE]}],
            },
            _el("Observation.code", **_binding("her2-ish-test-codes", "extensible")),
            _el("Observation.subject", min=1),
            _el(
                "Observation.value[x]",
                type=[
                    {"code": "Quantity"},
                    {"code": "Ratio"},
                    {"code": "CodeableConcept"},
                    {"code": "string"},
                    {"code": "integer"},
                ],
            ),
            _el("Observation.method", **_binding("her2-ish-assay", "extensible")),
        ],
    )
    status = _sd(
        "her2-status",
        "HER2 status (output)",
        "Observation",
        "The interpretive HER2 status the service writes, with HER2-low/ultralow, ISH group and "
        "next step as components.",
        [
            _el("Observation.identifier", min=1),
            _el("Observation.identifier.system", min=1, fixedUri=SID_STATUS),
            _el("Observation.identifier.value", min=1),
            _el(
                "Observation.code",
                patternCodeableConcept={"coding": [{"system": LOINC, "code": "48676-1"}]},
            ),
            _el("Observation.subject", min=1),
            _el(
                "Observation.value[x]",
                min=1,
                type=[{"code": "CodeableConcept"}],
                **_binding("her2-status-value", "extensible"),
            ),
            _el("Observation.method", min=1),
            _el("Observation.device", min=1),
            _el(
                "Observation.derivedFrom",
                type=[
                    {
                        "code": "Reference",
                        "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Observation"],
                    }
                ],
            ),
            _el(
                "Observation.component",
                slicing={"discriminator": [{"type": "pattern", "path": "code"}], "rules": "closed"},
            ),
            *_component_slice("her2-low", "boolean"),
            *_component_slice("her2-ultralow", "boolean"),
            *_component_slice(
                "ish-group", "integer", [{"minValueInteger": 1, "maxValueInteger": 5}]
            ),
            *_component_slice("next-step", "CodeableConcept", [_binding("her2-next-step")]),
        ],
    )
    therapy = _sd(
        "her2-therapy-list",
        "HER2-directed therapy reference list (output)",
        "List",
        "Agents whose FDA label covers the HER2 category and tumour site of a status "
        "Observation: reference information, not a treatment recommendation.",
        [
            _el("List.identifier", min=1),
            _el("List.identifier.system", min=1, fixedUri=SID_THERAPY_LIST),
            _el("List.mode", fixedCode="snapshot"),
            _el("List.title", min=1),
            _el(
                "List.code",
                min=1,
                patternCodeableConcept={
                    "coding": [{"system": CS_LIST_PURPOSE, "code": "her2-therapy-reference"}]
                },
            ),
            _el("List.source", min=1),
            _el("List.entry", min=1),
            _el("List.entry.flag", min=1, **_binding("her2-therapy-class")),
            _el(
                "List.entry.item",
                type=[
                    {
                        "code": "Reference",
                        "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Medication"],
                    }
                ],
            ),
        ],
    )
    return [count_role, labelled, ihc, ish, status, therapy]


_OPERATION_DESCRIPTION: Final = (
    "Derives the HER2 status of each specimen group from HER2 IHC and ISH "
    "results (ASCO/CAP 2018/2023 breast, CAP/ASCP/ASCO 2016 gastroesophageal). At system "
    "level it is stateless: the results come in the request and nothing is written. At "
    "Patient level it reads the patient's results from the configured FHIR server and, with "
    "persist, writes the status Observation, therapy List and Provenance in one transaction."
)


def operation_definition() -> dict[str, Any]:
    """``$her2-status`` at system and Patient instance level (contract section 8)."""
    return {
        **_conformance(
            "OperationDefinition",
            "her2-status",
            "Derive HER2 status",
            _OPERATION_DESCRIPTION,
        ),
        "kind": "operation",
        "affectsState": True,
        "code": "her2-status",
        "system": True,
        "type": False,
        "instance": True,
        "resource": ["Patient"],
        "parameter": [
            {
                "name": "observation",
                "use": "in",
                "min": 0,
                "max": "*",
                "type": "Observation",
                "documentation": "A HER2 IHC or ISH result (system level).",
            },
            {
                "name": "bundle",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "Bundle",
                "documentation": "A Bundle of results, reports, specimens and conditions "
                "(system level).",
            },
            {
                "name": "tumorSite",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "code",
                "documentation": "breast | gastroesophageal | other; overrides site resolution.",
            },
            {
                "name": "persist",
                "use": "in",
                "min": 0,
                "max": "1",
                "type": "boolean",
                "documentation": "Patient level: write the results back (default true when a "
                "server is configured).",
            },
            {
                "name": "return",
                "use": "out",
                "min": 1,
                "max": "1",
                "type": "Bundle",
                "documentation": "A collection Bundle: per specimen group its status Observation, "
                "its therapy List when one applies, its Provenance, and an OperationOutcome when "
                "inputs were skipped or flagged.",
            },
        ],
    }


def capability_statement(base_url: str = "[base]") -> dict[str, Any]:
    """The service's CapabilityStatement, naming the operation."""
    op = {"name": "her2-status", "definition": f"{CANONICAL}/OperationDefinition/her2-status"}
    return {
        **_conformance(
            "CapabilityStatement",
            "her2-status-service",
            "her2-status service",
            "The her2-status service: the $her2-status operation and its definition.",
        ),
        "date": "2026-11-25",
        "kind": "instance",
        "software": {"name": "her2-status", "version": IG_VERSION},
        "implementation": {"description": "her2-status HER2 derivation service", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {"type": "Patient", "operation": [op]},
                    {"type": "OperationDefinition", "interaction": [{"code": "read"}]},
                ],
                "operation": [op],
            }
        ],
    }


def all_resources() -> dict[str, dict[str, Any]]:
    """Every conformance resource of the guide, by file name."""
    resources = [
        *structure_definitions(),
        *code_systems(),
        *value_sets(),
        operation_definition(),
        capability_statement(),
    ]
    return {f"{r['resourceType']}-{r['id']}.json": r for r in resources}

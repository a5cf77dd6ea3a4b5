"""Reading HER2 results from FHIR into rule inputs (fhir-contract.md sections 1-4).

Lenient by design: every entry is read on its own, problems become located
issues, and the rest of the request is still read.  One rule overrides
leniency: an entry that is recognisably a HER2 input (its code is one of
section 1) but cannot be read makes its specimen fail closed, because deriving
from the rest could turn a broken ratio into a confident result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, DivisionByZero, Inexact, InvalidOperation, localcontext
from typing import Any, Final

from service.fhir.codes import (
    ANSWERS,
    BREAST_SPECIFIC,
    COPY_UNITS,
    CS_ISH_ASSAY,
    DATA_ABSENT_REASON,
    EXT_ISH_COUNT_ROLE,
    ISH_VALUE_KINDS,
    RATIO_UNITS,
    SID_STATUS,
    Answer,
    CodeMap,
    Kind,
)
from service.fhir.envelope import Envelope, Node, read_envelope, reference_key
from service.fhir.issues import Issue, Severity
from service.her2 import IshInput, PriorResult, Site, SpecimenInput
from service.her2.inputs import date_from, ihc_call_from, ihc_score_from, ish_from, prior_from

USABLE_FINAL: Final = frozenset({"final", "amended", "corrected"})
USABLE_PRELIMINARY: Final = frozenset({"preliminary", "unknown"})
IGNORED_STATUSES: Final = frozenset({"registered", "cancelled"})
WITHDRAWN: Final = "entered-in-error"
_VALUE_KEYS: Final = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)


class _Malformed:
    """A value that cannot be trusted; the rules turn it into ``invalid_type``."""

    def __repr__(self) -> str:
        return "MALFORMED"


MALFORMED: Final = _Malformed()


@dataclass
class Fact:
    """One HER2 input Observation, with what grouping needs to know about it."""

    node: Node
    kind: Kind
    order: int
    subject: str | None = None
    specimen: str | None = None  # the grouping specimen: the top parent when known
    tissue: str | None = None  # the Observation's own specimen
    report: str | None = None
    effective: dt.datetime | None = None
    effective_text: str | None = None
    final: bool = True
    members: list[Fact] = field(default_factory=list)

    @property
    def recount(self) -> bool:
        """Whether the count-role extension marks a blinded recount."""
        for ext in _list(self.node.resource.get("extension")):
            if isinstance(ext, dict) and ext.get("url") == EXT_ISH_COUNT_ROLE:
                return ext.get("valueCode") == "blinded-recount"
        return False

    @property
    def sort_key(self) -> tuple[dt.datetime, int]:
        """Order by effective time, then by position in the request."""
        return (self.effective or _EPOCH, self.order)


@dataclass
class SpecimenGroup:
    """One specimen group (contract section 3) and the rule input read from it.

    Attributes:
        subject: the subject reference key (e.g. ``Patient/123``), if any.
        key: the group key (specimen, report, or earliest input).
        site: the resolved tumour site, or None when unknown.
        site_basis: how the site was resolved (for the note).
        specimen: the Specimen reference when every input names the same one.
        spec: the rules' input.
        used: the input Observations used (for derivedFrom and Provenance).
        withdrawn: inputs of this group marked entered-in-error.
        notes: plain-language notes (superseded results, failed tests).
        field_paths: rule-input field → FHIRPath of the value it came from.
        effective_text: the latest effective time of the inputs used.
    """

    subject: str | None
    key: str
    site: Site | None
    site_basis: str
    specimen: str | None
    spec: SpecimenInput
    used: list[Node]
    withdrawn: list[Node]
    notes: list[str]
    field_paths: dict[str, str]
    effective_text: str | None


@dataclass
class Reading:
    """Everything read from one request."""

    groups: list[SpecimenGroup]
    issues: list[Issue]
    envelope: Envelope


_EPOCH: Final = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _codings(concept: object) -> list[tuple[str, str]]:
    if not isinstance(concept, dict):
        return []
    return [
        (c["system"], c["code"].strip())
        for c in _list(concept.get("coding"))
        if isinstance(c, dict)
        and isinstance(c.get("system"), str)
        and isinstance(c.get("code"), str)
    ]


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _effective(resource: dict[str, Any]) -> tuple[dt.datetime | None, str | None]:
    for key in ("effectiveDateTime", "effectiveInstant"):
        if isinstance(resource.get(key), str):
            return _parse_time(resource[key]), resource[key]
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and isinstance(period.get("start"), str):
        return _parse_time(period["start"]), period["start"]
    if isinstance(resource.get("issued"), str):
        return _parse_time(resource["issued"]), resource["issued"]
    return None, None


def _value_key(resource: dict[str, Any]) -> str | None:
    present = [k for k in _VALUE_KEYS if k in resource]
    return present[0] if len(present) == 1 else None


def _assay_failed(resource: dict[str, Any]) -> bool:
    return (DATA_ABSENT_REASON, "error") in _codings(resource.get("dataAbsentReason"))


class _Reader:
    """One request's reading state."""

    def __init__(self, envelope: Envelope, code_map: CodeMap, window: dt.timedelta) -> None:
        self.env = envelope
        self.codes = code_map
        self.window = window
        self.issues: list[Issue] = list(envelope.issues)

    def warn(self, diagnostics: str, where: str | None, code: str = "informational") -> None:
        self.issues.append(Issue(Severity.WARNING, code, diagnostics, where))

    def inform(self, diagnostics: str, where: str | None) -> None:
        self.issues.append(Issue(Severity.INFORMATION, "informational", diagnostics, where))

    # --- classification ---------------------------------------------------

    def kind_of(self, node: Node) -> Kind | None:
        kinds = {self.codes.kind_of(s, c) for s, c in _codings(node.resource.get("code"))}
        kinds.discard(None)
        if len(kinds) > 1:
            self.warn(
                "Observation.code carries codings of different HER2 meanings; not used.",
                f"{node.path}.code",
                "code-invalid",
            )
            return None
        return next(iter(kinds), None)

    def classify(self) -> tuple[list[Fact], list[Fact], list[Node]]:
        """Sort the request's Observations into inputs, prior interpretations, withdrawn."""
        inputs: list[Fact] = []
        priors: list[Fact] = []
        withdrawn: list[Node] = []
        for order, node in enumerate(self.env.nodes):
            if node.type != "Observation":
                if not node.valid:
                    self._skip_malformed(node)
                continue
            kind = self.kind_of(node)
            if kind is None:
                if not node.valid:
                    self._skip_malformed(node)
                else:
                    self.inform("Not a HER2 IHC/ISH result; not used.", f"{node.path}.code")
                continue
            if kind is Kind.NOT_IHC_ISH:
                self.warn(
                    "HER2-related test that is not IHC or ISH (e.g. serum HER2); "
                    "never used for HER2 status.",
                    f"{node.path}.code",
                )
                continue
            raw_status = node.resource.get("status")
            status = raw_status if isinstance(raw_status, str) else ""
            if kind is Kind.INTERPRETATION:
                if self._is_own_output(node):
                    self.inform("The service's own earlier result; skipped.", node.path)
                elif node.valid and status in USABLE_FINAL | USABLE_PRELIMINARY:
                    priors.append(self.fact(node, kind, order))
                continue
            if status == WITHDRAWN:
                withdrawn.append(node)
                self.inform("Input marked entered-in-error; not used.", f"{node.path}.status")
                continue
            if status in IGNORED_STATUSES:
                self.inform(f"Input with status {status}; not used.", f"{node.path}.status")
                continue
            fact = self.fact(node, kind, order)
            # A broken HER2 input fails its specimen closed; say exactly what is broken.
            self.issues.extend(node.problems)
            if node.valid and status not in USABLE_FINAL | USABLE_PRELIMINARY:
                node.problems.append(
                    Issue(
                        Severity.ERROR,
                        "code-invalid",
                        "Observation.status is not an R4 status code.",
                        f"{node.path}.status",
                    )
                )
            if status == "unknown":
                self.warn(
                    "Input with status 'unknown': used, but the result is preliminary.",
                    f"{node.path}.status",
                )
            fact.final = status in USABLE_FINAL
            inputs.append(fact)
        return inputs, priors, withdrawn

    def _skip_malformed(self, node: Node) -> None:
        self.issues.extend(
            Issue(Severity.WARNING, p.code, p.diagnostics + " (entry skipped)", p.expression)
            for p in node.problems
        )

    def _is_own_output(self, node: Node) -> bool:
        return any(
            isinstance(i, dict) and i.get("system") == SID_STATUS
            for i in _list(node.resource.get("identifier"))
        )

    def fact(self, node: Node, kind: Kind, order: int) -> Fact:
        resource = node.resource
        effective, text = _effective(resource)
        tissue = self.subject_key(resource.get("specimen"), node, "Specimen")
        return Fact(
            node=node,
            kind=kind,
            order=order,
            subject=self.subject_key(resource.get("subject"), node),
            specimen=self.case_specimen(resource.get("specimen"), node),
            tissue=tissue,
            effective=effective,
            effective_text=text,
        )

    def case_specimen(self, reference: object, origin: Node) -> str | None:
        """The specimen that defines the group: the top ``Specimen.parent`` in the request.

        Blocks or portions of one specimen (children of one parent) form one group,
        so that the rules can see that an IHC was not done on the ISH tissue.
        """
        key = self.subject_key(reference, origin, "Specimen")
        node, _ = self.env.resolve(reference, origin, "Specimen")
        seen: set[int] = set()
        while node is not None and node.valid and id(node) not in seen:
            seen.add(id(node))
            parents = _list(node.resource.get("parent"))
            if len(parents) != 1:
                break
            key = self.subject_key(parents[0], node, "Specimen") or key
            node, _ = self.env.resolve(parents[0], node, "Specimen")
        return key

    def subject_key(
        self, reference: object, origin: Node, expected: str | None = None
    ) -> str | None:
        """A stable key for a referenced subject or specimen: ``Type/id`` when known."""
        target, _ = self.env.resolve(reference, origin, expected)
        if target is not None and target.id:
            return f"{target.type}/{target.id}"
        return reference_key(reference)

    # --- structure: panels, members, reports --------------------------------

    def link(self, facts: list[Fact]) -> list[Fact]:
        """Attach hasMember members to their panels; return the top-level facts."""
        by_node = {id(f.node): f for f in facts}
        consumed: set[int] = set()
        for fact in facts:
            if fact.kind not in (Kind.ISH, Kind.ISH_PANEL):
                continue
            for index, member_ref in enumerate(_list(fact.node.resource.get("hasMember"))):
                target, _ = self.env.resolve(member_ref, fact.node, "Observation")
                member: Fact | None = by_node.get(id(target)) if target is not None else None
                if member is None or member is fact or id(member.node) in consumed:
                    if target is None:
                        self.warn(
                            "Panel member not included in the request; not read.",
                            f"{fact.node.path}.hasMember[{index}]",
                        )
                    continue
                if member.kind not in ISH_VALUE_KINDS | {Kind.ISH}:
                    continue
                consumed.add(id(member.node))
                fact.members.append(member)
        for report in self.env.of_type("DiagnosticReport"):
            if not report.valid:
                continue
            report_key = f"DiagnosticReport/{report.id}" if report.id else report.path
            specimens = _list(report.resource.get("specimen"))
            report_specimen = (
                self.subject_key(specimens[0], report, "Specimen") if len(specimens) == 1 else None
            )
            for result_ref in _list(report.resource.get("result")):
                target, _ = self.env.resolve(result_ref, report, "Observation")
                result_fact = by_node.get(id(target)) if target is not None else None
                if result_fact is None:
                    continue
                for part in (result_fact, *result_fact.members):
                    part.report = part.report or report_key
                    part.specimen = part.specimen or report_specimen
                    part.tissue = part.tissue or report_specimen
                    if part.subject is None:
                        part.subject = self.subject_key(report.resource.get("subject"), report)
        for fact in facts:
            for member in fact.members:
                member.specimen = member.specimen or fact.specimen
                member.tissue = member.tissue or fact.tissue
                member.report = member.report or fact.report
                member.subject = member.subject or fact.subject
        return [f for f in facts if id(f.node) not in consumed]

    # --- grouping (section 3) ---------------------------------------------

    def group(self, facts: list[Fact]) -> list[tuple[str | None, str, list[Fact]]]:
        """Group facts per subject into specimen groups, in a deterministic order."""
        groups: dict[tuple[str | None, str], list[Fact]] = {}
        dated: dict[str | None, list[Fact]] = {}
        for fact in facts:
            if fact.specimen:
                groups.setdefault((fact.subject, f"specimen:{fact.specimen}"), []).append(fact)
            elif fact.report:
                groups.setdefault((fact.subject, f"report:{fact.report}"), []).append(fact)
            elif fact.effective is None:
                groups.setdefault((fact.subject, "undated"), []).append(fact)
            else:
                dated.setdefault(fact.subject, []).append(fact)
        for subject, subject_facts in dated.items():
            cluster: list[Fact] = []
            for fact in sorted(subject_facts, key=lambda f: f.sort_key):
                assert fact.effective is not None
                start = cluster[0].effective if cluster else None
                if start is not None and fact.effective - start > self.window:
                    groups[(subject, _window_key(cluster))] = cluster
                    cluster = []
                cluster.append(fact)
            if cluster:
                groups[(subject, _window_key(cluster))] = cluster
        return [
            (s, k, v)
            for (s, k), v in sorted(groups.items(), key=lambda i: (i[0][0] or "", i[0][1]))
        ]


def _window_key(cluster: list[Fact]) -> str:
    first = cluster[0].node
    return f"window:{first.reference() or first.path}"


# --- values (section 2) --------------------------------------------------------


@dataclass
class _Ihc:
    score: object = None
    call: object = None
    assessed: bool = True
    failed: bool = False
    path: str | None = None


def read_ihc(node: Node, issues: list[Issue]) -> _Ihc:
    """An IHC Observation's value (contract sections 1-2)."""
    resource = node.resource
    if not node.valid:
        return _Ihc(score=MALFORMED, path=node.path)
    if _assay_failed(resource):
        return _Ihc(failed=True, path=f"{node.path}.dataAbsentReason")
    key = _value_key(resource)
    path = f"{node.path}.{key}" if key else node.path
    value = resource.get(key) if key else None
    if key == "valueCodeableConcept":
        answers = {ANSWERS[c] for c in _codings(value) if c in ANSWERS}
        if Answer.INDETERMINATE in answers:
            return _Ihc(failed=True, path=path)
        scores = answers & {Answer.IHC_0, Answer.IHC_1, Answer.IHC_2, Answer.IHC_3}
        zero_detail = answers & {Answer.ZERO_NULL, Answer.ZERO_ULTRALOW}
        calls = answers & {Answer.POSITIVE, Answer.NEGATIVE, Answer.EQUIVOCAL}
        if len(scores) > 1 or len(zero_detail) > 1 or (scores - {Answer.IHC_0} and zero_detail):
            issues.append(Issue(Severity.ERROR, "value", "Contradictory IHC answer codings.", path))
            return _Ihc(score=MALFORMED, path=path)
        if zero_detail:
            detail = zero_detail.pop()
            return _Ihc(score="0-ultralow" if detail is Answer.ZERO_ULTRALOW else "0", path=path)
        if scores:
            score = scores.pop().value
            # Plain LA6111-4: IHC 0 whose null-vs-ultralow pattern was not assessed.
            return _Ihc(score=score, assessed=score != "0", path=path)
        if len(calls) == 1:
            return _Ihc(call=calls.pop().value, path=path)
        issues.append(
            Issue(
                Severity.WARNING,
                "code-unknown",
                "The IHC answer is not a score nor Positive/Equivocal/Negative; it is not a "
                "usable IHC result and is treated as absent.",
                path,
            )
        )
        return _Ihc(path=path)
    if key == "valueString" and isinstance(value, str):
        text = "".join(value.split())
        return _Ihc(score=text, assessed=text != "0", path=path)
    if key == "valueInteger" and isinstance(value, int) and not isinstance(value, bool):
        score = {0: "0", 1: "1+", 2: "2+", 3: "3+"}.get(value, str(value))
        return _Ihc(score=score, assessed=value != 0, path=path)
    if key is None:
        issues.append(
            Issue(Severity.WARNING, "incomplete", "IHC result without a value; not used.", path)
        )
        return _Ihc(path=path)
    issues.append(Issue(Severity.ERROR, "value", f"An IHC result cannot be a {key[5:]}.", path))
    return _Ihc(score=MALFORMED, path=path)


def read_number(holder: dict[str, Any], kind: Kind, path: str, issues: list[Issue]) -> object:
    """A ratio, copy number or cell count from an Observation or a component."""
    key = _value_key(holder)
    if key is None:
        return None
    where = f"{path}.{key}"
    value = holder[key]
    if key == "valueQuantity" and isinstance(value, dict):
        number = value.get("value")
        unit = value.get("code") if isinstance(value.get("code"), str) else value.get("unit")
        allowed = RATIO_UNITS if kind is Kind.RATIO else COPY_UNITS | {"{cells}", "cells"}
        if unit is not None and unit not in allowed:
            issues.append(Issue(Severity.ERROR, "value", "The unit does not fit the code.", where))
            return MALFORMED
        comparator = value.get("comparator")
        if comparator is not None:
            if kind is Kind.RATIO and isinstance(number, Decimal | int):
                # A bound, not a measurement: the rules read it as a lab call.
                return f"{comparator} {number}"
            issues.append(Issue(Severity.ERROR, "value", "A bounded value is not a count.", where))
            return MALFORMED
        return number if isinstance(number, Decimal | int) else MALFORMED
    if key == "valueRatio" and kind is Kind.RATIO and isinstance(value, dict):
        return _ratio_value(value, where, issues)
    if key == "valueInteger" and isinstance(value, int):
        return value
    if key == "valueString" and isinstance(value, str):
        return value
    issues.append(
        Issue(Severity.ERROR, "value", f"A {key[5:]} value does not fit the code.", where)
    )
    return MALFORMED


def _ratio_value(value: dict[str, Any], where: str, issues: list[Issue]) -> object:
    numerator = (
        value.get("numerator", {}).get("value")
        if isinstance(value.get("numerator"), dict)
        else None
    )
    denominator = (
        value.get("denominator", {}).get("value")
        if isinstance(value.get("denominator"), dict)
        else None
    )
    if not isinstance(numerator, Decimal | int) or not isinstance(denominator, Decimal | int):
        return MALFORMED
    if denominator == 0:
        issues.append(Issue(Severity.ERROR, "value", "The ratio's denominator is 0.", where))
        return Decimal(0)  # the rules reject a zero ratio as invalid_value
    with localcontext() as ctx:
        # 50 digits: exact for every ratio a lab reports; a non-terminating
        # quotient is off by < 1e-49, far below any reported precision.
        ctx.prec = 50
        ctx.traps[Inexact] = False
        try:
            return Decimal(numerator) / Decimal(denominator)
        except (InvalidOperation, DivisionByZero):
            return MALFORMED


_ISH_WORDS: Final = {
    "amplified": "amplified",
    "notamplified": "not-amplified",
    "nonamplified": "not-amplified",
    "positive": "amplified",
    "negative": "not-amplified",
    "equivocal": "equivocal",
}


@dataclass
class _IshParts:
    probe: object = None
    ratio: object = None
    her2: object = None
    cep17: object = None
    cells: object = None
    call: object = None
    failed: bool = False
    final: bool = True
    paths: dict[str, str] = field(default_factory=dict)
    sources: list[Fact] = field(default_factory=list)

    def usable(self) -> bool:
        return any(
            v is not None for v in (self.ratio, self.her2, self.cep17, self.cells, self.call)
        )

    def to_input(self) -> IshInput:
        # The typed boundary: each reported value is converted once, here.
        return ish_from(
            probe=self.probe,
            her2_cep17_ratio=self.ratio,
            avg_her2_copies=self.her2,
            avg_cep17_copies=self.cep17,
            cells_counted=self.cells,
            lab_call=self.call,
            final=self.final,
        )


_FIELD_OF: Final = {
    Kind.RATIO: "ratio",
    Kind.AVG_HER2: "her2",
    Kind.AVG_CEP17: "cep17",
    Kind.CELLS: "cells",
}
_ENGINE_FIELD: Final = {
    "ratio": "her2_cep17_ratio",
    "her2": "avg_her2_copies",
    "cep17": "avg_cep17_copies",
    "cells": "cells_counted",
    "call": "lab_call",
    "probe": "probe",
}


def _add_ish_fact(parts: _IshParts, fact: Fact, reader: _Reader) -> None:
    node, resource = fact.node, fact.node.resource
    parts.sources.append(fact)
    parts.final = parts.final and fact.final
    for coding in _codings(resource.get("method")):
        if coding[0] == CS_ISH_ASSAY:
            parts.probe = {"dual-probe": "dual", "single-probe": "single"}.get(coding[1], coding[1])
            parts.paths["probe"] = f"{node.path}.method"
    if not node.valid:
        slot = _FIELD_OF.get(fact.kind, "ratio")
        setattr(parts, slot, MALFORMED)
        parts.paths[slot] = node.path
        return
    if _assay_failed(resource):
        parts.failed = True
        return
    if fact.kind in ISH_VALUE_KINDS:
        _set(
            parts,
            _FIELD_OF[fact.kind],
            read_number(resource, fact.kind, node.path, reader.issues),
            _value_path(resource, node.path),
        )
    elif fact.kind is Kind.ISH:
        _read_ish_call(parts, node, reader.issues)
    for index, component in enumerate(_list(resource.get("component"))):
        if not isinstance(component, dict):
            continue
        cpath = f"{node.path}.component[{index}]"
        kinds = {reader.codes.kind_of(s, c) for s, c in _codings(component.get("code"))} - {None}
        kind = next(iter(kinds)) if len(kinds) == 1 else None
        if kind in ISH_VALUE_KINDS:
            assert kind is not None
            _set(
                parts,
                _FIELD_OF[kind],
                read_number(component, kind, cpath, reader.issues),
                _value_path(component, cpath),
            )
        elif kind is Kind.ISH:
            _read_ish_call(parts, Node(component, cpath), reader.issues)
    for member in fact.members:
        _add_ish_fact(parts, member, reader)


def _value_path(holder: dict[str, Any], path: str) -> str:
    key = _value_key(holder)
    return f"{path}.{key}" if key else path


def _set(parts: _IshParts, slot: str, value: object, path: str) -> None:
    if value is None:
        return
    setattr(parts, slot, value)
    parts.paths[slot] = path


def _read_ish_call(parts: _IshParts, node: Node, issues: list[Issue]) -> None:
    resource = node.resource
    key = _value_key(resource)
    if key is None:
        return
    path = f"{node.path}.{key}"
    value = resource[key]
    if key == "valueCodeableConcept":
        answers = {ANSWERS[c] for c in _codings(value) if c in ANSWERS}
        if Answer.INDETERMINATE in answers:
            parts.failed = True
            return
        calls = {_ISH_WORDS[a.value] for a in answers if a.value in _ISH_WORDS}
        if len(calls) == 1:
            _set(parts, "call", calls.pop(), path)
            return
        issues.append(
            Issue(Severity.WARNING, "code-unknown", "ISH answer not recognised; not used.", path)
        )
        return
    if key == "valueString" and isinstance(value, str):
        word = "".join(ch for ch in value.lower() if ch.isalpha())
        if word in _ISH_WORDS:
            _set(parts, "call", _ISH_WORDS[word], path)
        else:
            # Legacy text ("greater than 2.2") is a ratio bound: the rules decide
            # whether it is an unambiguous call; other text fails closed.
            _set(parts, "ratio", value, path)
        return
    issues.append(Issue(Severity.ERROR, "value", f"An ISH result cannot be a {key[5:]}.", path))
    _set(parts, "call", MALFORMED, path)


# --- sites (section 4) -----------------------------------------------------------


def _sites_of_concepts(concepts: Iterable[object], codes: CodeMap) -> set[Site]:
    found: set[Site] = set()
    for concept in concepts:
        for system, code in _codings(concept):
            site = codes.site_of(system, code)
            if site is not None:
                found.add(site)
    return found


def resolve_site(reader: _Reader, facts: list[Fact]) -> tuple[Site | None, str]:
    """The tumour site of a group, in the order of contract section 4."""
    if reader.env.tumor_site:
        return Site(reader.env.tumor_site), "the tumorSite parameter"
    everything = [p for f in facts for p in (f, *f.members)]
    for fact in everything:
        for system, code in _codings(fact.node.resource.get("code")):
            if code in BREAST_SPECIFIC and reader.codes.kind_of(system, code) is not None:
                return Site.BREAST, "a breast-specific test code"
    body: set[Site] = set()
    for fact in everything:
        body |= _sites_of_concepts([fact.node.resource.get("bodySite")], reader.codes)
        specimen, _ = reader.env.resolve(fact.node.resource.get("specimen"), fact.node, "Specimen")
        if specimen is not None and specimen.valid:
            collection = specimen.resource.get("collection")
            if isinstance(collection, dict):
                body |= _sites_of_concepts([collection.get("bodySite")], reader.codes)
    if len(body) == 1:
        return body.pop(), "the body site of the specimen"
    if len(body) > 1:
        reader.warn("The inputs name body sites of different rule sets.", None)
        return None, "conflicting body sites"
    conditions: set[Site] = set()
    focused = False
    for fact in everything:
        for ref in _list(fact.node.resource.get("focus")):
            condition, _ = reader.env.resolve(ref, fact.node, "Condition")
            if condition is not None and condition.valid:
                focused = True
                conditions |= _condition_sites(condition, reader.codes)
    if not focused:
        subjects = {f.subject for f in everything}
        for condition in reader.env.of_type("Condition"):
            if (
                condition.valid
                and reader.subject_key(condition.resource.get("subject"), condition) in subjects
            ):
                conditions |= _condition_sites(condition, reader.codes)
    if len(conditions) == 1:
        return conditions.pop(), "the primary cancer Condition"
    if len(conditions) > 1:
        reader.warn("The patient's cancer Conditions name different rule sets.", None)
        return None, "conflicting Conditions"
    return None, "no site information"


def _condition_sites(condition: Node, codes: CodeMap) -> set[Site]:
    resource = condition.resource
    return _sites_of_concepts([resource.get("code"), *_list(resource.get("bodySite"))], codes)


# --- assembling a group -------------------------------------------------------------


def _latest(facts: list[Fact]) -> tuple[Fact | None, list[Fact]]:
    ordered = sorted(facts, key=lambda f: f.sort_key)
    return (ordered[-1], ordered[:-1]) if ordered else (None, [])


def _assemble(reader: _Reader, subject: str | None, key: str, facts: list[Fact]) -> SpecimenGroup:
    notes: list[str] = []
    paths: dict[str, str] = {}
    used: list[Node] = []
    final = True

    ihc_facts = [f for f in facts if f.kind is Kind.IHC]
    broken_ihc = [f for f in ihc_facts if not f.node.valid]
    ihc_fact, superseded = (broken_ihc[0], []) if broken_ihc else _latest(ihc_facts)
    for old in superseded:
        notes.append(f"An earlier IHC result ({old.effective_text or 'undated'}) was superseded.")
    ihc = _Ihc()
    if ihc_fact is not None:
        ihc = read_ihc(ihc_fact.node, reader.issues)
        used.append(ihc_fact.node)
        final = final and ihc_fact.final
        if ihc.path:
            paths["ihc_score"] = ihc.path
        if ihc.failed:
            notes.append("The IHC test failed technically (no result).")

    records: dict[bool, list[_IshParts]] = {False: [], True: []}
    loose: dict[bool, _IshParts] = {}
    for fact in facts:
        if fact.kind is Kind.IHC:
            continue
        parts: _IshParts
        if fact.kind is Kind.ISH_PANEL or fact.members or fact.node.resource.get("component"):
            parts = _IshParts()
            records[fact.recount].append(parts)
        else:
            if fact.recount not in loose:
                loose[fact.recount] = _IshParts()
                records[fact.recount].append(loose[fact.recount])
            parts = loose[fact.recount]
        _add_ish_fact(parts, fact, reader)

    chosen: dict[bool, _IshParts | None] = {}
    for role, role_records in records.items():
        broken = [r for r in role_records if any(v is MALFORMED for v in vars(r).values())]
        candidates = broken or [r for r in role_records if r.usable() or r.failed]
        candidates.sort(key=lambda r: max(f.sort_key for f in r.sources))
        chosen[role] = candidates[-1] if candidates else None
        notes.extend(
            f"An earlier ISH {'recount' if role else 'count'} was superseded."
            for _ in candidates[:-1]
        )
    failed_ish = [r for r in chosen.values() if r is not None and r.failed and not r.usable()]
    if failed_ish:
        notes.append("An ISH test failed technically (no result).")

    ish_inputs: dict[bool, IshInput | None] = {}
    for role, parts_or_none in chosen.items():
        if parts_or_none is None or not parts_or_none.usable():
            ish_inputs[role] = None
            continue
        prefix = "ish_recount" if role else "ish"
        for slot, path in parts_or_none.paths.items():
            paths[f"{prefix}.{_ENGINE_FIELD[slot]}"] = path
        paths.setdefault(prefix, parts_or_none.sources[0].node.path)
        used.extend(f.node for f in parts_or_none.sources)
        used.extend(m.node for f in parts_or_none.sources for m in f.members)
        final = final and parts_or_none.final
        ish_inputs[role] = parts_or_none.to_input()

    ihc_present = ihc.score is not None or ihc.call is not None
    all_failed = (
        (ihc.failed or bool(failed_ish)) and not ihc_present and not any(ish_inputs.values())
    )
    ihc_tissue = ihc_fact.tissue if ihc_fact is not None else None
    ish_tissues = {
        f.tissue for p in chosen.values() if p is not None for f in p.sources if f.tissue
    }
    # IHC on another block or portion than the ISH (contract section 3, README).
    same_tissue = ihc_tissue is None or not ish_tissues or ish_tissues == {ihc_tissue}
    if not same_tissue:
        notes.append("The IHC was done on a different specimen than the ISH.")
    site, basis = resolve_site(reader, facts)
    specimens = {p.tissue for f in facts for p in (f, *f.members)}
    used_unique = list({id(n): n for n in used}.values())
    times = [f for f in facts if f.effective is not None]
    latest = max(times, key=lambda f: f.sort_key).effective_text if times else None
    spec = SpecimenInput(
        site=site,
        ihc_score=ihc_score_from(ihc.score),
        ihc0_ultralow_assessed=ihc.assessed,
        ihc_call=ihc_call_from(ihc.call),
        ihc_final=final,
        ihc_same_specimen=same_tissue,
        ish=ish_inputs.get(False),
        ish_recount=ish_inputs.get(True),
        assay_failed=all_failed,
        collected=date_from(latest),
    )
    return SpecimenGroup(
        subject=subject,
        key=key,
        site=site,
        site_basis=basis,
        specimen=specimens.pop() if len(specimens) == 1 else None,
        spec=spec,
        used=used_unique,
        withdrawn=[],
        notes=notes,
        field_paths=paths,
        effective_text=latest,
    )


def _prior(fact: Fact) -> PriorResult | None:
    key = _value_key(fact.node.resource)
    if key != "valueCodeableConcept":
        return None
    answers = {ANSWERS[c] for c in _codings(fact.node.resource[key]) if c in ANSWERS}
    statuses = answers & {Answer.POSITIVE, Answer.NEGATIVE, Answer.EQUIVOCAL, Answer.INDETERMINATE}
    if len(statuses) != 1:
        return None
    return prior_from(status=statuses.pop().value, date=fact.effective_text)


def read_inputs(
    payload: object,
    code_map: CodeMap | None = None,
    window: dt.timedelta = dt.timedelta(days=30),
) -> Reading:
    """Read a request into specimen groups of rule inputs.

    Args:
        payload: the request body, parsed with ``parse_float=Decimal``.
        code_map: the recognised codes (defaults plus a site's local table).
        window: how far apart the effective times of one group may lie when
            neither a specimen nor a report ties the inputs together.

    Returns:
        The groups (possibly none) and every issue found.

    Raises:
        EnvelopeError: when the payload is not a readable request at all.
    """
    envelope = read_envelope(payload)
    reader = _Reader(envelope, code_map or CodeMap(), window)
    inputs, prior_facts, withdrawn = reader.classify()
    top = reader.link(inputs)
    groups = []
    for subject, key, facts in reader.group(top):
        group = _assemble(reader, subject, key, facts)
        priors = tuple(
            p
            for f in prior_facts
            if f.subject == subject and (f.specimen is None or f.specimen != group.specimen)
            for p in [_prior(f)]
            if p is not None
        )
        if priors:
            group.spec = SpecimenInput(**{**vars(group.spec), "prior_results": priors})
        group.withdrawn = [
            n
            for n in withdrawn
            if reader.subject_key(n.resource.get("subject"), n) == subject
            and (
                group.specimen is None
                or reader.subject_key(n.resource.get("specimen"), n, "Specimen")
                in (None, group.specimen)
            )
        ]
        groups.append(group)
    return Reading(groups, reader.issues, envelope)

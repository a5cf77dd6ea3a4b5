"""ISH assembly: one ISH count (and one blinded recount) per specimen group.

An ISH result arrives as one Observation, as separate ratio / average / cell-count
Observations, as a panel with members, or as components.  The parts of one count
are collected into :class:`IshParts`; per role (first count, recount) the latest
count is chosen and handed to the rules as an ``IshInput``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from service.fhir.codes import CS_ISH_ASSAY, ISH_VALUE_KINDS, Kind
from service.fhir.context import ReadContext
from service.fhir.elements import as_list, assay_failed, codings, value_path
from service.fhir.envelope import Node
from service.fhir.facts import MALFORMED, Fact
from service.fhir.values import FAILED, read_ish_call, read_number
from service.her2 import IshInput
from service.her2.inputs import ish_from

_FIELD_OF: Final = {
    Kind.RATIO: "ratio",
    Kind.AVG_HER2: "her2",
    Kind.AVG_CEP17: "cep17",
    Kind.CELLS: "cells",
}
# IshParts slot → the rules' field name (for the error locations of field_paths).
ENGINE_FIELD: Final = {
    "ratio": "her2_cep17_ratio",
    "her2": "avg_her2_copies",
    "cep17": "avg_cep17_copies",
    "cells": "cells_counted",
    "call": "lab_call",
    "probe": "probe",
}


@dataclass
class IshParts:
    """The parts of one ISH count read so far, with where each came from."""

    probe: object = None
    ratio: object = None
    her2: object = None
    cep17: object = None
    cells: object = None
    call: object = None
    failed: bool = False
    absent: bool = False  # a dataAbsentReason other than error: the test was not done
    final: bool = True
    paths: dict[str, str] = field(default_factory=dict)
    sources: list[Fact] = field(default_factory=list)

    def usable(self) -> bool:
        """Whether anything the rules can read was found."""
        return any(
            v is not None for v in (self.ratio, self.her2, self.cep17, self.cells, self.call)
        )

    def broken(self) -> bool:
        """Whether a part cannot be trusted (the specimen fails closed)."""
        return any(v is MALFORMED for v in (self.probe, *self.values()))

    def values(self) -> tuple[object, ...]:
        """The measured parts and the lab call."""
        return (self.ratio, self.her2, self.cep17, self.cells, self.call)

    def present_but_empty(self) -> bool:
        """An ISH result that is there but carries nothing usable (rules section 3.7).

        Not a failed assay and not a test reported as not done (dataAbsentReason):
        those are a technical failure and an absent test, respectively.
        """
        return bool(self.sources) and not (self.usable() or self.failed or self.absent)

    def to_input(self) -> IshInput:
        """The rules' input: each reported value converted once, at the typed boundary."""
        return ish_from(
            probe=self.probe,
            her2_cep17_ratio=self.ratio,
            avg_her2_copies=self.her2,
            avg_cep17_copies=self.cep17,
            cells_counted=self.cells,
            lab_call=self.call,
            final=self.final,
        )


def add_ish_fact(parts: IshParts, fact: Fact, ctx: ReadContext) -> None:
    """Read one ISH-family Observation (and its components and members) into ``parts``."""
    node, resource = fact.node, fact.node.resource
    parts.sources.append(fact)
    parts.final = parts.final and fact.final
    for system, code in codings(resource.get("method")):
        if system == CS_ISH_ASSAY:
            parts.probe = {"dual-probe": "dual", "single-probe": "single"}.get(code, code)
            parts.paths["probe"] = f"{node.path}.method"
    if not node.valid:
        slot = _FIELD_OF.get(fact.kind, "ratio")
        setattr(parts, slot, MALFORMED)
        parts.paths[slot] = node.path
        return
    if assay_failed(resource):
        parts.failed = True
        return
    if "dataAbsentReason" in resource:
        parts.absent = True
    if fact.kind in ISH_VALUE_KINDS:
        number = read_number(resource, fact.kind, node.path, ctx.issues)
        _set(parts, _FIELD_OF[fact.kind], number, value_path(resource, node.path))
    elif fact.kind is Kind.ISH:
        _add_call(parts, node, ctx)
    for index, component in enumerate(as_list(resource.get("component"))):
        if not isinstance(component, dict):
            continue
        cpath = f"{node.path}.component[{index}]"
        kinds = {ctx.codes.kind_of(s, c) for s, c in codings(component.get("code"))} - {None}
        kind = next(iter(kinds)) if len(kinds) == 1 else None
        if kind is not None and kind in ISH_VALUE_KINDS:
            number = read_number(component, kind, cpath, ctx.issues)
            _set(parts, _FIELD_OF[kind], number, value_path(component, cpath))
        elif kind is Kind.ISH:
            _add_call(parts, Node(component, cpath), ctx)
    for member in fact.members:
        add_ish_fact(parts, member, ctx)


def _add_call(parts: IshParts, node: Node, ctx: ReadContext) -> None:
    found = read_ish_call(node, ctx.issues)
    if found == FAILED:
        parts.failed = True
    elif isinstance(found, tuple):
        _set(parts, *found)


def _set(parts: IshParts, slot: str, value: object, path: str) -> None:
    if value is None:
        return
    setattr(parts, slot, value)
    parts.paths[slot] = path


@dataclass
class IshSelection:
    """The ISH counts chosen for one specimen group.

    Attributes:
        chosen: per role (False = first count, True = blinded recount) the count
            handed to the rules, or None when there is none.
        notes: plain-language notes (superseded counts, failed tests).
        failed: whether a chosen count is a technical failure without values.
    """

    chosen: dict[bool, IshParts | None]
    notes: list[str]
    failed: bool


def select_ish(facts: list[Fact], ctx: ReadContext) -> IshSelection:
    """Collect the ISH counts of a group and choose the latest per role.

    Separate ratio / average / count Observations form one count per role; a panel,
    an Observation with members or one with components is a count of its own.  A
    broken count always wins (the specimen fails closed).  When no count carries
    anything usable but one is present, that one is chosen, so that the rules see an
    ISH result that is there and empty instead of no ISH at all (rules section 3.7).
    """
    records: dict[bool, list[IshParts]] = {False: [], True: []}
    loose: dict[bool, IshParts] = {}
    for fact in facts:
        if fact.kind is Kind.IHC:
            continue
        parts: IshParts
        if fact.kind is Kind.ISH_PANEL or fact.members or fact.node.resource.get("component"):
            parts = IshParts()
            records[fact.recount].append(parts)
        else:
            if fact.recount not in loose:
                loose[fact.recount] = IshParts()
                records[fact.recount].append(loose[fact.recount])
            parts = loose[fact.recount]
        add_ish_fact(parts, fact, ctx)

    chosen: dict[bool, IshParts | None] = {}
    notes: list[str] = []
    for role, role_records in records.items():
        broken = [r for r in role_records if r.broken()]
        candidates = broken or [r for r in role_records if r.usable() or r.failed]
        if not candidates:
            candidates = [r for r in role_records if r.present_but_empty()]
        candidates.sort(key=lambda r: max(f.sort_key for f in r.sources))
        chosen[role] = candidates[-1] if candidates else None
        notes.extend(
            f"An earlier ISH {'recount' if role else 'count'} was superseded."
            for _ in candidates[:-1]
        )
    failed = any(r is not None and r.failed and not r.usable() for r in chosen.values())
    if failed:
        notes.append("An ISH test failed technically (no result).")
    return IshSelection(chosen, notes, failed)

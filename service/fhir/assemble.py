"""Assembling one specimen group into the rules' input (:class:`SpecimenGroup`).

The latest usable result per modality (IHC, ISH count, blinded recount) is used,
superseded ones are noted; the tumour site is resolved; and every value keeps the
FHIRPath of where it came from, so that an input error is located.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.fhir.codes import ANSWERS, Answer, Kind
from service.fhir.context import ReadContext
from service.fhir.elements import codings, value_key
from service.fhir.envelope import Node
from service.fhir.facts import Fact
from service.fhir.ish import ENGINE_FIELD, IshParts, select_ish
from service.fhir.site import SiteResolver
from service.fhir.values import IhcValue, read_ihc
from service.her2 import IshInput, PriorResult, Site, SpecimenInput
from service.her2.inputs import date_from, ihc_call_from, ihc_score_from, prior_from


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


def _latest(facts: list[Fact]) -> tuple[Fact | None, list[Fact]]:
    ordered = sorted(facts, key=lambda f: f.sort_key)
    return (ordered[-1], ordered[:-1]) if ordered else (None, [])


def _ish_input(
    parts: IshParts | None, prefix: str, paths: dict[str, str], used: list[Node]
) -> IshInput | None:
    """The rules' ISH input of one chosen count, recording its paths and sources."""
    if parts is None:
        return None
    if not parts.usable():
        if not parts.present_but_empty():
            return None
        # Present but nothing usable: the rules must see it (incomplete_ish, or the
        # IHC alone with a warning), never a silently absent ISH (rules section 3.7).
        paths.setdefault(prefix, parts.sources[-1].node.path)
        return IshInput(final=parts.final)
    for slot, path in parts.paths.items():
        paths[f"{prefix}.{ENGINE_FIELD[slot]}"] = path
    paths.setdefault(prefix, parts.sources[0].node.path)
    used.extend(f.node for f in parts.sources)
    used.extend(m.node for f in parts.sources for m in f.members)
    return parts.to_input()


def assemble(
    ctx: ReadContext, sites: SiteResolver, subject: str | None, key: str, facts: list[Fact]
) -> SpecimenGroup:
    """Read one specimen group into the rules' input.

    Args:
        ctx: the request's reading state (issues are appended to it).
        sites: the request's site resolver.
        subject: the group's subject key.
        key: the group key.
        facts: the group's top-level input facts.
    """
    notes: list[str] = []
    paths: dict[str, str] = {}
    used: list[Node] = []
    final = True

    ihc_facts = [f for f in facts if f.kind is Kind.IHC]
    broken_ihc = [f for f in ihc_facts if not f.node.valid]
    ihc_fact, superseded = (broken_ihc[0], []) if broken_ihc else _latest(ihc_facts)
    for old in superseded:
        notes.append(f"An earlier IHC result ({old.effective_text or 'undated'}) was superseded.")
    ihc = IhcValue()
    if ihc_fact is not None:
        ihc = read_ihc(ihc_fact.node, ctx.issues)
        used.append(ihc_fact.node)
        final = final and ihc_fact.final
        if ihc.path:
            paths["ihc_score"] = ihc.path
        if ihc.failed:
            notes.append("The IHC test failed technically (no result).")

    selection = select_ish(facts, ctx)
    notes.extend(selection.notes)
    ish = _ish_input(selection.chosen[False], "ish", paths, used)
    recount = _ish_input(selection.chosen[True], "ish_recount", paths, used)
    final = final and all(p.final for p in selection.chosen.values() if p and p.usable())

    ihc_present = ihc.score is not None or ihc.call is not None
    ish_usable = any(p is not None and p.usable() for p in selection.chosen.values())
    all_failed = (ihc.failed or selection.failed) and not ihc_present and not ish_usable
    ihc_tissue = ihc_fact.tissue if ihc_fact is not None else None
    ish_tissues = {
        f.tissue for p in selection.chosen.values() if p is not None for f in p.sources if f.tissue
    }
    # IHC on another block or portion than the ISH (contract section 3, README).
    same_tissue = ihc_tissue is None or not ish_tissues or ish_tissues == {ihc_tissue}
    if not same_tissue:
        notes.append("The IHC was done on a different specimen than the ISH.")
    site, basis = sites.resolve(facts)
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
        ish=ish,
        ish_recount=recount,
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


def prior_result(fact: Fact) -> PriorResult | None:
    """An earlier HER2 interpretation as a prior result (rules section 10), if readable."""
    key = value_key(fact.node.resource)
    if key != "valueCodeableConcept":
        return None
    answers = {ANSWERS[c] for c in codings(fact.node.resource[key]) if c in ANSWERS}
    statuses = answers & {Answer.POSITIVE, Answer.NEGATIVE, Answer.EQUIVOCAL, Answer.INDETERMINATE}
    if len(statuses) != 1:
        return None
    return prior_from(status=statuses.pop().value, date=fact.effective_text)

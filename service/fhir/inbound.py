"""Reading HER2 results from FHIR into rule inputs (fhir-contract.md sections 1-4).

Lenient by design: every entry is read on its own, problems become located
issues, and the rest of the request is still read.  One rule overrides
leniency: an entry that is recognisably a HER2 input (its code is one of
section 1) but cannot be read makes its specimen fail closed, because deriving
from the rest could turn a broken ratio into a confident result.

This module only composes the steps, each in a module of its own:
:mod:`~service.fhir.envelope` (resources and references),
:mod:`~service.fhir.grouping` (classify, link, group),
:mod:`~service.fhir.values` and :mod:`~service.fhir.ish` (values, ISH counts),
:mod:`~service.fhir.site` (tumour site) and :mod:`~service.fhir.assemble` (one group).
Everything that depends on the size of the request is indexed once here, so that
the cost per specimen does not grow with the number of specimens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from service.fhir.assemble import SpecimenGroup, assemble, prior_result
from service.fhir.codes import CodeMap
from service.fhir.context import ReadContext
from service.fhir.envelope import Envelope, Node, ReadLimits, read_envelope
from service.fhir.facts import MALFORMED, Fact
from service.fhir.grouping import classify, group, link
from service.fhir.issues import Issue
from service.fhir.site import SiteResolver
from service.her2 import PriorResult

__all__ = ["MALFORMED", "Fact", "Reading", "SpecimenGroup", "read_inputs"]


@dataclass
class Reading:
    """Everything read from one request."""

    groups: list[SpecimenGroup]
    issues: list[Issue]
    envelope: Envelope


def read_inputs(
    payload: object,
    code_map: CodeMap | None = None,
    window: dt.timedelta = dt.timedelta(days=30),
    limits: ReadLimits | None = None,
) -> Reading:
    """Read a request into specimen groups of rule inputs.

    Args:
        payload: the request body, parsed with ``parse_float=Decimal``.
        code_map: the recognised codes (defaults plus a site's local table).
        window: how far apart the effective times of one group may lie when
            neither a specimen nor a report ties the inputs together.
        limits: caps on the request's size, checked before any validation.

    Returns:
        The groups (possibly none) and every issue found.

    Raises:
        EnvelopeError: when the payload is not a readable request at all;
            ``RequestTooLarge`` when it is over a cap of ``limits``.
    """
    envelope = read_envelope(payload, limits)
    ctx = ReadContext(envelope, code_map or CodeMap(), window)
    classified = classify(ctx)
    top = link(ctx, classified.inputs)
    sites = SiteResolver(ctx)
    priors_by_subject: dict[str | None, list[tuple[Fact, PriorResult]]] = {}
    for fact in classified.priors:
        prior = prior_result(fact)
        if prior is not None:
            priors_by_subject.setdefault(fact.subject, []).append((fact, prior))
    withdrawn_by_subject: dict[str | None, list[tuple[Node, str | None]]] = {}
    for node in classified.withdrawn:
        subject = ctx.subject_key(node.resource.get("subject"), node)
        specimen = ctx.subject_key(node.resource.get("specimen"), node, "Specimen")
        withdrawn_by_subject.setdefault(subject, []).append((node, specimen))
    groups = []
    for subject, key, facts in group(ctx, top):
        specimen_group = assemble(ctx, sites, subject, key, facts)
        own = specimen_group.specimen
        priors = tuple(
            prior
            for fact, prior in priors_by_subject.get(subject, [])
            if fact.specimen is None or fact.specimen != own
        )
        if priors:
            specimen_group.spec = replace(specimen_group.spec, prior_results=priors)
        specimen_group.withdrawn = [
            node
            for node, specimen in withdrawn_by_subject.get(subject, [])
            if own is None or specimen in (None, own)
        ]
        groups.append(specimen_group)
    # References that break the grammar are found while resolving, i.e. by every step
    # above: reported once per resource, after the rest.
    return Reading(groups, ctx.issues + envelope.reference_issues, envelope)

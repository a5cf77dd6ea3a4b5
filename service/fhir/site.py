"""Tumour site resolution (contract section 4).

In order: the operation's ``tumorSite``; a breast-specific test code; the body site
of the Observations or their Specimen; the patient's primary cancer Condition
(``Observation.focus`` first).  The Conditions of the request are indexed by subject
once, and each is read once, so that resolving the site of every specimen group
costs the same whatever the size of the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from service.fhir.codes import BREAST_SPECIFIC, Cancer, CodeMap
from service.fhir.context import ReadContext
from service.fhir.elements import as_list, codings
from service.fhir.envelope import Node
from service.fhir.facts import Fact
from service.her2 import Site

# Condition.verificationStatus / clinicalStatus codes that withdraw a Condition.
_WITHDRAWN_CONDITION: Final = frozenset({"refuted", "entered-in-error"})
_CONDITION_STATUS_SYSTEMS: Final = frozenset(
    {
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
    }
)


def _sites_of_concepts(concepts: Iterable[object], codes: CodeMap) -> set[Site]:
    found: set[Site] = set()
    for concept in concepts:
        for system, code in codings(concept):
            site = codes.site_of(system, code)
            if site is not None:
                found.add(site)
    return found


def condition_sites(condition: Node, codes: CodeMap) -> set[Site]:
    """The rule sets a Condition names; empty when it is not a usable primary cancer.

    A Condition counts when its code says it is a malignant primary (ICD-10 of any
    edition or ICD-O-3, C00-C76/C80; or a code of the site table, e.g. SNOMED CT).
    One whose code is classified but is no malignant primary (a benign or in situ
    lesion, a metastasis C77-C79, a haematolymphoid cancer) is ignored, body site
    included: there the body site would name a lesion or a metastasis, not the
    primary.  A refuted or entered-in-error Condition is ignored.  When the code is
    in no system the service classifies, the body site alone is read (breast and
    gastroesophageal only: an organ elsewhere might be a metastasis).
    """
    resource = condition.resource
    for key in ("verificationStatus", "clinicalStatus"):
        for system, code in codings(resource.get(key)):
            if system in _CONDITION_STATUS_SYSTEMS and code in _WITHDRAWN_CONDITION:
                return set()
    code_codings = codings(resource.get("code"))
    readings = [r for s, c in code_codings if (r := codes.cancer_of(s, c)) is not None]
    mapped = {site for s, c in code_codings if (site := codes.sites.get((s, c))) is not None}
    sites = {site for kind, site in readings if kind is Cancer.PRIMARY and site is not None}
    malignant = bool(mapped) or any(k in (Cancer.PRIMARY, Cancer.MALIGNANT) for k, _ in readings)
    if readings and not malignant:
        return set()
    sites |= mapped
    body = [c for concept in as_list(resource.get("bodySite")) for c in codings(concept)]
    for system, code in body:
        site = codes.site_of(system, code)
        if site is not None:
            sites.add(site)
        elif malignant:
            # A topography code on a Condition known to be a malignant primary: an
            # organ outside breast and gastroesophageal counts as "other".
            reading = codes.cancer_of(system, code)
            if reading is not None and reading[0] is Cancer.PRIMARY and reading[1] is not None:
                sites.add(reading[1])
    return sites


class SiteResolver:
    """Resolves the tumour site of specimen groups of one request."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self._by_subject: dict[str | None, list[Node]] = {}
        for condition in ctx.env.of_type("Condition"):
            if condition.valid:
                key = ctx.subject_key(condition.resource.get("subject"), condition)
                self._by_subject.setdefault(key, []).append(condition)
        self._read: dict[int, set[Site]] = {}

    def _sites(self, condition: Node) -> set[Site]:
        # A patient's Conditions are read once, however many specimens they have.
        if id(condition) not in self._read:
            self._read[id(condition)] = condition_sites(condition, self.ctx.codes)
        return self._read[id(condition)]

    def resolve(self, facts: list[Fact]) -> tuple[Site | None, str]:
        """The tumour site of a group, in the order of contract section 4.

        Returns:
            The site (None when unknown) and how it was found, for the note.
        """
        ctx = self.ctx
        if ctx.env.tumor_site:
            return Site(ctx.env.tumor_site), "the tumorSite parameter"
        everything = [p for f in facts for p in (f, *f.members)]
        for fact in everything:
            for system, code in codings(fact.node.resource.get("code")):
                if code in BREAST_SPECIFIC and ctx.codes.kind_of(system, code) is not None:
                    return Site.BREAST, "a breast-specific test code"
        body: set[Site] = set()
        for fact in everything:
            resource = fact.node.resource
            body |= _sites_of_concepts([resource.get("bodySite")], ctx.codes)
            specimen, _ = ctx.env.resolve(resource.get("specimen"), fact.node, "Specimen")
            if specimen is not None and specimen.valid:
                collection = specimen.resource.get("collection")
                if isinstance(collection, dict):
                    body |= _sites_of_concepts([collection.get("bodySite")], ctx.codes)
        if len(body) == 1:
            return body.pop(), "the body site of the specimen"
        if len(body) > 1:
            ctx.warn("The inputs name body sites of different rule sets.", None)
            return None, "conflicting body sites"
        conditions: set[Site] = set()
        focused = False
        for fact in everything:
            for ref in as_list(fact.node.resource.get("focus")):
                condition, _ = ctx.env.resolve(ref, fact.node, "Condition")
                if condition is not None and condition.valid:
                    focused = True
                    conditions |= self._sites(condition)
        if not focused:
            for subject in {f.subject for f in everything}:
                for condition in self._by_subject.get(subject, []):
                    conditions |= self._sites(condition)
        if len(conditions) == 1:
            return conditions.pop(), "the primary cancer Condition"
        if len(conditions) > 1:
            ctx.warn("The patient's cancer Conditions name different rule sets.", None)
            return None, "conflicting Conditions"
        return None, "no site information"

"""A FHIR R4 ``ResearchStudy`` (with its enrollment Groups) read into a trial :class:`Study`.

What is read, and from where:

- **id**: the first ``identifier`` that is a ClinicalTrials.gov number (system
  ``http://clinicaltrials.gov`` with or without the final ``/`` -- the mCODE
  trial-matching service writes the latter -- or any value of the form ``NCT`` and
  eight digits), else the resource id.
- **title**: ``title``.
- **status**: ``status`` mapped to the ClinicalTrials.gov ``overallStatus`` the
  matching filter uses (:data:`STATUS_TO_CTGOV`); an unknown code reads as None, which
  no status filter keeps.
- **phases**: ``phase`` codings of ``http://terminology.hl7.org/CodeSystem/research-study-phase``
  mapped to ClinicalTrials.gov phases (:data:`PHASE_TO_CTGOV`; ``phase-1-phase-2`` is
  both); other codings are not read.
- **conditions** and **keywords**: each ``condition[]`` / ``keyword[]`` concept's
  ``text``, else its codings' ``display``, checked against its codes: a code names the
  site it has in the project's site tables (which gives the site when the words are
  generic or absent); a code the tables do not place, or words naming another site
  than the code, read as :data:`UNREAD_CONDITION` (another site: left for review),
  never guessed (:func:`_condition_names`).
- **eligibility text**: R4 has no element for it.  The mCODE clinical-trial-matching
  service (``src/study-fhir-converter.ts``) puts ClinicalTrials.gov's
  ``eligibilityCriteria`` into the ``display`` of the ``enrollment`` reference to a
  contained Group, and the brief summary into ``description``; so the text is read from
  ``enrollment[].display`` only, never from ``description``.
- **coded eligibility**: the ``characteristic`` of every enrollment Group (contained
  ``#id``, or ``Group/id`` resolved by the caller), read by
  :mod:`service.fhir.her2_characteristic`.  When any is about HER2 they become
  ``Study.coded`` and the text is not read -- unless every one is a HER2 (ERBB2)
  *mutation* criterion, which is never status: the text is then read.  An enrollment
  Group that is neither contained nor given by the caller (not on the server) cannot
  be seen, so the study gets one not-understood criterion for it rather than a
  reading of the text that the unseen characteristics might contradict; so does an
  enrollment entry naming a Group by ``identifier`` or ``type`` alone (an entry with a
  display and none of ``reference``, ``identifier``, ``type`` is text alone).  A
  ``modifierExtension`` in an enrollment Group makes that Group not understood; one
  anywhere else in the study (FHIR forbids ignoring an unknown modifier), or two
  contained resources with one id, make the study's only criterion not understood:
  no characteristic is read.

The resource is checked with its ``fhir.resources.R4B`` model first (R4B's
ResearchStudy and Group are R4's); one that does not pass, or that is nested too
deeply for it to check (``RecursionError``), is not a study.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from fhir.resources.R4B.group import Group
from fhir.resources.R4B.researchstudy import ResearchStudy
from pydantic import ValidationError

from service.fhir.codes import CodeMap
from service.fhir.her2_characteristic import SOURCE, read_characteristic
from service.fhir.references import parse_reference
from service.her2 import Site
from service.trials.model import Criterion, CriterionKind, Section, Study
from service.trials.sites import site_named

CTGOV_SYSTEMS: Final = frozenset({"http://clinicaltrials.gov", "http://clinicaltrials.gov/"})
PHASE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/research-study-phase"
_NCT: Final = re.compile(r"NCT\d{8}")
_SITE_CODES: Final = CodeMap()
# The words a coded-only condition is read as (``service.trials.sites`` places both).
_SITE_NAMES: Final[Mapping[Site, str]] = {
    Site.BREAST: "Breast cancer",
    Site.GASTROESOPHAGEAL: "Gastric, oesophageal or gastroesophageal junction cancer",
}
# No denial word in it ("not"): joined with other conditions it must not read as
# denying the site named next to it.
UNREAD_CONDITION: Final = "Coded condition, code unread"

# R4 ResearchStudy.status -> ClinicalTrials.gov overallStatus: one of the values the
# mCODE trial-matching service maps to that code (``research_study_codes.STATUSES``), so
# that a ``recruitmentStatus`` filter keeps a ResearchStudy exactly when it keeps a
# downloaded record of the same status; a code with no ClinicalTrials.gov counterpart
# stays itself (upper case), which the filter for that code keeps.  Only ``active``
# ("open for accrual") is RECRUITING, so a recruiting filter never keeps a study that
# is closed, suspended or not yet open.
STATUS_TO_CTGOV: Final[Mapping[str, str]] = {
    "active": "RECRUITING",
    "approved": "NOT_YET_RECRUITING",
    "in-review": "UNKNOWN",
    "closed-to-accrual": "ACTIVE_NOT_RECRUITING",
    "closed-to-accrual-and-intervention": "CLOSED-TO-ACCRUAL-AND-INTERVENTION",
    "temporarily-closed-to-accrual": "SUSPENDED",
    "temporarily-closed-to-accrual-and-intervention": (
        "TEMPORARILY-CLOSED-TO-ACCRUAL-AND-INTERVENTION"
    ),
    "administratively-completed": "TERMINATED",
    "completed": "COMPLETED",
    "disapproved": "DISAPPROVED",
    "withdrawn": "WITHDRAWN",
}
PHASE_TO_CTGOV: Final[Mapping[str, tuple[str, ...]]] = {
    "n-a": ("NA",),
    "early-phase-1": ("EARLY_PHASE1",),
    "phase-1": ("PHASE1",),
    "phase-1-phase-2": ("PHASE1", "PHASE2"),
    "phase-2": ("PHASE2",),
    "phase-2-phase-3": ("PHASE2", "PHASE3"),
    "phase-3": ("PHASE3",),
    "phase-4": ("PHASE4",),
}


class NotAResearchStudy(ValueError):
    """The resource is not a valid R4 ResearchStudy (the message names no value)."""


def _check(model: Any, resource: Mapping[str, Any], what: str) -> None:
    try:
        model.model_validate(dict(resource))
    except (
        ValidationError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        ValueError,
        RecursionError,
    ):
        # fhir.resources may crash on hostile shapes instead of raising a ValidationError
        # (as service.fhir.r4b_check found), or recurse past Python's limit on deeply
        # nested elements (~150 levels of `extension`); its messages may quote the
        # resource: never passed on.
        raise NotAResearchStudy(f"not a valid R4 {what}") from None


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def study_id(resource: Mapping[str, Any]) -> str:
    """The NCT identifier of a ResearchStudy if it has one, else its resource id."""
    for identifier in _list(resource.get("identifier")):
        value = identifier.get("value")
        if not isinstance(value, str):
            continue
        if identifier.get("system") in CTGOV_SYSTEMS or _NCT.fullmatch(value):
            return value
    return str(resource.get("id") or "")


def _concept_names(concepts: Any) -> tuple[str, ...]:
    names: list[str] = []
    for concept in _list(concepts):
        if isinstance(concept.get("text"), str):
            names.append(concept["text"])
            continue
        names.extend(
            c["display"] for c in _list(concept.get("coding")) if isinstance(c.get("display"), str)
        )
    return tuple(names)


def _condition_names(concepts: Any) -> tuple[str, ...]:
    """Each condition's words (text, else displays) checked against what its codes name.

    The trial matcher reads a study's site from condition words only
    (``service.trials.sites``), so a condition that is coded only is put into words:
    a code of the project's site tables (``service.fhir.codes``: ICD-10 C50 / C15 /
    C16 in any edition, the SNOMED CT codes of ``DEFAULT_SITE_CODES``) names its
    site; any other code (a lung cancer code, a local code) is never guessed and
    reads as :data:`UNREAD_CONDITION`, which the matcher takes for a condition naming
    something else (the study is left for review, never taken for an organ-less basket).
    """
    names: list[str] = []
    for concept in _list(concepts):
        named = [n for n in _concept_names([concept]) if n.strip()]
        found = [
            _SITE_CODES.site_of(c.get("system"), c.get("code"))
            for c in _list(concept.get("coding"))
        ]
        sites = {site for site in found if site is not None}
        named_sites = {site_named(n) for n in named} - {None}
        if not found:
            names.extend(named or [UNREAD_CONDITION])
        elif None in found or Site.OTHER in sites or not named_sites <= sites:
            # A code the tables do not place, or words naming another site than the
            # codes ("HER2-positive" or "Breast cancer" over a lung cancer code): the
            # words do not override the code, and which is meant is not guessed.
            names.append(UNREAD_CONDITION)
        else:
            names.extend(named)
            if not named_sites:  # no words, or generic ones: the codes give the site
                names.extend(_SITE_NAMES[site] for site in sorted(sites))
    return tuple(names)


def _phases(resource: Mapping[str, Any]) -> tuple[str, ...]:
    phase = resource.get("phase")
    codings = _list(phase.get("coding")) if isinstance(phase, Mapping) else []
    phases: list[str] = []
    for coding in codings:
        if coding.get("system") == PHASE_SYSTEM:
            for value in PHASE_TO_CTGOV.get(str(coding.get("code")), ()):
                if value not in phases:
                    phases.append(value)
    return tuple(phases)


def _server_group(reference: Any, base_url: str | None) -> str | None:
    """``Group/id`` for a reference to a Group on the server (relative, or on ``base_url``)."""
    ref = parse_reference(reference)
    if ref is None or ref.type != "Group":
        return None
    if ref.base is not None and (base_url is None or ref.base != base_url.rstrip("/")):
        return None  # another server's Group: never fetched, never confused with ours
    return ref.relative


def enrollment_groups(resource: Mapping[str, Any], base_url: str | None = None) -> list[str]:
    """The ``Group/id`` references of the enrollment that the server holds (to fetch).

    Args:
        resource: the ResearchStudy.
        base_url: the server's base; absolute references elsewhere are not returned.
    """
    found: list[str] = []
    for enrollment in _list(resource.get("enrollment")):
        relative = _server_group(enrollment.get("reference"), base_url)
        if relative is not None and relative not in found:
            found.append(relative)
    return found


def _group_for(
    reference: Any,
    contained: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, Mapping[str, Any]],
    base_url: str | None,
) -> Mapping[str, Any] | None:
    if isinstance(reference, str) and reference.startswith("#"):
        return contained.get(reference[1:])
    relative = _server_group(reference, base_url)
    if relative is None or relative not in groups:
        return None
    group = groups[relative]
    _check(Group, group, "Group")
    return group


def _not_understood(sentence: str) -> Criterion:
    return Criterion(CriterionKind.NOT_UNDERSTOOD, Section.UNKNOWN, sentence, source=SOURCE)


def _has_modifier(element: Any) -> bool:
    """Whether a ``modifierExtension`` occurs anywhere in the element (iteratively).

    FHIR forbids ignoring a modifier one does not know: it may negate or change what
    the element around it means.  Only resources that passed the R4B check get here,
    so the walk is bounded by what that check accepted.
    """
    stack = [element]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if item.get("modifierExtension"):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _display_only(enrollment: Mapping[str, Any]) -> bool:
    """Whether an enrollment entry is only eligibility text (a ``display``, no Group).

    An entry naming a Group by ``reference``, ``identifier`` or ``type`` refers to a
    Group; one that cannot be read is not understood, exactly like a reference that
    cannot be resolved.  An ``id``, ``extension`` or ``_display`` (a translation) beside
    the display names no Group.
    """
    return "display" in enrollment and not {"reference", "identifier", "type"} & set(enrollment)


def _coded(
    resource: Mapping[str, Any], groups: Mapping[str, Mapping[str, Any]], base_url: str | None
) -> tuple[Criterion, ...] | None:
    contained: dict[str, Mapping[str, Any]] = {}
    criteria: list[Criterion] = []
    ids = [c["id"] for c in _list(resource.get("contained")) if isinstance(c.get("id"), str)]
    if len(ids) != len(set(ids)):
        # Contained ids must be unique; which of two ``#g`` is meant is not guessed.
        criteria.append(_not_understood("Two contained resources with the same id"))
    for c in _list(resource.get("contained")):
        if c.get("resourceType") == "Group" and isinstance(c.get("id"), str):
            contained[c["id"]] = c
    if _has_modifier({k: v for k, v in resource.items() if k != "contained"}):
        criteria.append(_not_understood("The study carries a modifier extension not read"))
    if criteria:
        # The study as a whole cannot be read (which Group is meant, what a modifier
        # changes): no characteristic is read, so none can exclude or admit anyone.
        return tuple(criteria)
    for enrollment in _list(resource.get("enrollment")):
        if _display_only(enrollment):
            continue  # the eligibility text
        group = _group_for(enrollment.get("reference"), contained, groups, base_url)
        if group is None:
            criteria.append(_not_understood("An enrollment Group that could not be read"))
            continue
        if _has_modifier(group):
            criteria.append(_not_understood("An enrollment Group with a modifier extension"))
            continue
        for characteristic in _list(group.get("characteristic")):
            read = read_characteristic(characteristic)
            if read is not None:
                criteria.append(read)
    if all(c.kind is CriterionKind.HER2_MUTATION for c in criteria):
        # Mutation criteria are never HER2 status: with nothing else coded the text is
        # read (it may state status criteria), and its own mutation sentences are
        # told apart there as here.
        return None
    return tuple(criteria)


def study_from_research_study(
    resource: Mapping[str, Any],
    groups: Mapping[str, Mapping[str, Any]] | None = None,
    base_url: str | None = None,
) -> Study:
    """One ResearchStudy as a :class:`Study`.

    Args:
        resource: the ResearchStudy (FHIR JSON), contained Groups included.
        groups: the enrollment Groups that are not contained, by ``Group/id`` (as read
            from the server); a referenced Group missing here is not understood.
        base_url: the server's base, for absolute references to its Groups.

    Raises:
        NotAResearchStudy: when the resource (or an enrollment Group) is not valid R4.
    """
    if resource.get("resourceType") != "ResearchStudy":
        raise NotAResearchStudy("not a ResearchStudy")
    _check(ResearchStudy, resource, "ResearchStudy")
    texts = [
        e["display"] for e in _list(resource.get("enrollment")) if isinstance(e.get("display"), str)
    ]
    return Study(
        study_id=study_id(resource),
        title=str(resource.get("title") or ""),
        overall_status=STATUS_TO_CTGOV.get(str(resource.get("status"))),
        phases=_phases(resource),
        conditions=_condition_names(resource.get("condition")),
        keywords=_concept_names(resource.get("keyword")),
        eligibility="\n".join(texts),
        coded=_coded(resource, groups or {}, base_url),
    )


__all__ = [
    "CTGOV_SYSTEMS",
    "PHASE_TO_CTGOV",
    "STATUS_TO_CTGOV",
    "NotAResearchStudy",
    "enrollment_groups",
    "study_from_research_study",
    "study_id",
]

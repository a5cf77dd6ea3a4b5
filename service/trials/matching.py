"""Classify trials for one patient's current HER2 results (issue 14): pure.

The patient's HER2 is given per site as the engine's outputs (``status``,
``her2_low``, ``ultralow``, her2-rules.md section 2).  Those outputs leave a set
of possible :class:`Her2Class` values (one when everything is known, several
when, e.g., ``her2_low`` is unknown).  A criterion is *met* when every possible
class is in the classes it names, *failed* when none is, and *undecided*
otherwise: the service never picks one of several possible classes.

Outcomes, first that applies wins:

1. ``excluded`` — a criterion the patient certainly fails (a required class the
   patient does not have, or an excluded class the patient has), or the trial is
   for the other site; the reason and the sentence are kept.
2. ``not_understood`` — a HER2 criterion could not be read (never guessed).
3. ``needs_review`` — the patient's result cannot answer a criterion (equivocal
   or indeterminate status, an unknown HER2-low class, no result for the site).
4. ``candidate`` — every HER2 criterion is met.
5. ``no_her2_criterion`` — the study names no HER2 status (mutation-only
   criteria land here too: they are not HER2 status).

This is a candidate list for a clinician and a research coordinator, not an
eligibility decision.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from service.her2 import Site, Status
from service.trials.criteria import read_study
from service.trials.model import (
    NEGATIVE_CLASSES,
    Criterion,
    CriterionKind,
    Her2Class,
    Section,
    Study,
)
from service.trials.sites import names_a_site, other_site, site_named


class Outcome(StrEnum):
    """How a trial stands for the patient."""

    CANDIDATE = "candidate"
    EXCLUDED = "excluded"
    NOT_UNDERSTOOD = "not_understood"
    NEEDS_REVIEW = "needs_review"
    NO_HER2_CRITERION = "no_her2_criterion"


@dataclass(frozen=True)
class PatientHer2:
    """One site's current HER2 result, as the engine reports it.

    Attributes:
        site: breast or gastroesophageal (the rule set applied).
        status: positive, negative, equivocal or indeterminate.
        her2_low: True, False or None (unknown).
        ultralow: True, False or None (unknown).
    """

    site: Site | None
    status: Status
    her2_low: bool | None = None
    ultralow: bool | None = None

    def possible_classes(self) -> frozenset[Her2Class] | None:
        """The classes the result leaves possible; None when the status is not final."""
        if self.status is Status.POSITIVE:
            return frozenset({Her2Class.POSITIVE})
        if self.status is not Status.NEGATIVE:
            return None
        classes = set(NEGATIVE_CLASSES)
        if self.her2_low is True:
            return frozenset({Her2Class.LOW})
        if self.her2_low is False:
            classes.discard(Her2Class.LOW)
        if self.ultralow is True:
            return frozenset({Her2Class.ULTRALOW})
        if self.ultralow is False:
            classes.discard(Her2Class.ULTRALOW)
        return frozenset(classes)


@dataclass(frozen=True)
class Finding:
    """Why a trial got its outcome: one criterion and what it did.

    Attributes:
        outcome: the outcome this criterion alone leads to.
        reason: a plain sentence, never quoting patient data.
        criterion: the criterion (None for a site mismatch or a missing result).
    """

    outcome: Outcome
    reason: str
    criterion: Criterion | None = None


@dataclass(frozen=True)
class TrialMatch:
    """One trial's outcome with every finding that led to it."""

    study: Study
    outcome: Outcome
    site: Site | None
    findings: tuple[Finding, ...] = field(default=())


_PRIORITY = (
    Outcome.EXCLUDED,
    Outcome.NOT_UNDERSTOOD,
    Outcome.NEEDS_REVIEW,
    Outcome.CANDIDATE,
)


def study_site(study: Study) -> Site | None:
    """The site a study is for, read from its conditions (then title), else None.

    The title is read only when the conditions name nothing but a generic tumour:
    conditions naming another organ are not overridden by a title ("... in
    Conjunction With ...", "Non-Breast ...").
    """
    site = site_named(" ".join(study.conditions))
    if site is not None or other_site(study.conditions, ""):
        return site
    return site_named(study.title)


def _evaluate(
    criterion: Criterion, patient: PatientHer2 | None, results: Mapping[Site, PatientHer2]
) -> Finding:
    if criterion.kind is CriterionKind.NOT_UNDERSTOOD:
        return Finding(Outcome.NOT_UNDERSTOOD, "HER2 criterion not understood", criterion)
    if criterion.section is Section.UNKNOWN:
        return Finding(
            Outcome.NOT_UNDERSTOOD,
            "HER2 criterion outside an inclusion or exclusion section",
            criterion,
        )
    named = criterion.classes
    assert named is not None  # mutation criteria are filtered out by the caller
    if criterion.site is not None:
        # "gastric or GEJ HER2-positive" is answered by the gastroesophageal result only.
        patient = results.get(criterion.site)
    possible = None if patient is None else patient.possible_classes()
    label = criterion.kind.value.replace("_", " ")
    if possible is None:
        return Finding(Outcome.NEEDS_REVIEW, "no final HER2 result answers it", criterion)
    if possible <= named:
        if criterion.excludes:
            return Finding(Outcome.EXCLUDED, f"excludes {label}", criterion)
        return Finding(Outcome.CANDIDATE, f"requires {label}: met", criterion)
    if not possible & named:
        if criterion.excludes:
            return Finding(
                Outcome.CANDIDATE, f"excludes {label}: not the patient's class", criterion
            )
        return Finding(Outcome.EXCLUDED, f"requires {label}", criterion)
    return Finding(
        Outcome.NEEDS_REVIEW, f"the HER2 result does not say whether it is {label}", criterion
    )


def _contradictory(criteria: list[Criterion]) -> list[Criterion]:
    """The required criteria of one site, when no HER2 class meets all of them.

    Studies with parts or cohorts list each part's HER2 class as an inclusion
    criterion ("Part 1: HER2-positive", "Part 2: HER2-low"); read together they
    would exclude everyone.  They are not understood rather than a false exclusion.
    """
    required = [
        c
        for c in criteria
        if c.classes is not None and not c.excludes and c.section is not Section.UNKNOWN
    ]
    by_site: dict[Site | None, list[Criterion]] = {}
    for c in required:
        by_site.setdefault(c.site, []).append(c)
    found: list[Criterion] = []
    for group in by_site.values():
        common = frozenset(Her2Class)
        for c in group:
            common &= c.classes or frozenset()
        if not common:
            found.extend(group)
    return found


def _patient_for(
    site: Site | None, results: Mapping[Site, PatientHer2]
) -> tuple[PatientHer2 | None, Finding | None]:
    if site is not None:
        return results.get(site), None
    if len(results) == 1:
        return next(iter(results.values())), None
    return None, Finding(Outcome.NEEDS_REVIEW, "the study does not say which tumour site")


@functools.lru_cache(maxsize=65536)
def _criteria(
    eligibility: str,
    conditions: tuple[str, ...],
    keywords: tuple[str, ...],
    coded: tuple[Criterion, ...] | None,
) -> tuple[Criterion, ...]:
    # Reading is pure and costs ~2 ms a study; the trial endpoints match the same
    # studies on every request, so each text is read once per process.  The bound is
    # above any site's trial list (an LRU smaller than the list would never hit).
    return tuple(read_study(eligibility, conditions, keywords, coded))


def match_study(study: Study, results: Mapping[Site, PatientHer2]) -> TrialMatch:
    """Classify one study for a patient's current HER2 results per site.

    Args:
        study: the trial.
        results: the patient's current result for each site that has one.
    """
    criteria = [
        c
        for c in _criteria(study.eligibility, study.conditions, study.keywords, study.coded)
        if c.kind is not CriterionKind.HER2_MUTATION
    ]
    site = study_site(study)
    if not criteria:
        return TrialMatch(study, Outcome.NO_HER2_CRITERION, site)
    findings: list[Finding] = []
    if site is not None and results and site not in results:
        findings.append(Finding(Outcome.EXCLUDED, f"the study is for {site.value} cancer"))
    patient, problem = _patient_for(site, results)
    if problem is not None:
        findings.append(problem)
    elif site is None and other_site(study.conditions, study.title):
        findings.append(
            Finding(Outcome.NEEDS_REVIEW, "the study names a tumour site other than this result's")
        )
    elif site is None and names_a_site(study.eligibility):
        # A study of no stated site whose text names breast or gastric cancer ("any solid
        # tumour except breast cancer"): the reader does not know in what sense.
        findings.append(Finding(Outcome.NEEDS_REVIEW, "the eligibility text names a tumour site"))
    contradictory = _contradictory(criteria)
    for c in criteria:
        if c in contradictory:
            reason = "HER2 inclusion criteria no result meets together (alternatives?)"
            findings.append(Finding(Outcome.NOT_UNDERSTOOD, reason, c))
        else:
            findings.append(_evaluate(c, patient, results))
    outcomes = {f.outcome for f in findings}
    outcome = next(o for o in _PRIORITY if o in outcomes)
    return TrialMatch(study, outcome, site, tuple(findings))


def match_studies(
    studies: Iterable[Study],
    results: Mapping[Site, PatientHer2],
    statuses: Collection[str] | None = None,
    phases: Collection[str] | None = None,
) -> list[TrialMatch]:
    """Classify every study that passes the recruitment-status and phase filters.

    Args:
        studies: the trials.
        results: the patient's current result per site.
        statuses: ClinicalTrials.gov ``overallStatus`` values to keep (None: all).
        phases: ClinicalTrials.gov phase values to keep (None: all); a study is kept
            when any of its phases is wanted.
    """
    wanted_statuses = None if statuses is None else {s.upper() for s in statuses}
    wanted_phases = None if phases is None else {p.upper() for p in phases}
    matches: list[TrialMatch] = []
    for study in studies:
        if wanted_statuses is not None and (study.overall_status or "").upper() not in (
            wanted_statuses
        ):
            continue
        if wanted_phases is not None and not wanted_phases & {p.upper() for p in study.phases}:
            continue
        matches.append(match_study(study, results))
    return matches


__all__ = ["Finding", "Outcome", "PatientHer2", "TrialMatch", "match_studies", "match_study"]

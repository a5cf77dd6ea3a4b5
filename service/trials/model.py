"""Domain types of HER2-aware trial matching (issue 14): standard library only.

A study's HER2 eligibility is read into :class:`Criterion` values, each keeping the
sentence it came from and the section (inclusion or exclusion) it was found in.
What a criterion asks for is a set of :class:`Her2Class` values: the mutually
exclusive classes a final HER2 result falls into under the project's rules
(her2-rules.md sections 2 and 4: ``status``, ``her2_low``, ``ultralow``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.her2 import Site


class Her2Class(StrEnum):
    """The mutually exclusive HER2 classes a criterion can name.

    ``low``, ``ultralow`` and ``null`` are sub-classes of a negative result
    (her2-rules.md: HER2-low and HER2-ultralow are label terms, never the status).
    """

    POSITIVE = "positive"
    LOW = "low"
    ULTRALOW = "ultralow"
    NULL = "null"


NEGATIVE_CLASSES = frozenset({Her2Class.LOW, Her2Class.ULTRALOW, Her2Class.NULL})


class CriterionKind(StrEnum):
    """What a sentence says about HER2, in the guideline's and the labels' terms."""

    HER2_POSITIVE = "her2_positive"
    HER2_LOW = "her2_low"
    HER2_ULTRALOW = "her2_ultralow"
    HER2_LOW_OR_ULTRALOW = "her2_low_or_ultralow"
    HER2_NEGATIVE = "her2_negative"
    HER2_ZERO = "her2_0"
    HER2_NULL = "her2_null"
    HER2_LOW_OR_ZERO = "her2_low_or_0"
    HER2_NEGATIVE_OR_LOW = "her2_negative_or_low"
    HER2_MUTATION = "her2_mutation"
    NOT_UNDERSTOOD = "not_understood"


# The classes each status kind admits.  "HER2-negative or HER2-low" is HER2-negative:
# HER2-low is a sub-class of a negative result.  "HER2 0" (IHC 0) covers ultralow and
# null: ASCO/CAP 2018 scores both as IHC 0.
KIND_CLASSES: dict[CriterionKind, frozenset[Her2Class]] = {
    CriterionKind.HER2_POSITIVE: frozenset({Her2Class.POSITIVE}),
    CriterionKind.HER2_LOW: frozenset({Her2Class.LOW}),
    CriterionKind.HER2_ULTRALOW: frozenset({Her2Class.ULTRALOW}),
    CriterionKind.HER2_LOW_OR_ULTRALOW: frozenset({Her2Class.LOW, Her2Class.ULTRALOW}),
    CriterionKind.HER2_NEGATIVE: NEGATIVE_CLASSES,
    CriterionKind.HER2_ZERO: frozenset({Her2Class.ULTRALOW, Her2Class.NULL}),
    CriterionKind.HER2_NULL: frozenset({Her2Class.NULL}),
    CriterionKind.HER2_LOW_OR_ZERO: NEGATIVE_CLASSES,
    CriterionKind.HER2_NEGATIVE_OR_LOW: NEGATIVE_CLASSES,
}


class Section(StrEnum):
    """Where in the eligibility text a sentence stands."""

    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Criterion:
    """One HER2 criterion read from a study.

    Attributes:
        kind: what the sentence says (``not_understood`` when it could not be read).
        section: inclusion, exclusion, or unknown (text before any heading).
        sentence: the sentence it came from, verbatim.
        negated: True when the sentence denies the class ("never HER2-positive").
        site: the site the sentence names (gastric/GEJ or breast), else None.
        source: ``eligibility``, ``condition``, ``keyword``, or ``characteristic`` (a
            coded ``Group.characteristic`` of a ResearchStudy's enrollment).
    """

    kind: CriterionKind
    section: Section
    sentence: str
    negated: bool = False
    site: Site | None = None
    source: str = "eligibility"

    @property
    def classes(self) -> frozenset[Her2Class] | None:
        """The classes the sentence names; None for a mutation or not-understood criterion."""
        return KIND_CLASSES.get(self.kind)

    @property
    def excludes(self) -> bool:
        """True when a patient in :attr:`classes` is excluded rather than required.

        An exclusion-section sentence excludes; an inclusion-section sentence that
        denies a class ("was never HER2-positive") excludes too.
        """
        return (self.section is Section.EXCLUSION) != self.negated


@dataclass(frozen=True)
class Study:
    """A trial as matching needs it.

    Attributes:
        study_id: the NCT id (or the ResearchStudy id).
        title: brief title.
        overall_status: ClinicalTrials.gov ``overallStatus`` (e.g. ``RECRUITING``).
        phases: ClinicalTrials.gov ``phases`` (e.g. ``("PHASE3",)``).
        conditions: condition names.
        keywords: keywords.
        eligibility: the eligibility text.
        coded: HER2 criteria read from coded eligibility (a ResearchStudy's enrollment
            Group characteristics), or None when the study has none.  When present they
            are the study's HER2 criteria: the text, conditions and keywords are not read.
    """

    study_id: str
    title: str
    overall_status: str | None
    phases: tuple[str, ...]
    conditions: tuple[str, ...]
    keywords: tuple[str, ...]
    eligibility: str
    coded: tuple[Criterion, ...] | None = None


@dataclass(frozen=True)
class SourceRead:
    """The studies of one read of a trial source, and what of it was not read.

    Attributes:
        studies: the studies read.
        skipped: studies left out as not valid (FHIR R4) resources.
        truncated: whether a bound stopped the read before its end.
    """

    studies: Sequence[Study]
    skipped: int = 0
    truncated: bool = False

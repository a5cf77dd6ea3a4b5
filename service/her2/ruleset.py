"""Rule sets as versioned data: one JSON file per version in ``rulesets/``.

A rule set holds everything of the clinical algorithm that is a *value*: the
thresholds, the breast, gastroesophageal and other-site decision tables (with
their HER2-low and HER2-ultralow columns), the next-step priority, the next
steps compatible with a final interpretation and the mandatory report comments.
The engine holds only the closed set of primitive evaluations (reading the IHC
key and the ISH category, grouping, the recount state); which row they select
and what the row says is data (the PharmCAT / actin pattern).

``ruleset_load`` reads a file and loads it only when it is entirely consistent.
Two versions load side by side; a result carries the rule set that produced it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from service.her2.model import NextStep, Status

# The IHC column of every table (her2-rules.md sections 1, 4, 5 and 5.3): the
# scores, IHC 0 whose null/ultralow pattern was not assessed, the qualitative
# calls reported without a score, and no usable IHC.
IHC_KEYS: Final = (
    "3+",
    "2+",
    "1+",
    "0",
    "0-unassessed",
    "0-ultralow",
    "positive-call",
    "equivocal-call",
    "negative-call",
    "none",
)
IHC_2PLUS_KEYS: Final = frozenset({"2+", "equivocal-call"})

# The ISH column of each table, as the engine's primitives name it.
RECOUNT_STATES: Final = (
    "G2-4:no-recount",
    "G2:recount-same",
    "G3:recount-same",
    "G4:recount-same",
    "G2-4:recount-changed",
)
BREAST_ISH: Final = ("none", "G1", "G2-4", "G5", "S>=6", "S4-6", "S<4", "eq", *RECOUNT_STATES)
GASTRO_ISH: Final = ("none", "single", "pos", "neg-high", "neg", "eq")
OTHER_ISH: Final = ("any",)
# Breast columns whose IHC must come from the ISH tissue: groups 2-4 (ASCO/CAP 2018 Fig 3
# note) and, by project choice (README), the single-probe 4.0-<6.0 band (Fig 2).  An IHC
# from other tissue counts as no IHC there.
SAME_TISSUE_CATEGORIES: Final = frozenset({"G2-4", "S4-6"})

BREAST_GROUPS_WITH_COMMENT: Final = frozenset({2, 3, 4})


class RuleSetError(ValueError):
    """A rule-set file is inconsistent (a packaging defect, never bad request input)."""


@dataclass(frozen=True)
class Cell:
    """A HER2-low or HER2-ultralow cell: a literal, or literals by IHC key.

    Attributes:
        by_ihc: values for particular IHC keys.
        otherwise: the value for every other IHC key (None = unknown).
    """

    by_ihc: tuple[tuple[str, bool | None], ...]
    otherwise: bool | None

    def value_for(self, ihc_key: str) -> bool | None:
        """The cell's value for one IHC key."""
        return dict(self.by_ihc).get(ihc_key, self.otherwise)


@dataclass(frozen=True)
class Row:
    """One row of a decision table.

    Attributes:
        rule_id: unique id, e.g. ``B10`` (her2-rules.md tables).
        ihc: the IHC keys the row covers.
        ish: the ISH categories the row covers.
        status: the HER2 status it gives.
        her2_low: the HER2-low column.
        ultralow: the HER2-ultralow column.
        next_step: the follow-up it requires, if any.
        source: the guideline figure or project rule it encodes.
        statement: what it says, in plain language.
    """

    rule_id: str
    ihc: tuple[str, ...]
    ish: tuple[str, ...]
    status: Status
    her2_low: Cell
    ultralow: Cell
    next_step: NextStep | None
    source: str
    statement: str


@dataclass(frozen=True)
class Table:
    """A decision table: (IHC key, ISH category) → exactly one row."""

    name: str
    rows: tuple[Row, ...]
    index: Mapping[tuple[str, str], Row]

    def row(self, ihc_key: str, ish_category: str) -> Row:
        """The row for one combination (complete by construction)."""
        return self.index[(ihc_key, ish_category)]


@dataclass(frozen=True)
class Thresholds:
    """The numeric thresholds (her2-rules.md section 1: ``>=`` is inclusive)."""

    her2_cep17_ratio: Decimal
    avg_her2_copies_low: Decimal
    avg_her2_copies_high: Decimal
    min_cells_counted: int
    ratio_tolerance_percent: Decimal


@dataclass(frozen=True, eq=False)
class RuleSet:
    """One version of the HER2 rules, loaded from its data file (``ruleset_load``).

    Two rule sets are equal when id, version and content fingerprint agree.

    Attributes:
        id: the rule set's code (``her2-status-rules``).
        version: its version; results and outputs carry it.
        guidelines: the guidelines it implements.
        thresholds: numeric thresholds.
        breast: the breast table (her2-rules.md section 4).
        gastroesophageal: the gastroesophageal table (section 5).
        other: the other-site table (section 6).
        next_step_rank: priority of every next step (section 8; lower first).
        final_compatible_steps: next steps that allow a final interpretation (11).
        final_statuses: statuses that allow a final interpretation (section 11).
        required_comments: the mandatory report comment per breast ISH group.
        fingerprint: SHA-256 of the file's canonical content.
    """

    id: str
    version: str
    guidelines: tuple[str, ...]
    thresholds: Thresholds
    breast: Table
    gastroesophageal: Table
    other: Table
    next_step_rank: Mapping[NextStep, int]
    final_compatible_steps: frozenset[NextStep]
    final_statuses: frozenset[Status]
    required_comments: Mapping[int, str]
    fingerprint: str

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleSet):
            return NotImplemented
        return (self.id, self.version, self.fingerprint) == (
            other.id,
            other.version,
            other.fingerprint,
        )

    def __hash__(self) -> int:
        return hash((self.id, self.version, self.fingerprint))

    @property
    def label(self) -> str:
        """``id version``, as outputs name it."""
        return f"{self.id} {self.version}"


def reachable(table: str) -> Iterator[tuple[str, str]]:
    """Every (IHC key, ISH category) the engine can look up in one table.

    Mirrors the engine's primitives: no IHC and no ISH never reaches a table
    (``missing_data``); breast groups 2-4 with IHC 2+ are looked up by their
    recount state, never as plain ``G2-4``, and only IHC 2+ has recount states.
    """
    categories = {"breast": BREAST_ISH, "gastroesophageal": GASTRO_ISH, "other": OTHER_ISH}[table]
    for ihc in IHC_KEYS:
        for ish in categories:
            if (ihc, ish) == ("none", "none"):
                continue
            if table == "breast":
                two_plus = ihc in IHC_2PLUS_KEYS
                if ish in RECOUNT_STATES and not two_plus:
                    continue
                if ish == "G2-4" and two_plus:
                    continue
            yield ihc, ish


__all__ = [
    "BREAST_GROUPS_WITH_COMMENT",
    "BREAST_ISH",
    "GASTRO_ISH",
    "IHC_2PLUS_KEYS",
    "IHC_KEYS",
    "OTHER_ISH",
    "RECOUNT_STATES",
    "SAME_TISSUE_CATEGORIES",
    "Cell",
    "Row",
    "RuleSet",
    "RuleSetError",
    "Table",
    "Thresholds",
    "reachable",
]

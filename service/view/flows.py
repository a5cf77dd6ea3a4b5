"""The guideline's algorithms as trees of steps (her2-rules.md sections 3-11).

Each tree follows one figure of the guideline, and every leaf names the row of the
rule set's table it stands for (``B1`` … ``B28``, ``BQ1`` … ``BQ3``, ``G1`` … ``G11``,
``GQ1`` … ``GQ3``, ``O1``, ``O2``), so that the path a result took is found from its
rule ids.  Decision steps that write a rationale line carry its id too (``F2``,
``F3``, ``R1``, ``GR``).  The frame (input checks before the table, flags and the
interpretation status after it) is a separate chain of steps whose ids are the
engine's other rationale ids; together they cover every id the engine writes, which
``tests/unit/view/test_diagram.py`` checks against the rule set.

Where a row can be reached through two IHC branches (gastroesophageal ``G6``, ``G7``,
``GQ3`` with IHC 2+ or without IHC), a step's ``ihc`` guard says which IHC keys lead
through it, so that only the branch the specimen took is highlighted.

The numbers on the edges (ratio, average copies, cells for a recount) are the rule
set's thresholds, never restated here: :func:`figures` draws the trees for one
:class:`~service.her2.ruleset.Thresholds`, so a result of another rule set version is
drawn with the cut-offs that rule set applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from service.her2.numbers import describe
from service.her2.ruleset import Thresholds

# IHC keys of the rule set's tables (service.her2.ruleset IHC keys).
_POS = frozenset({"3+", "positive-call"})
_EQ = frozenset({"2+", "equivocal-call"})
_NEG = frozenset({"1+", "0", "0-unassessed", "0-ultralow", "negative-call"})
_NONE = frozenset({"none"})


@dataclass(frozen=True)
class Step:
    """One box of an algorithm tree.

    Attributes:
        key: unique within its tree (used for element ids).
        label: the guideline's wording, fixed text.
        kind: ``decision``, ``outcome`` or ``check`` (drawn differently).
        rule_ids: the rationale ids that mean this step was taken.
        edge: the label of the edge from the parent to this step.
        shows: which input values to print on the step when it is taken
            (keys of ``diagram.Values``).
        ihc: the IHC keys that lead through this step (None: any).
        children: the steps that follow.
    """

    key: str
    label: str
    kind: str = "decision"
    rule_ids: tuple[str, ...] = ()
    edge: str = ""
    shows: tuple[str, ...] = ()
    ihc: frozenset[str] | None = None
    children: tuple[Step, ...] = field(default=())


@dataclass(frozen=True)
class Flow:
    """One figure: a title, a caption (the guideline it follows) and its tree."""

    key: str
    title: str
    source: str
    root: Step


def _out(key: str, rule: str, label: str, edge: str, ihc: frozenset[str] | None = None) -> Step:
    return Step(key, label, "outcome", (rule,), edge, ihc=ihc)


BREAST_IHC = Flow(
    "breast-ihc",
    "Breast: IHC without ISH",
    "ASCO/CAP 2018 Fig 1 (affirmed 2023); HER2-low/ultralow as FDA label sub-classes",
    Step(
        "ihc",
        "IHC score (no ISH result)",
        shows=("ihc",),
        children=(
            _out("b1", "B1", "Positive", "3+"),
            _out("b2", "B2", "Equivocal: order reflex ISH", "2+"),
            _out("b3", "B3", "Negative (HER2-low)", "1+"),
            _out("b4", "B4", "Negative (HER2-0)", "0 (null)"),
            _out("b5", "B5", "Negative (HER2-ultralow)", "0 with faint staining ≤10 %"),
            _out("bq3", "BQ3", "Negative; low/ultralow unknown", "reported only Negative"),
        ),
    ),
)

BREAST_EQUIVOCAL_CALL = Flow(
    "breast-ish-call",
    "Breast: ISH reported only as equivocal",
    "her2-rules.md section 5.3 (a pre-2018 ISH category)",
    Step(
        "eqcall",
        "ISH call 'equivocal', no numbers: concurrent IHC",
        shows=("ihc",),
        children=(
            _out("bq1", "BQ1", "Positive (the ISH call is moot)", "3+"),
            _out("bq2", "BQ2", "Equivocal: concurrent IHC review", "anything else"),
        ),
    ),
)


OTHER = Flow(
    "other",
    "Other tumour sites",
    "her2-rules.md section 6 (tumour-agnostic T-DXd label: IHC 3+ only)",
    Step(
        "oihc",
        "IHC score (no site-specific guideline)",
        shows=("ihc",),
        children=(
            _out("o1", "O1", "Positive", "3+"),
            _out("o2", "O2", "Indeterminate: no site-specific guideline", "anything else"),
        ),
    ),
)


def _cuts(t: Thresholds) -> tuple[str, str, str]:
    """The ratio cut and the low and high average-copy cuts, as the engine writes them."""
    return (
        describe(t.her2_cep17_ratio),
        describe(t.avg_her2_copies_low),
        describe(t.avg_her2_copies_high),
    )


def _recount(cells: int) -> Step:
    """The blinded recount of groups 2-4 (at least ``cells`` cells)."""
    return Step(
        "recount",
        f"Blinded second observer recounts ≥ {cells} cells",
        rule_ids=("R1",),
        edge="2+",
        shows=("recount",),
        children=(
            _out("b11", "B11", "Equivocal: recount by a blinded observer", "no recount yet"),
            _out("b12", "B12", "Negative with the required comment", "still group 2"),
            _out("b13", "B13", "Positive", "still group 3"),
            _out("b14", "B14", "Negative with the required comment", "still group 4"),
            _out("b15", "B15", "Equivocal: internal adjudication", "another group"),
        ),
    )


def _breast_dual(t: Thresholds) -> Flow:
    """Breast dual-probe ISH groups 1-5 with the rule set's cut-offs."""
    r, lo, _ = _cuts(t)
    return Flow(
        "breast-dual",
        "Breast: dual-probe ISH groups 1-5 and their workup",
        "ASCO/CAP 2018 Fig 3 (groups), Fig 4-6 (groups 2-4: concurrent IHC, blinded recount)",
        Step(
            "dual",
            "Dual-probe ISH: HER2/CEP17 ratio, then average HER2 copies",
            rule_ids=("F3",),
            shows=("ratio", "her2", "cep17", "cells"),
            children=(
                Step(
                    "g1",
                    "Group 1: concurrent IHC",
                    edge=f"ratio ≥ {r}, HER2 ≥ {lo}",
                    shows=("group", "ihc"),
                    children=(
                        _out("b6", "B6", "Positive", "3+, 2+ or none"),
                        _out("b7", "B7", "Positive; IHC disagrees: pathologist review", "0 or 1+"),
                    ),
                ),
                Step(
                    "g234",
                    "Groups 2, 3, 4: concurrent IHC on the same tissue",
                    edge="group 2, 3 or 4",
                    shows=("group", "ihc"),
                    children=(
                        _out("b8", "B8", "Equivocal: concurrent IHC review", "none / other tissue"),
                        _out("b9", "B9", "Positive", "3+"),
                        _out("b10", "B10", "Negative with the required comment", "0 or 1+"),
                        _recount(t.min_cells_counted),
                    ),
                ),
                Step(
                    "g5",
                    "Group 5: concurrent IHC",
                    edge=f"ratio < {r}, HER2 < {lo}",
                    shows=("group", "ihc"),
                    children=(
                        _out("b16", "B16", "Negative", "0, 1+ or 2+"),
                        _out("b17", "B17", "Negative; order IHC for the low class", "none"),
                        _out("b18", "B18", "Positive; ISH disagrees: pathologist review", "3+"),
                    ),
                ),
            ),
        ),
    )


def _breast_single(t: Thresholds) -> Flow:
    """Breast single-probe ISH with the rule set's cut-offs."""
    _, lo, hi = _cuts(t)
    return Flow(
        "breast-single",
        "Breast: single-probe ISH",
        "ASCO/CAP 2018 Fig 2",
        Step(
            "single",
            "Single-probe ISH: average HER2 signals per cell",
            rule_ids=("F2",),
            shows=("her2", "cells"),
            children=(
                Step(
                    "s6",
                    f"≥ {hi}: concurrent IHC",
                    edge=f"≥ {hi}",
                    shows=("ihc",),
                    children=(
                        _out("b19", "B19", "Positive", "3+ or 2+"),
                        _out("b20", "B20", "Positive; concurrent IHC review advised", "none"),
                        _out(
                            "b21", "B21", "Positive; IHC disagrees: pathologist review", "0 or 1+"
                        ),
                    ),
                ),
                Step(
                    "s46",
                    f"{lo} to < {hi}: concurrent IHC",
                    edge=f"≥ {lo} and < {hi}",
                    shows=("ihc",),
                    children=(
                        _out("b22", "B22", "Positive", "3+"),
                        _out("b23", "B23", "Equivocal: order dual-probe ISH", "2+"),
                        _out("b24", "B24", "Negative", "0 or 1+"),
                        _out("b25", "B25", "Equivocal: order IHC and/or dual-probe ISH", "none"),
                    ),
                ),
                Step(
                    "s4",
                    f"< {lo}: concurrent IHC",
                    edge=f"< {lo}",
                    shows=("ihc",),
                    children=(
                        _out("b26", "B26", "Negative", "0, 1+ or 2+"),
                        _out("b27", "B27", "Negative; order IHC for the low class", "none"),
                        _out("b28", "B28", "Positive; ISH disagrees: pathologist review", "3+"),
                    ),
                ),
            ),
        ),
    )


def _gastro_ish(key: str, edge: str, ihc: frozenset[str], r: str, leaves: tuple[Step, ...]) -> Step:
    return Step(
        key,
        f"ISH (dual-probe ratio; copies only when < {r})",
        rule_ids=("GR",),
        edge=edge,
        shows=("ratio", "her2"),
        ihc=ihc,
        children=leaves,
    )


def _gastro(t: Thresholds) -> Flow:
    """The gastroesophageal figure with the rule set's cut-offs."""
    r, _, hi = _cuts(t)
    return Flow(
        "gastro",
        "Gastroesophageal adenocarcinoma: IHC first, ISH for IHC 2+",
        "CAP/ASCP/ASCO 2016 (Bartley et al.); no HER2-low, no ISH groups",
        Step(
            "gihc",
            "IHC score (Rüschoff/Hofmann)",
            shows=("ihc",),
            children=(
                _gastro_ish(
                    "gi3",
                    "3+",
                    _POS,
                    r,
                    (
                        _out("g1", "G1", "Positive", f"none, single, ratio ≥ {r}", _POS),
                        _out("g2", "G2", "Positive; ISH disagrees: review", f"ratio < {r}", _POS),
                        _out(
                            "gq1", "GQ1", "Positive; ISH equivocal call: review", "call only", _POS
                        ),
                    ),
                ),
                _gastro_ish(
                    "gi2",
                    "2+",
                    _EQ,
                    r,
                    (
                        _out("g5", "G5", "Equivocal: order reflex ISH", "no ISH", _EQ),
                        _out("g6a", "G6", "Positive", f"ratio ≥ {r}", _EQ),
                        _out(
                            "g7a", "G7", "Equivocal: pathologist review", f"< {r}, HER2 ≥ {hi}", _EQ
                        ),
                        _out("g8", "G8", "Negative", f"< {r}, HER2 < {hi}", _EQ),
                        _out("g10", "G10", "Equivocal: pathologist review", "single-probe", _EQ),
                        _out("gq3a", "GQ3", "Equivocal: pathologist review", "call only", _EQ),
                    ),
                ),
                _gastro_ish(
                    "gi1",
                    "0 or 1+",
                    _NEG,
                    r,
                    (
                        _out("g3", "G3", "Negative", f"none, single, ratio < {r}", _NEG),
                        _out("g4", "G4", "Negative; ISH disagrees: review", f"ratio ≥ {r}", _NEG),
                        _out(
                            "gq2", "GQ2", "Negative; ISH equivocal call: review", "call only", _NEG
                        ),
                    ),
                ),
                _gastro_ish(
                    "gi0",
                    "no IHC",
                    _NONE,
                    r,
                    (
                        _out("g6b", "G6", "Positive", f"ratio ≥ {r}", _NONE),
                        _out(
                            "g7b",
                            "G7",
                            "Equivocal: pathologist review",
                            f"< {r}, HER2 ≥ {hi}",
                            _NONE,
                        ),
                        _out("g9", "G9", "Negative; order IHC", f"< {r}, HER2 < {hi}", _NONE),
                        _out("g11", "G11", "Equivocal: order IHC", "single-probe", _NONE),
                        _out("gq3b", "GQ3", "Equivocal: pathologist review", "call only", _NONE),
                    ),
                ),
            ),
        ),
    )


# The frame: what happens before and after the site's table, in the engine's order.
FRAME = Flow(
    "frame",
    "Checks before and after the table",
    "her2-rules.md sections 3, 5.3, 7, 10 and 11",
    Step(
        "frame",
        "Specimen",
        kind="check",
        children=(
            Step(
                "checks",
                "Input checks (§3)",
                "check",
                ("V0", "V1", "V2", "V3", "V4", "V5", "V6", "V7"),
            ),
            Step("site", "Tumour site unknown: both rule sets (§7)", "check", ("U1", "U2")),
            Step("calls", "Result reported only as a call (§5.3)", "check", ("Q1", "Q2")),
            Step("discord", "Lab call contradicts the numbers (§5.3)", "check", ("D1", "D2")),
            Step("unused", "Supplied but not used by this step", "check", ("R0", "O3")),
            Step("comment", "Required report comment (Fig 4-6)", "check", ("RC",)),
            Step("hetero", "Earlier specimens differ (§10)", "check", ("H0", "H1")),
            Step("final", "Interpretation final or preliminary (§11)", "check", ("S11",)),
        ),
    ),
)


@dataclass(frozen=True)
class Figures:
    """The figures of every site, drawn with one rule set's thresholds."""

    breast: tuple[Flow, ...]
    gastroesophageal: tuple[Flow, ...]
    other: tuple[Flow, ...]


@lru_cache(maxsize=8)
def figures(thresholds: Thresholds) -> Figures:
    """The figures with the cut-offs of one rule set (a few rule sets: bounded cache).

    Args:
        thresholds: the rule set's thresholds (``RuleSet.thresholds``).
    """
    return Figures(
        breast=(
            BREAST_IHC,
            _breast_dual(thresholds),
            _breast_single(thresholds),
            BREAST_EQUIVOCAL_CALL,
        ),
        gastroesophageal=(_gastro(thresholds),),
        other=(OTHER,),
    )


def walk(step: Step) -> list[Step]:
    """Every step of a tree, depth first."""
    found = [step]
    for child in step.children:
        found.extend(walk(child))
    return found


__all__ = [
    "FRAME",
    "Figures",
    "Flow",
    "Step",
    "figures",
    "walk",
]
